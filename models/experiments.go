package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/codexion/codexion/connectors/objectstore"
	"github.com/codexion/codexion/platform"
)

// ArtifactScheme is the scheme of artifact locations that Codexion serves itself: MLflow
// clients resolve "mlflow-artifacts:/path" to the tracking server's proxied artifact API, so
// every artifact goes through Codexion and gets its digest recorded.
const ArtifactScheme = "mlflow-artifacts:"

// Store keeps the registry's metadata in PostgreSQL and its artifacts in object storage.
type Store struct {
	db      *pgxpool.Pool
	objects *objectstore.Store
	now     func() time.Time
}

// NewStore returns the registry over db and objects.
func NewStore(db *pgxpool.Pool, objects *objectstore.Store) *Store {
	return &Store{db: db, objects: objects, now: time.Now}
}

func (s *Store) nowMS() int64 { return s.now().UnixMilli() }

// experimentID parses an experiment id as MLflow sends it (a decimal string).
func experimentID(field, id string) (int64, error) {
	if id == "" {
		return 0, invalidField(field, "Missing value for required parameter '%s'", field)
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 {
		return 0, invalidField(field, "%s %q is not an experiment id: ids are decimal numbers", field, id)
	}
	return n, nil
}

// invalidField is an Invalid error naming the field to fix.
func invalidField(field, format string, args ...any) *platform.Error {
	e := platform.Invalid(format, args...)
	e.Fields = []platform.FieldError{{Field: field, Message: e.Message}}
	return e
}

func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

// CreateExperiment creates an experiment and returns its id. The artifact location, when
// given, must be under Codexion's own artifact store.
func (s *Store) CreateExperiment(ctx context.Context, name, artifactLocation string, tags []Tag) (string, error) {
	if err := checkName("name", name, MaxExperimentNameBytes); err != nil {
		return "", err
	}
	if artifactLocation != "" {
		if err := checkArtifactLocation(artifactLocation); err != nil {
			return "", err
		}
	}
	if err := checkTags("tags", tags, MaxRegistryTagValueBytes); err != nil {
		return "", err
	}
	now := s.nowMS()
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			WITH next AS (SELECT nextval(pg_get_serial_sequence('models_experiments', 'experiment_id')) AS id)
			INSERT INTO models_experiments (experiment_id, name, artifact_location, creation_time_ms, last_update_time_ms)
			SELECT id, $1, coalesce(nullif($2, ''), 'mlflow-artifacts:/' || id), $3, $3 FROM next
			RETURNING experiment_id`, name, artifactLocation, now).Scan(&id)
		if err != nil {
			return err
		}
		return upsertTags(ctx, tx, "models_experiment_tags", "experiment_id", id, tags)
	})
	if isUniqueViolation(err, "models_experiments_name") {
		return "", CodeExperimentExists.New("Experiment '%s' already exists.", name)
	}
	if err != nil {
		return "", fmt.Errorf("create experiment %q: %w", name, err)
	}
	return strconv.FormatInt(id, 10), nil
}

func checkArtifactLocation(loc string) error {
	if !strings.HasPrefix(loc, ArtifactScheme) {
		return invalidField("artifact_location", "artifact_location %q is not served by Codexion: leave it empty, or give a %s/ location, so artifacts go through the registry and their digests are kept", loc, ArtifactScheme)
	}
	if _, err := artifactKey(strings.TrimPrefix(loc, ArtifactScheme)); err != nil {
		return err
	}
	return nil
}

const experimentColumns = `experiment_id::text, name, artifact_location, lifecycle_stage, last_update_time_ms, creation_time_ms,
	coalesce((SELECT jsonb_agg(jsonb_build_object('key', key, 'value', value) ORDER BY key) FROM models_experiment_tags t
		WHERE t.experiment_id = e.experiment_id), '[]')`

func scanExperiment(row pgx.Row) (Experiment, error) {
	var e Experiment
	err := row.Scan(&e.ExperimentID, &e.Name, &e.ArtifactLocation, &e.LifecycleStage, &e.LastUpdateTime, &e.CreationTime, &e.Tags)
	if len(e.Tags) == 0 {
		e.Tags = nil
	}
	return e, err
}

// GetExperiment returns the experiment with id, active or deleted.
func (s *Store) GetExperiment(ctx context.Context, id string) (Experiment, error) {
	n, err := experimentID("experiment_id", id)
	if err != nil {
		return Experiment{}, err
	}
	e, err := scanExperiment(s.db.QueryRow(ctx, `SELECT `+experimentColumns+` FROM models_experiments e WHERE experiment_id = $1`, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return Experiment{}, CodeExperimentNotFound.New("No Experiment with id=%s exists", id)
	}
	return e, err
}

// GetExperimentByName returns the experiment named name.
func (s *Store) GetExperimentByName(ctx context.Context, name string) (Experiment, error) {
	if name == "" {
		return Experiment{}, invalidField("experiment_name", "Missing value for required parameter 'experiment_name'")
	}
	e, err := scanExperiment(s.db.QueryRow(ctx, `SELECT `+experimentColumns+` FROM models_experiments e WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Experiment{}, CodeExperimentNotFound.New("Could not find experiment with name '%s'", name)
	}
	return e, err
}

// UpdateExperiment renames an active experiment.
func (s *Store) UpdateExperiment(ctx context.Context, id, newName string) error {
	n, err := experimentID("experiment_id", id)
	if err != nil {
		return err
	}
	if newName == "" {
		return nil // MLflow treats an update without a name as nothing to do
	}
	if err := checkName("new_name", newName, MaxExperimentNameBytes); err != nil {
		return err
	}
	return s.experimentChange(ctx, n, id, true, `UPDATE models_experiments SET name = $2, last_update_time_ms = $3 WHERE experiment_id = $1`, newName, s.nowMS())
}

