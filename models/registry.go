package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Version statuses.
const (
	VersionPending = "PENDING_REGISTRATION"
	VersionFailed  = "FAILED_REGISTRATION"
	VersionReady   = "READY"
)

// Stages of the stage-based workflow older MLflow clients use beside aliases.
var stages = []string{"None", "Staging", "Production", "Archived"}

// Alias names a version of a registered model ("champion").
type Alias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

// RegisteredModel is a named model with versions.
type RegisteredModel struct {
	Name                 string         `json:"name"`
	CreationTimestamp    int64          `json:"creation_timestamp"`
	LastUpdatedTimestamp int64          `json:"last_updated_timestamp"`
	UserID               string         `json:"user_id,omitempty"`
	Description          string         `json:"description,omitempty"`
	LatestVersions       []ModelVersion `json:"latest_versions,omitempty"`
	Tags                 []Tag          `json:"tags,omitempty"`
	Aliases              []Alias        `json:"aliases,omitempty"`
}

// ModelVersion is one version of a registered model.
type ModelVersion struct {
	Name                 string   `json:"name"`
	Version              string   `json:"version"`
	CreationTimestamp    int64    `json:"creation_timestamp"`
	LastUpdatedTimestamp int64    `json:"last_updated_timestamp"`
	UserID               string   `json:"user_id,omitempty"`
	CurrentStage         string   `json:"current_stage"`
	Description          string   `json:"description,omitempty"`
	Source               string   `json:"source"`
	RunID                string   `json:"run_id,omitempty"`
	Status               string   `json:"status"`
	StatusMessage        string   `json:"status_message,omitempty"`
	Tags                 []Tag    `json:"tags,omitempty"`
	RunLink              string   `json:"run_link,omitempty"`
	Aliases              []string `json:"aliases,omitempty"`
	ModelID              string   `json:"model_id,omitempty"`
	// Lineage is Codexion's record of what made the version (training set, trainer,
	// parameters, signature, evaluation, model card); MLflow clients ignore it.
	Lineage json.RawMessage `json:"codexion_lineage,omitempty"`
}

func versionNumber(field, v string) (int32, error) {
	if v == "" {
		return 0, invalidField(field, "Missing value for required parameter '%s'", field)
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 1 {
		return 0, invalidField(field, "Parameter '%s' must be a positive integer version, got '%s'", field, truncate(v))
	}
	return int32(n), nil
}

func checkModelName(field, name string) error {
	if err := checkName(field, name, MaxModelNameBytes); err != nil {
		return err
	}
	if strings.ContainsAny(name, "/:%") {
		return invalidField(field, "Invalid model name '%s': names may not contain '/', ':' or '%%' (they appear in models:/ URIs)", truncate(name))
	}
	return nil
}

// CreateRegisteredModel creates a model with no versions.
func (s *Store) CreateRegisteredModel(ctx context.Context, name, description, userID string, tags []Tag) (RegisteredModel, error) {
	if err := checkModelName("name", name); err != nil {
		return RegisteredModel{}, err
	}
	if err := checkValue("description", "Model", name, description, MaxDescriptionBytes); err != nil {
		return RegisteredModel{}, err
	}
	if err := checkTags("tags", tags, MaxRegistryTagValueBytes); err != nil {
		return RegisteredModel{}, err
	}
	now := s.nowMS()
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO models_registered (name, description, user_id, creation_time_ms, last_updated_time_ms)
			VALUES ($1, $2, $3, $4, $4)`, name, description, userID, now); err != nil {
			return err
		}
		return upsertTags(ctx, tx, "models_registered_tags", "name", name, tags)
	})
	if isUniqueViolation(err, "") {
		return RegisteredModel{}, CodeModelExists.New("Registered Model (name=%s) already exists.", name)
	}
	if err != nil {
		return RegisteredModel{}, fmt.Errorf("create registered model %s: %w", name, err)
	}
	return s.GetRegisteredModel(ctx, name)
}

const registeredColumns = `m.name, m.creation_time_ms, m.last_updated_time_ms, m.user_id, m.description,
	(SELECT jsonb_agg(jsonb_build_object('key', key, 'value', value) ORDER BY key) FROM models_registered_tags t WHERE t.name = m.name),
	(SELECT jsonb_agg(jsonb_build_object('alias', alias, 'version', version::text) ORDER BY alias) FROM models_aliases a WHERE a.name = m.name)`

func (s *Store) scanRegistered(ctx context.Context, row pgx.Row) (RegisteredModel, error) {
	var (
		m             RegisteredModel
		tags, aliases []byte
	)
	if err := row.Scan(&m.Name, &m.CreationTimestamp, &m.LastUpdatedTimestamp, &m.UserID, &m.Description, &tags, &aliases); err != nil {
		return m, err
	}
	if err := unmarshalIf(tags, &m.Tags); err != nil {
		return m, err
	}
	if err := unmarshalIf(aliases, &m.Aliases); err != nil {
		return m, err
	}
	return m, nil
}

func unmarshalIf(raw []byte, v any) error {
	if raw == nil {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// GetRegisteredModel returns a model with its latest version per stage, tags and aliases.
func (s *Store) GetRegisteredModel(ctx context.Context, name string) (RegisteredModel, error) {
	if name == "" {
		return RegisteredModel{}, invalidField("name", "Missing value for required parameter 'name'")
	}
	m, err := s.scanRegistered(ctx, s.db.QueryRow(ctx, `SELECT `+registeredColumns+` FROM models_registered m WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return RegisteredModel{}, CodeModelNotFound.New("Registered Model with name=%s not found", name)
	}
	if err != nil {
		return RegisteredModel{}, err
	}
	m.LatestVersions, err = s.LatestVersions(ctx, name, nil)
	return m, err
}

