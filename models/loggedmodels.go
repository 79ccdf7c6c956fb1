package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Logged model statuses (MLflow 3).
const (
	LoggedModelPending      = "LOGGED_MODEL_PENDING"
	LoggedModelReady        = "LOGGED_MODEL_READY"
	LoggedModelUploadFailed = "LOGGED_MODEL_UPLOAD_FAILED"
)

// MaxLoggedModelsPerPage bounds a logged-model search page; 50 is MLflow's default.
const (
	LoggedModelsPageDefault = 50
	MaxLoggedModelsPerPage  = 1000
)

// LoggedModelInfo is what a logged model is.
type LoggedModelInfo struct {
	ModelID                string         `json:"model_id"`
	ExperimentID           string         `json:"experiment_id"`
	Name                   string         `json:"name"`
	CreationTimestampMS    int64          `json:"creation_timestamp_ms"`
	LastUpdatedTimestampMS int64          `json:"last_updated_timestamp_ms"`
	ArtifactURI            string         `json:"artifact_uri"`
	Status                 string         `json:"status"`
	ModelType              string         `json:"model_type,omitempty"`
	SourceRunID            string         `json:"source_run_id,omitempty"`
	StatusMessage          string         `json:"status_message,omitempty"`
	Tags                   []Tag          `json:"tags,omitempty"`
	Registrations          []Registration `json:"registrations,omitempty"`
}

// Registration names a model version registered from a logged model.
type Registration struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// LoggedModelData is what a logged model carries: its params and the metrics logged for it.
type LoggedModelData struct {
	Params  []Param  `json:"params,omitempty"`
	Metrics []Metric `json:"metrics,omitempty"`
}

// LoggedModel is a model MLflow 3 logged as an entity of its own.
type LoggedModel struct {
	Info LoggedModelInfo `json:"info"`
	Data LoggedModelData `json:"data"`
}

// NewLoggedModel is what create-logged-model asks for.
type NewLoggedModel struct {
	ExperimentID string
	Name         string
	ModelType    string
	SourceRunID  string
	UserID       string
	Params       []Param
	Tags         []Tag
}

// CreateLoggedModel creates a PENDING logged model in an active experiment; its artifacts
// go under the experiment's location, and finalizing marks it READY.
func (s *Store) CreateLoggedModel(ctx context.Context, nm NewLoggedModel) (LoggedModel, error) {
	eid, err := experimentID("experiment_id", nm.ExperimentID)
	if err != nil {
		return LoggedModel{}, err
	}
	if err := checkTags("tags", nm.Tags, MaxTagValueBytes); err != nil {
		return LoggedModel{}, err
	}
	if err := checkParams(nm.Params); err != nil {
		return LoggedModel{}, err
	}
	name := nm.Name
	if name == "" {
		name = generatedRunName()
	}
	if err := checkName("name", name, MaxModelNameBytes); err != nil {
		return LoggedModel{}, err
	}
	id := "m-" + newRunID()
	now := s.nowMS()
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var loc, stage string
		err := tx.QueryRow(ctx, `SELECT artifact_location, lifecycle_stage FROM models_experiments WHERE experiment_id = $1 FOR KEY SHARE`, eid).Scan(&loc, &stage)
		if errors.Is(err, pgx.ErrNoRows) {
			return CodeExperimentNotFound.New("No Experiment with id=%s exists", nm.ExperimentID)
		}
		if err != nil {
			return err
		}
		if stage != StageActive {
			return CodeInactive.New("The experiment %s must be in the 'active' state. Current state is %s.", nm.ExperimentID, stage)
		}
		if nm.SourceRunID != "" {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM models_runs WHERE run_id = $1`, nm.SourceRunID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
				return CodeRunNotFound.New("Run with id=%s not found", nm.SourceRunID)
			} else if err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO models_logged_models (model_id, experiment_id, name, artifact_location, creation_time_ms,
				last_updated_time_ms, status, model_type, source_run_id, user_id)
			VALUES ($1, $2, $3, $4, $5, $5, 'LOGGED_MODEL_PENDING', $6, nullif($7, ''), $8)`,
			id, eid, name, loc+"/models/"+id+"/artifacts", now, nm.ModelType, nm.SourceRunID, nm.UserID); err != nil {
			return err
		}
		if err := upsertTags(ctx, tx, "models_logged_model_tags", "model_id", id, nm.Tags); err != nil {
			return err
		}
		return insertLoggedParams(ctx, tx, id, nm.Params)
	})
	if err != nil {
		return LoggedModel{}, err
	}
	return s.GetLoggedModel(ctx, id, false)
}