// experimentChange runs stmt (with $1 the experiment id) after checking the experiment
// exists and, when mustBeActive, is not deleted.
// A statement that changes no row (a tag that is not there) is NotFound.
func (s *Store) experimentChange(ctx context.Context, n int64, id string, mustBeActive bool, stmt string, args ...any) error {
	return s.experimentChangeIn(ctx, n, id, func(stage string) error {
		if mustBeActive && stage != StageActive {
			return CodeInactive.New("The experiment %s must be in the 'active' state. Current state is %s.", id, stage)
		}
		return nil
	}, stmt, args...)
}

// experimentChangeIn is experimentChange with the check of the experiment's stage given.
func (s *Store) experimentChangeIn(ctx context.Context, n int64, id string, check func(stage string) error, stmt string, args ...any) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var stage string
		err := tx.QueryRow(ctx, `SELECT lifecycle_stage FROM models_experiments WHERE experiment_id = $1 FOR UPDATE`, n).Scan(&stage)
		if errors.Is(err, pgx.ErrNoRows) {
			return CodeExperimentNotFound.New("No Experiment with id=%s exists", id)
		}
		if err != nil {
			return err
		}
		if err := check(stage); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, stmt, append([]any{n}, args...)...)
		if err == nil && tag.RowsAffected() == 0 {
			return CodeExperimentNotFound.New("No tag with name: %v in experiment with id %s", args[0], id)
		}
		return err
	})
	if isUniqueViolation(err, "models_experiments_name") {
		return CodeExperimentExists.New("Experiment '%s' already exists.", args[0])
	}
	return err
}

// DeleteExperiment marks the experiment and its runs deleted; RestoreExperiment undoes it.
// The Default experiment (0) cannot be deleted.
func (s *Store) DeleteExperiment(ctx context.Context, id string) error {
	n, err := experimentID("experiment_id", id)
	if err != nil {
		return err
	}
	if n == 0 {
		return invalidField("experiment_id", "Cannot delete the default experiment '0'. This is an internally reserved experiment.")
	}
	now := s.nowMS()
	return s.experimentChangeIn(ctx, n, id, onlyIn(StageActive, id), `
		WITH runs AS (UPDATE models_runs SET lifecycle_stage = 'deleted', deleted_time_ms = $2
			WHERE experiment_id = $1 AND lifecycle_stage = 'active')
		UPDATE models_experiments SET lifecycle_stage = 'deleted', last_update_time_ms = $2 WHERE experiment_id = $1`, now)
}

// RestoreExperiment brings a deleted experiment and the runs deleted with it back.
func (s *Store) RestoreExperiment(ctx context.Context, id string) error {
	n, err := experimentID("experiment_id", id)
	if err != nil {
		return err
	}
	return s.experimentChangeIn(ctx, n, id, onlyIn(StageDeleted, id), `
		WITH runs AS (UPDATE models_runs SET lifecycle_stage = 'active', deleted_time_ms = NULL
			WHERE experiment_id = $1 AND lifecycle_stage = 'deleted')
		UPDATE models_experiments SET lifecycle_stage = 'active', last_update_time_ms = $2 WHERE experiment_id = $1`, s.nowMS())
}

// onlyIn lets a change through only for an experiment in stage; MLflow answers the others
// as if the experiment did not exist (deleting a deleted one, restoring an active one).
func onlyIn(stage, id string) func(string) error {
	return func(got string) error {
		if got != stage {
			return CodeExperimentNotFound.New("No Experiment with id=%s exists", id)
		}
		return nil
	}
}

// SetExperimentTag sets a tag on an active experiment.
func (s *Store) SetExperimentTag(ctx context.Context, id, key, value string) error {
	n, err := experimentID("experiment_id", id)
	if err != nil {
		return err
	}
	if err := checkTags("key", []Tag{{Key: key, Value: value}}, MaxRegistryTagValueBytes); err != nil {
		return err
	}
	return s.experimentChange(ctx, n, id, true, `INSERT INTO models_experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (experiment_id, key) DO UPDATE SET value = EXCLUDED.value`, key, value)
}

// DeleteExperimentTag removes a tag from an active experiment; a missing tag is an error.
func (s *Store) DeleteExperimentTag(ctx context.Context, id, key string) error {
	n, err := experimentID("experiment_id", id)
	if err != nil {
		return err
	}
	return s.experimentChange(ctx, n, id, true, `DELETE FROM models_experiment_tags WHERE experiment_id = $1 AND key = $2`, key)
}

// upsertTags sets tags on the row owner of table in tx.
func upsertTags(ctx context.Context, tx pgx.Tx, table, ownerColumn string, owner any, tags []Tag) error {
	if len(tags) == 0 {
		return nil
	}
	tags = dedupeTags(tags)
	keys, values := make([]string, len(tags)), make([]string, len(tags))
	for i, t := range tags {
		keys[i], values[i] = t.Key, t.Value
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+table+` (`+ownerColumn+`, key, value)
		SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)
		ON CONFLICT (`+ownerColumn+`, key) DO UPDATE SET value = EXCLUDED.value`, owner, keys, values)
	return err
}

// dedupeTags keeps the last value of each key, in first-seen order: ON CONFLICT cannot set
// one row twice in a statement.
func dedupeTags(tags []Tag) []Tag {
	at := make(map[string]int, len(tags))
	out := make([]Tag, 0, len(tags))
	for _, t := range tags {
		if i, ok := at[t.Key]; ok {
			out[i].Value = t.Value
			continue
		}
		at[t.Key] = len(out)
		out = append(out, t)
	}
	return out
}