// UpdateRegisteredModel changes a model's description.
func (s *Store) UpdateRegisteredModel(ctx context.Context, name, description string) (RegisteredModel, error) {
	if err := checkValue("description", "Model", name, description, MaxDescriptionBytes); err != nil {
		return RegisteredModel{}, err
	}
	if err := s.modelChange(ctx, name, `UPDATE models_registered SET description = $2, last_updated_time_ms = $3 WHERE name = $1`, description, s.nowMS()); err != nil {
		return RegisteredModel{}, err
	}
	return s.GetRegisteredModel(ctx, name)
}

// RenameRegisteredModel renames a model; its versions, tags and aliases follow.
func (s *Store) RenameRegisteredModel(ctx context.Context, name, newName string) (RegisteredModel, error) {
	if err := checkModelName("new_name", newName); err != nil {
		return RegisteredModel{}, err
	}
	err := s.modelChange(ctx, name, `UPDATE models_registered SET name = $2, last_updated_time_ms = $3 WHERE name = $1`, newName, s.nowMS())
	if isUniqueViolation(err, "") {
		return RegisteredModel{}, CodeModelExists.New("Registered Model (name=%s) already exists.", newName)
	}
	if err != nil {
		return RegisteredModel{}, err
	}
	return s.GetRegisteredModel(ctx, newName)
}

// DeleteRegisteredModel deletes a model with its versions, tags and aliases.
func (s *Store) DeleteRegisteredModel(ctx context.Context, name string) error {
	return s.modelChange(ctx, name, `DELETE FROM models_registered WHERE name = $1`)
}

// SetRegisteredModelTag sets a tag on a model.
func (s *Store) SetRegisteredModelTag(ctx context.Context, name, key, value string) error {
	if err := checkTags("key", []Tag{{Key: key, Value: value}}, MaxRegistryTagValueBytes); err != nil {
		return err
	}
	return s.modelChange(ctx, name, `INSERT INTO models_registered_tags (name, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (name, key) DO UPDATE SET value = EXCLUDED.value`, key, value)
}

// DeleteRegisteredModelTag removes a tag from a model; a missing tag is not an error, as in MLflow.
func (s *Store) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	if key == "" {
		return invalidField("key", "Missing value for required parameter 'key'")
	}
	return s.modelChange(ctx, name, `WITH d AS (DELETE FROM models_registered_tags WHERE name = $1 AND key = $2) SELECT 1`, key)
}