func checkParams(params []Param) error {
	if len(params) > MaxEntitiesPerBatch {
		return invalidField("params", "a request holds at most %d params, got %d", MaxEntitiesPerBatch, len(params))
	}
	for _, p := range params {
		if err := checkKey("params", "param", p.Key); err != nil {
			return err
		}
		if err := checkValue("params", "Param", p.Key, p.Value, MaxParamValueBytes); err != nil {
			return err
		}
	}
	return nil
}

func insertLoggedParams(ctx context.Context, tx pgx.Tx, id string, params []Param) error {
	if len(params) == 0 {
		return nil
	}
	tags := make([]Tag, len(params))
	for i, p := range params {
		tags[i] = Tag(p)
	}
	return upsertTags(ctx, tx, "models_logged_model_params", "model_id", id, tags)
}

const loggedModelColumns = `l.model_id, l.experiment_id::text, l.name, l.creation_time_ms, l.last_updated_time_ms, l.artifact_location,
	l.status, l.model_type, coalesce(l.source_run_id, ''), l.status_message, l.lifecycle_stage,
	(SELECT jsonb_agg(jsonb_build_object('key', key, 'value', value) ORDER BY key) FROM models_logged_model_tags t WHERE t.model_id = l.model_id),
	(SELECT jsonb_agg(jsonb_build_object('key', key, 'value', value) ORDER BY key) FROM models_logged_model_params p WHERE p.model_id = l.model_id),
	(SELECT jsonb_agg(jsonb_build_object('name', name, 'version', version::text) ORDER BY name, version) FROM models_versions v
		WHERE v.model_id = l.model_id AND v.deleted_time_ms IS NULL),
	(SELECT jsonb_agg(jsonb_build_object('key', key, 'value', CASE WHEN is_nan THEN to_jsonb('NaN'::text) ELSE to_jsonb(value) END,
		'timestamp', timestamp_ms, 'step', step, 'run_id', run_id, 'model_id', model_id) ORDER BY key, step, timestamp_ms)
		FROM models_metrics m WHERE m.model_id = l.model_id)`

func scanLoggedModel(row pgx.Row) (LoggedModel, string, error) {
	var (
		m                           LoggedModel
		stage                       string
		tags, params, regs, metrics []byte
	)
	i := &m.Info
	if err := row.Scan(&i.ModelID, &i.ExperimentID, &i.Name, &i.CreationTimestampMS, &i.LastUpdatedTimestampMS, &i.ArtifactURI,
		&i.Status, &i.ModelType, &i.SourceRunID, &i.StatusMessage, &stage, &tags, &params, &regs, &metrics); err != nil {
		return m, "", err
	}
	for _, part := range []struct {
		raw []byte
		to  any
	}{{tags, &i.Tags}, {params, &m.Data.Params}, {regs, &i.Registrations}, {metrics, &m.Data.Metrics}} {
		if err := unmarshalIf(part.raw, part.to); err != nil {
			return m, "", fmt.Errorf("logged model %s: %w", i.ModelID, err)
		}
	}
	return m, stage, nil
}