// modelChange runs stmt ($1 the model name) after locking the model and checking it exists.
func (s *Store) modelChange(ctx context.Context, name, stmt string, args ...any) error {
	if name == "" {
		return invalidField("name", "Missing value for required parameter 'name'")
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := lockModel(ctx, tx, name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, stmt, append([]any{name}, args...)...)
		return err
	})
}

func lockModel(ctx context.Context, tx pgx.Tx, name string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM models_registered WHERE name = $1 FOR UPDATE`, name).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return CodeModelNotFound.New("Registered Model with name=%s not found", name)
	}
	return err
}

// NewVersion is what create-model-version asks for.
type NewVersion struct {
	Name        string
	Source      string
	RunID       string
	RunLink     string
	Description string
	ModelID     string
	UserID      string
	Tags        []Tag
	Lineage     json.RawMessage
}

// checkSource refuses a source Codexion cannot vouch for: a version's artifacts must be
// ones stored through Codexion (so their digests are known), named by a run, a logged
// model or an mlflow-artifacts location.
func checkSource(src string) error {
	switch {
	case src == "":
		return invalidField("source", "Missing value for required parameter 'source'")
	case strings.HasPrefix(src, "runs:/"), strings.HasPrefix(src, "models:/m-"):
		rest := src[strings.Index(src, ":/")+2:]
		if rest == "" {
			return invalidField("source", "Invalid model version source '%s': name a run or logged model", truncate(src))
		}
		_, err := artifactKey(rest)
		return err
	case strings.HasPrefix(src, ArtifactScheme):
		_, err := artifactKey(strings.TrimPrefix(src, ArtifactScheme))
		return err
	}
	return invalidField("source", "Invalid model version source '%s': Codexion registers models whose artifacts it stores, named as runs:/RUN_ID/PATH, models:/m-ID or %s/PATH", truncate(src), ArtifactScheme)
}

// resolveSource finds where a version's artifacts are: a logged model's or a run's
// artifact location, or the mlflow-artifacts location given. The run defaults to the one
// that made the logged model or owns the run path.
func resolveSource(ctx context.Context, tx pgx.Tx, source, runID string) (string, string, error) {
	switch {
	case strings.HasPrefix(source, "models:/m-"):
		id := strings.TrimPrefix(source, "models:/")
		var loc, stage, srcRun string
		err := tx.QueryRow(ctx, `SELECT artifact_location, lifecycle_stage, coalesce(source_run_id, '') FROM models_logged_models WHERE model_id = $1`, id).Scan(&loc, &stage, &srcRun)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && stage != StageActive) {
			return "", "", CodeLoggedModelNotFound.New("Logged model with ID '%s' not found.", id)
		}
		if runID == "" {
			runID = srcRun
		}
		return loc, runID, err
	case strings.HasPrefix(source, "runs:/"):
		run, path, _ := strings.Cut(strings.TrimPrefix(source, "runs:/"), "/")
		var uri string
		err := tx.QueryRow(ctx, `SELECT artifact_uri FROM models_runs WHERE run_id = $1`, run).Scan(&uri)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", "", CodeRunNotFound.New("Run with id=%s not found", run)
		}
		if runID == "" {
			runID = run
		}
		if path != "" {
			uri += "/" + path
		}
		return uri, runID, err
	}
	return source, runID, nil
}

// DownloadURI is where a version's artifacts are, as get-download-uri answers.
func (s *Store) DownloadURI(ctx context.Context, name, version string) (string, error) {
	if _, err := s.GetModelVersion(ctx, name, version); err != nil {
		return "", err
	}
	n, _ := versionNumber("version", version)
	var loc string
	err := s.db.QueryRow(ctx, `SELECT storage_location FROM models_versions WHERE name = $1 AND version = $2`, name, n).Scan(&loc)
	return loc, err
}

// CreateModelVersion adds the next version of a model, READY at once: its artifacts are
// already in storage.
func (s *Store) CreateModelVersion(ctx context.Context, nv NewVersion) (ModelVersion, error) {
	if nv.Name == "" {
		return ModelVersion{}, invalidField("name", "Missing value for required parameter 'name'")
	}
	if err := checkSource(nv.Source); err != nil {
		return ModelVersion{}, err
	}
	if err := checkValue("description", "Model version", nv.Name, nv.Description, MaxDescriptionBytes); err != nil {
		return ModelVersion{}, err
	}
	if err := checkTags("tags", nv.Tags, MaxRegistryTagValueBytes); err != nil {
		return ModelVersion{}, err
	}
	now := s.nowMS()
	var version int32
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := lockModel(ctx, tx, nv.Name); err != nil {
			return err
		}
		storage, runID, err := resolveSource(ctx, tx, nv.Source, nv.RunID)
		if err != nil {
			return err
		}
		var lineage any
		if len(nv.Lineage) > 0 {
			lineage = nv.Lineage
		}
		modelID := nv.ModelID
		if modelID == "" && strings.HasPrefix(nv.Source, "models:/m-") {
			modelID = strings.TrimPrefix(nv.Source, "models:/")
		}
		err = tx.QueryRow(ctx, `INSERT INTO models_versions (name, version, description, user_id, creation_time_ms, last_updated_time_ms,
				source, run_id, run_link, status, storage_location, model_id, lineage)
			SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $4, $5, nullif($6, ''), $7, 'READY', $10, nullif($8, ''), $9
			FROM models_versions WHERE name = $1
			RETURNING version`, nv.Name, nv.Description, nv.UserID, now, nv.Source, runID, nv.RunLink, modelID, lineage, storage).Scan(&version)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE models_registered SET last_updated_time_ms = $2 WHERE name = $1`, nv.Name, now); err != nil {
			return err
		}
		if len(nv.Tags) == 0 {
			return nil
		}
		tags := dedupeTags(nv.Tags)
		keys, values := make([]string, len(tags)), make([]string, len(tags))
		for i, t := range tags {
			keys[i], values[i] = t.Key, t.Value
		}
		_, err = tx.Exec(ctx, `INSERT INTO models_version_tags (name, version, key, value)
			SELECT $1, $2, k, v FROM unnest($3::text[], $4::text[]) AS t(k, v)`, nv.Name, version, keys, values)
		return err
	})
	if err != nil {
		return ModelVersion{}, err
	}
	return s.GetModelVersion(ctx, nv.Name, strconv.Itoa(int(version)))
}

const versionColumns = `v.name, v.version::text, v.creation_time_ms, v.last_updated_time_ms, v.user_id, v.current_stage, v.description,
	v.source, coalesce(v.run_id, ''), v.status, v.status_message, v.run_link, coalesce(v.model_id, ''), v.lineage,
	(SELECT jsonb_agg(jsonb_build_object('key', key, 'value', value) ORDER BY key) FROM models_version_tags t WHERE t.name = v.name AND t.version = v.version),
	(SELECT array_agg(alias ORDER BY alias) FROM models_aliases a WHERE a.name = v.name AND a.version = v.version)`

func scanVersion(row pgx.Row) (ModelVersion, error) {
	var (
		v       ModelVersion
		lineage []byte
		tags    []byte
		aliases []string
	)
	if err := row.Scan(&v.Name, &v.Version, &v.CreationTimestamp, &v.LastUpdatedTimestamp, &v.UserID, &v.CurrentStage, &v.Description,
		&v.Source, &v.RunID, &v.Status, &v.StatusMessage, &v.RunLink, &v.ModelID, &lineage, &tags, &aliases); err != nil {
		return v, err
	}
	if lineage != nil {
		v.Lineage = lineage
	}
	v.Aliases = aliases
	return v, unmarshalIf(tags, &v.Tags)
}