// GetLoggedModel returns a logged model; a deleted one only when allowDeleted.
func (s *Store) GetLoggedModel(ctx context.Context, id string, allowDeleted bool) (LoggedModel, error) {
	if id == "" {
		return LoggedModel{}, invalidField("model_id", "Missing value for required parameter 'model_id'")
	}
	m, stage, err := scanLoggedModel(s.db.QueryRow(ctx, `SELECT `+loggedModelColumns+` FROM models_logged_models l WHERE model_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && stage != StageActive && !allowDeleted) {
		return LoggedModel{}, CodeLoggedModelNotFound.New("Logged model with ID '%s' not found.", id)
	}
	return m, err
}

// loggedModelChange runs fn after locking an active logged model.
func (s *Store) loggedModelChange(ctx context.Context, id string, fn func(tx pgx.Tx) error) error {
	if id == "" {
		return invalidField("model_id", "Missing value for required parameter 'model_id'")
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var stage string
		err := tx.QueryRow(ctx, `SELECT lifecycle_stage FROM models_logged_models WHERE model_id = $1 FOR UPDATE`, id).Scan(&stage)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && stage != StageActive) {
			return CodeLoggedModelNotFound.New("Logged model with ID '%s' not found.", id)
		}
		if err != nil {
			return err
		}
		return fn(tx)
	})
}

// FinalizeLoggedModel sets a logged model's status once its artifacts are uploaded (or failed).
func (s *Store) FinalizeLoggedModel(ctx context.Context, id, status string) (LoggedModel, error) {
	switch status {
	case "2":
		status = LoggedModelReady
	case "3":
		status = LoggedModelUploadFailed
	}
	if status != LoggedModelReady && status != LoggedModelUploadFailed {
		return LoggedModel{}, invalidField("status", "Invalid value '%s' for parameter 'status': use LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED", truncate(status))
	}
	err := s.loggedModelChange(ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE models_logged_models SET status = $2, last_updated_time_ms = $3 WHERE model_id = $1`, id, status, s.nowMS())
		return err
	})
	if err != nil {
		return LoggedModel{}, err
	}
	return s.GetLoggedModel(ctx, id, false)
}

// DeleteLoggedModel hides a logged model from get and search.
func (s *Store) DeleteLoggedModel(ctx context.Context, id string) error {
	return s.loggedModelChange(ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE models_logged_models SET lifecycle_stage = 'deleted', last_updated_time_ms = $2 WHERE model_id = $1`, id, s.nowMS())
		return err
	})
}

// SetLoggedModelTags sets tags on a logged model.
func (s *Store) SetLoggedModelTags(ctx context.Context, id string, tags []Tag) error {
	if err := checkTags("tags", tags, MaxTagValueBytes); err != nil {
		return err
	}
	return s.loggedModelChange(ctx, id, func(tx pgx.Tx) error {
		return upsertTags(ctx, tx, "models_logged_model_tags", "model_id", id, tags)
	})
}

// DeleteLoggedModelTag removes a tag from a logged model; a missing tag is NotFound.
func (s *Store) DeleteLoggedModelTag(ctx context.Context, id, key string) error {
	return s.loggedModelChange(ctx, id, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM models_logged_model_tags WHERE model_id = $1 AND key = $2`, id, key)
		if err == nil && tag.RowsAffected() == 0 {
			return CodeLoggedModelNotFound.New("No tag with key '%s' found for model with ID '%s'.", key, id)
		}
		return err
	})
}

// LogLoggedModelParams adds params to a logged model.
func (s *Store) LogLoggedModelParams(ctx context.Context, id string, params []Param) error {
	if err := checkParams(params); err != nil {
		return err
	}
	return s.loggedModelChange(ctx, id, func(tx pgx.Tx) error { return insertLoggedParams(ctx, tx, id, params) })
}

// LoggedModelSearch is what search-logged-models asks for.
type LoggedModelSearch struct {
	ExperimentIDs []string
	Filter        string
	MaxResults    int
	OrderBy       []LoggedModelOrder
	PageToken     string
}

// LoggedModelOrder is one order_by term of search-logged-models.
type LoggedModelOrder struct {
	FieldName string `json:"field_name"`
	Ascending *bool  `json:"ascending,omitempty"`
}

var loggedModelAttributes = map[string]struct {
	column string
	number bool
}{
	"name": {"l.name", false}, "model_id": {"l.model_id", false}, "model_type": {"l.model_type", false}, "status": {"l.status", false},
	"source_run_id": {"l.source_run_id", false}, "creation_timestamp": {"l.creation_time_ms", true},
	"creation_time": {"l.creation_time_ms", true}, "last_updated_timestamp": {"l.last_updated_time_ms", true},
}