// GetModelVersion returns one version of a model.
func (s *Store) GetModelVersion(ctx context.Context, name, version string) (ModelVersion, error) {
	if name == "" {
		return ModelVersion{}, invalidField("name", "Missing value for required parameter 'name'")
	}
	n, err := versionNumber("version", version)
	if err != nil {
		return ModelVersion{}, err
	}
	v, err := scanVersion(s.db.QueryRow(ctx, `SELECT `+versionColumns+` FROM models_versions v WHERE name = $1 AND version = $2 AND deleted_time_ms IS NULL`, name, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return ModelVersion{}, CodeVersionNotFound.New("Model Version (name=%s, version=%s) not found", name, version)
	}
	return v, err
}

// LatestVersions returns, for each stage asked (all when none), the highest version in it.
func (s *Store) LatestVersions(ctx context.Context, name string, stagesAsked []string) ([]ModelVersion, error) {
	want := make([]string, 0, len(stagesAsked))
	for _, st := range stagesAsked {
		canon, err := canonicalStage(st)
		if err != nil {
			return nil, err
		}
		want = append(want, canon)
	}
	if len(want) == 0 {
		want = stages
	}
	rows, err := s.db.Query(ctx, `SELECT `+versionColumns+` FROM models_versions v
		WHERE name = $1 AND current_stage = ANY($2::text[]) AND deleted_time_ms IS NULL
		  AND version = (SELECT max(version) FROM models_versions w WHERE w.name = v.name AND w.current_stage = v.current_stage AND w.deleted_time_ms IS NULL)
		ORDER BY version`, name, want)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ModelVersion, error) { return scanVersion(row) })
}

func canonicalStage(st string) (string, error) {
	for _, known := range stages {
		if strings.EqualFold(st, known) {
			return known, nil
		}
	}
	return "", invalidField("stage", "Invalid Model Version stage: %s. Value must be one of None, Staging, Production, Archived.", truncate(st))
}

// versionChange runs stmt ($1 name, $2 version) after locking the version.
func (s *Store) versionChange(ctx context.Context, name, version, stmt string, args ...any) error {
	if name == "" {
		return invalidField("name", "Missing value for required parameter 'name'")
	}
	n, err := versionNumber("version", version)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM models_versions WHERE name = $1 AND version = $2 AND deleted_time_ms IS NULL FOR UPDATE`, name, n).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return CodeVersionNotFound.New("Model Version (name=%s, version=%s) not found", name, version)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, stmt, append([]any{name, n}, args...)...)
		return err
	})
}

// UpdateModelVersion changes a version's description.
func (s *Store) UpdateModelVersion(ctx context.Context, name, version, description string) (ModelVersion, error) {
	if err := checkValue("description", "Model version", name, description, MaxDescriptionBytes); err != nil {
		return ModelVersion{}, err
	}
	if err := s.versionChange(ctx, name, version, `UPDATE models_versions SET description = $3, last_updated_time_ms = $4 WHERE name = $1 AND version = $2`,
		description, s.nowMS()); err != nil {
		return ModelVersion{}, err
	}
	return s.GetModelVersion(ctx, name, version)
}

// DeleteModelVersion deletes a version and the aliases that pointed at it. The row stays,
// hidden, with its lineage, and its number is never given again.
func (s *Store) DeleteModelVersion(ctx context.Context, name, version string) error {
	return s.versionChange(ctx, name, version, `
		WITH a AS (DELETE FROM models_aliases WHERE name = $1 AND version = $2)
		UPDATE models_versions SET deleted_time_ms = $3, last_updated_time_ms = $3 WHERE name = $1 AND version = $2`, s.nowMS())
}

// SetModelVersionTag sets a tag on a version.
func (s *Store) SetModelVersionTag(ctx context.Context, name, version, key, value string) error {
	if err := checkTags("key", []Tag{{Key: key, Value: value}}, MaxRegistryTagValueBytes); err != nil {
		return err
	}
	return s.versionChange(ctx, name, version, `INSERT INTO models_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name, version, key) DO UPDATE SET value = EXCLUDED.value`, key, value)
}

// DeleteModelVersionTag removes a tag from a version.
func (s *Store) DeleteModelVersionTag(ctx context.Context, name, version, key string) error {
	if key == "" {
		return invalidField("key", "Missing value for required parameter 'key'")
	}
	return s.versionChange(ctx, name, version, `DELETE FROM models_version_tags WHERE name = $1 AND version = $2 AND key = $3`, key)
}

// TransitionStage moves a version to a stage; archiving the others in that stage when asked.
func (s *Store) TransitionStage(ctx context.Context, name, version, stage string, archiveExisting bool) (ModelVersion, error) {
	canon, err := canonicalStage(stage)
	if err != nil {
		return ModelVersion{}, err
	}
	if archiveExisting && canon != "Staging" && canon != "Production" {
		return ModelVersion{}, invalidField("archive_existing_versions", "Model version transition cannot archive existing model versions because '%s' is not an Active stage. Valid stages are ['Staging', 'Production']", canon)
	}
	archive := archiveExisting
	now := s.nowMS()
	if err := s.versionChange(ctx, name, version, `
		WITH others AS (UPDATE models_versions SET current_stage = 'Archived', last_updated_time_ms = $4
			WHERE $5 AND name = $1 AND version <> $2 AND current_stage = $3 AND deleted_time_ms IS NULL)
		UPDATE models_versions SET current_stage = $3, last_updated_time_ms = $4 WHERE name = $1 AND version = $2`,
		canon, now, archive); err != nil {
		return ModelVersion{}, err
	}
	return s.GetModelVersion(ctx, name, version)
}

// Alias rules, as MLflow's: word characters and dashes, and neither "latest" nor a
// version-like name, which models:/ URIs would read as something else.
var (
	validAlias    = regexp.MustCompile(`^[\w\-]*$`)
	versionLike   = regexp.MustCompile(`^[vV]\d+$`)
	maxAliasBytes = 255
)

func checkAlias(alias string) error {
	switch {
	case alias == "":
		return invalidField("alias", "Registered model alias name cannot be empty.")
	case !validAlias.MatchString(alias):
		return invalidField("alias", "Invalid alias name: '%s'. Names may only contain alphanumerics, underscores (_), and dashes (-).", truncate(alias))
	case len(alias) > maxAliasBytes:
		return invalidField("alias", "'Registered model alias name' exceeds the maximum length of %d characters", maxAliasBytes)
	case strings.EqualFold(alias, "latest"):
		return invalidField("alias", "'latest' alias name (case insensitive) is reserved.")
	case versionLike.MatchString(alias):
		return invalidField("alias", "Version alias name '%s' is reserved.", alias)
	}
	return nil
}

// SetAlias points alias at a version, moving it from any other.
func (s *Store) SetAlias(ctx context.Context, name, alias, version string) error {
	if err := checkAlias(alias); err != nil {
		return err
	}
	return s.versionChange(ctx, name, version, `INSERT INTO models_aliases (name, alias, version) VALUES ($1, $3, $2)
		ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version`, alias)
}

// DeleteAlias removes an alias; a missing one is not an error.
func (s *Store) DeleteAlias(ctx context.Context, name, alias string) error {
	if err := checkAlias(alias); err != nil {
		return err
	}
	return s.modelChange(ctx, name, `DELETE FROM models_aliases WHERE name = $1 AND alias = $2`, alias)
}

// VersionByAlias returns the version an alias points at.
func (s *Store) VersionByAlias(ctx context.Context, name, alias string) (ModelVersion, error) {
	if name == "" {
		return ModelVersion{}, invalidField("name", "Missing value for required parameter 'name'")
	}
	if err := checkAlias(alias); err != nil {
		return ModelVersion{}, err
	}
	v, err := scanVersion(s.db.QueryRow(ctx, `SELECT `+versionColumns+` FROM models_aliases al
		JOIN models_versions v ON v.name = al.name AND v.version = al.version WHERE al.name = $1 AND al.alias = $2`, name, alias))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.GetRegisteredModel(ctx, name); err != nil {
			return ModelVersion{}, err
		}
		return ModelVersion{}, CodeAliasNotFound.New("Registered model alias %s not found.", alias)
	}
	return v, err
}