// SearchLoggedModels finds active logged models of the experiments by attributes, tags and params.
func (s *Store) SearchLoggedModels(ctx context.Context, q LoggedModelSearch) ([]LoggedModel, string, error) {
	if len(q.ExperimentIDs) == 0 {
		return nil, "", invalidField("experiment_ids", "Missing value for required parameter 'experiment_ids'")
	}
	ids := make([]int64, 0, len(q.ExperimentIDs))
	for _, id := range q.ExperimentIDs {
		n, err := experimentID("experiment_ids", id)
		if err != nil {
			return nil, "", err
		}
		ids = append(ids, n)
	}
	limit := q.MaxResults
	switch {
	case limit == 0:
		limit = LoggedModelsPageDefault
	case limit < 0 || limit > MaxLoggedModelsPerPage:
		return nil, "", invalidField("max_results", "Invalid value %d for parameter 'max_results': use 1 to %d", limit, MaxLoggedModelsPerPage)
	}
	offset, err := decodePageToken(q.PageToken)
	if err != nil {
		return nil, "", err
	}
	clauses, err := ParseFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	b := &sqlBuilder{}
	b.add("l.experiment_id = ANY(%s::int8[]) AND l.lifecycle_stage = 'active'", b.arg(ids))
	for _, c := range clauses {
		switch c.Type {
		case EntityAttribute:
			a, ok := loggedModelAttributes[c.Key]
			if !ok {
				return nil, "", CodeBadFilter.New("Invalid attribute key '%s' in filter %q: use name, model_id, model_type, status, source_run_id or creation_timestamp", c.Key, truncate(q.Filter))
			}
			var cmp string
			if a.number {
				cmp, err = b.numberCompare(q.Filter, a.column, c)
			} else {
				cmp, err = b.textCompare(q.Filter, a.column, c)
			}
			if err != nil {
				return nil, "", err
			}
			b.add("%s", cmp)
		case EntityTag, EntityParam:
			table := map[string]string{EntityTag: "models_logged_model_tags", EntityParam: "models_logged_model_params"}[c.Type]
			cmp, err := b.textCompare(q.Filter, "x.value", c)
			if err != nil {
				return nil, "", err
			}
			b.add("EXISTS (SELECT 1 FROM %s x WHERE x.model_id = l.model_id AND x.key = %s AND %s)", table, b.arg(c.Key), cmp)
		case EntityMetric:
			cmp, err := b.numberCompare(q.Filter, "m.value", c)
			if err != nil {
				return nil, "", err
			}
			b.add("EXISTS (SELECT 1 FROM models_metrics m WHERE m.model_id = l.model_id AND m.key = %s AND NOT m.is_nan AND %s)", b.arg(c.Key), cmp)
		default:
			return nil, "", CodeBadFilter.New("Invalid filter %q: logged models are searched by attributes, tags., params. and metrics.", truncate(q.Filter))
		}
	}
	var order []string
	for _, o := range q.OrderBy {
		a, ok := loggedModelAttributes[o.FieldName]
		if !ok || strings.Contains(o.FieldName, ".") {
			return nil, "", CodeBadFilter.New("Invalid order_by field_name '%s': use name, model_id, creation_timestamp or last_updated_timestamp", truncate(o.FieldName))
		}
		dir := "ASC"
		if o.Ascending != nil && !*o.Ascending {
			dir = "DESC"
		}
		order = append(order, a.column+" "+dir)
	}
	order = append(order, "l.creation_time_ms DESC", "l.model_id")
	rows, err := s.db.Query(ctx, `SELECT `+loggedModelColumns+` FROM models_logged_models l WHERE `+b.clause()+
		` ORDER BY `+strings.Join(order, ", ")+` OFFSET `+b.arg(offset)+` LIMIT `+b.arg(limit+1), b.queryArgs()...)
	if err != nil {
		return nil, "", fmt.Errorf("search logged models: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (LoggedModel, error) {
		m, _, err := scanLoggedModel(row)
		return m, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("search logged models: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodePageToken(offset + limit)
	}
	return out, next, nil
}
