package models

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"

	"github.com/jackc/pgx/v5"
)

// RunNameTag is the tag MLflow keeps a run's name in, beside run_name.
const RunNameTag = "mlflow.runName"

// NewRun is what create-run asks for.
type NewRun struct {
	ExperimentID string
	UserID       string // the authenticated caller
	RunName      string
	StartTime    int64 // ms; 0 means now
	Tags         []Tag
}

func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Run names as MLflow makes them when none is given: adjective-noun-number.
var (
	nameAdjectives = []string{"amazing", "bold", "brave", "calm", "clever", "crisp", "eager", "fair", "gentle", "glad",
		"honest", "keen", "lucid", "merry", "neat", "noble", "polite", "quiet", "sharp", "steady", "sunny", "swift", "tidy", "wise"}
	nameNouns = []string{"ant", "bass", "bear", "cat", "crane", "deer", "dove", "eel", "finch", "fox", "gull", "hare",
		"hawk", "lark", "lynx", "mole", "newt", "owl", "ram", "seal", "slug", "toad", "wolf", "wren"}
)

func pick(n int) int {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64())
}

func generatedRunName() string {
	return fmt.Sprintf("%s-%s-%d", nameAdjectives[pick(len(nameAdjectives))], nameNouns[pick(len(nameNouns))], pick(1000))
}

// CreateRun starts a run in an active experiment.
func (s *Store) CreateRun(ctx context.Context, nr NewRun) (Run, error) {
	eid, err := experimentID("experiment_id", nr.ExperimentID)
	if err != nil {
		return Run{}, err
	}
	if err := checkTags("tags", nr.Tags, MaxTagValueBytes); err != nil {
		return Run{}, err
	}
	tags := dedupeTags(nr.Tags)
	name := nr.RunName
	for _, t := range tags {
		if t.Key == RunNameTag {
			if name != "" && t.Value != name {
				return Run{}, invalidField("run_name", "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='%s', mlflow.runName='%s').", name, t.Value)
			}
			name = t.Value
		}
	}
	if name == "" {
		name = generatedRunName()
	}
	if err := checkValue("run_name", "Run", "run_name", name, MaxTagValueBytes); err != nil {
		return Run{}, err
	}
	if !slices.ContainsFunc(tags, func(t Tag) bool { return t.Key == RunNameTag }) {
		tags = append(tags, Tag{Key: RunNameTag, Value: name})
	}
	start := nr.StartTime
	if start == 0 {
		start = s.nowMS()
	}
	id := newRunID()
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var loc, stage string
		err := tx.QueryRow(ctx, `SELECT artifact_location, lifecycle_stage FROM models_experiments WHERE experiment_id = $1 FOR KEY SHARE`, eid).Scan(&loc, &stage)
		if errors.Is(err, pgx.ErrNoRows) {
			return CodeExperimentNotFound.New("No Experiment with id=%s exists", nr.ExperimentID)
		}
		if err != nil {
			return err
		}
		if stage != StageActive {
			return CodeInactive.New("The experiment %s must be in the 'active' state. Current state is %s.", nr.ExperimentID, stage)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO models_runs (run_id, experiment_id, run_name, user_id, status, start_time_ms, artifact_uri)
			VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6)`, id, eid, name, nr.UserID, start, loc+"/"+id+"/artifacts"); err != nil {
			return err
		}
		return upsertTags(ctx, tx, "models_run_tags", "run_id", id, tags)
	})
	if err != nil {
		return Run{}, err
	}
	return s.GetRun(ctx, id)
}

const runInfoColumns = `r.run_id, r.run_name, r.experiment_id::text, r.user_id, r.status, r.start_time_ms, r.end_time_ms, r.artifact_uri, r.lifecycle_stage`

func scanRunInfo(row pgx.Row, extra ...any) (RunInfo, error) {
	var ri RunInfo
	err := row.Scan(append([]any{&ri.RunID, &ri.RunName, &ri.ExperimentID, &ri.UserID, &ri.Status, &ri.StartTime, &ri.EndTime, &ri.ArtifactURI, &ri.LifecycleStage}, extra...)...)
	ri.RunUUID = ri.RunID
	return ri, err
}

// runDataQueries read what the runs named by $1 logged, one statement per part, each in
// order of run and then as MLflow lists them. They are sent together in one round trip
// (with the run's own row for a single run), which is cheaper than a subquery per run and
// part once a page holds many runs.
var runDataQueries = []string{
	`SELECT run_id, key, value, is_nan, timestamp_ms, step FROM models_latest_metrics WHERE run_id = ANY($1) ORDER BY run_id, key`,
	`SELECT run_id, key, value FROM models_params WHERE run_id = ANY($1) ORDER BY run_id, key`,
	`SELECT run_id, key, value FROM models_run_tags WHERE run_id = ANY($1) ORDER BY run_id, key`,
	`SELECT i.run_id, i.tags, d.name, d.digest, d.source_type, d.source, coalesce(d.schema, ''), coalesce(d.profile, '')
		FROM models_run_inputs i JOIN models_datasets d USING (dataset_id) WHERE i.run_id = ANY($1) ORDER BY i.run_id, d.name, d.digest`,
	`SELECT run_id, direction, model_id, step FROM models_run_model_io WHERE run_id = ANY($1) ORDER BY run_id, model_id, step`,
}

// queueRunData adds runDataQueries for ids to batch; readRunData reads their answers into runs.
func queueRunData(batch *pgx.Batch, ids []string) {
	for _, q := range runDataQueries {
		batch.Queue(q, ids)
	}
}

func readRunData(results pgx.BatchResults, runs []Run) error {
	at := make(map[string]*Run, len(runs))
	for i := range runs {
		at[runs[i].Info.RunID] = &runs[i]
	}
	// Each answer in runDataQueries' order: the columns it scans into, what a row adds.
	var (
		id, key, value, text string
		num                  float64
		nan                  bool
		ts, step             int64
		in                   DatasetInput
		tags                 []byte
	)
	d := &in.Dataset
	parts := []struct {
		scans []any
		add   func() error
	}{
		{[]any{&id, &key, &num, &nan, &ts, &step}, func() error {
			m := Metric{Key: key, Value: Float(num), Timestamp: ts, Step: step}
			if nan {
				m.Value = Float(math.NaN())
			}
			at[id].Data.Metrics = append(at[id].Data.Metrics, m)
			return nil
		}},
		{[]any{&id, &key, &value}, func() error {
			at[id].Data.Params = append(at[id].Data.Params, Param{Key: key, Value: value})
			return nil
		}},
		{[]any{&id, &key, &value}, func() error {
			at[id].Data.Tags = append(at[id].Data.Tags, Tag{Key: key, Value: value})
			return nil
		}},
		{[]any{&id, &tags, &d.Name, &d.Digest, &d.SourceType, &d.Source, &d.Schema, &d.Profile}, func() error {
			in.Tags = nil
			if err := json.Unmarshal(tags, &in.Tags); err != nil {
				return fmt.Errorf("run %s: dataset tags: %w", id, err)
			}
			if len(in.Tags) == 0 {
				in.Tags = nil
			}
			at[id].Inputs.DatasetInputs = append(at[id].Inputs.DatasetInputs, in)
			return nil
		}},
		{[]any{&id, &text, &key, &step}, func() error { // direction, model id, step
			if text == "input" {
				at[id].Inputs.ModelInputs = append(at[id].Inputs.ModelInputs, ModelInput{ModelID: key})
			} else {
				at[id].Outputs.ModelOutputs = append(at[id].Outputs.ModelOutputs, ModelOutput{ModelID: key, Step: step})
			}
			return nil
		}},
	}
	for _, p := range parts {
		rows, err := results.Query()
		if err == nil {
			_, err = pgx.ForEachRow(rows, p.scans, p.add)
		}
		if err != nil {
			return fmt.Errorf("run data: %w", err)
		}
	}
	return nil
}

// withRunData fills in what each run logged.
func (s *Store) withRunData(ctx context.Context, runs []Run) error {
	if len(runs) == 0 {
		return nil
	}
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.Info.RunID
	}
	batch := &pgx.Batch{}
	queueRunData(batch, ids)
	results := s.db.SendBatch(ctx, batch)
	err := readRunData(results, runs)
	if cerr := results.Close(); err == nil {
		err = cerr
	}
	return err
}

// GetRun returns a run with everything it logged, active or deleted.
func (s *Store) GetRun(ctx context.Context, id string) (Run, error) {
	if id == "" {
		return Run{}, invalidField("run_id", "Missing value for required parameter 'run_id'")
	}
	batch := &pgx.Batch{}
	batch.Queue(`SELECT `+runInfoColumns+` FROM models_runs r WHERE run_id = $1`, id)
	queueRunData(batch, []string{id})
	results := s.db.SendBatch(ctx, batch)
	defer func() { _ = results.Close() }()
	info, err := scanRunInfo(results.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, CodeRunNotFound.New("Run with id=%s not found", id)
	}
	if err != nil {
		return Run{}, err
	}
	runs := []Run{{Info: info}}
	if err := readRunData(results, runs); err != nil {
		return Run{}, err
	}
	return runs[0], results.Close()
}

// runChange runs fn in a transaction after locking the run and checking it exists and,
// when mustBeActive, is not deleted.
func (s *Store) runChange(ctx context.Context, id string, mustBeActive bool, fn func(tx pgx.Tx) error) error {
	if id == "" {
		return invalidField("run_id", "Missing value for required parameter 'run_id'")
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var stage string
		err := tx.QueryRow(ctx, `SELECT lifecycle_stage FROM models_runs WHERE run_id = $1 FOR NO KEY UPDATE`, id).Scan(&stage)
		if errors.Is(err, pgx.ErrNoRows) {
			return CodeRunNotFound.New("Run with id=%s not found", id)
		}
		if err != nil {
			return err
		}
		if mustBeActive && stage != StageActive {
			return CodeInactive.New("The run %s must be in the 'active' state. Current state is %s.", id, stage)
		}
		return fn(tx)
	})
}

// RunUpdate is what update-run changes; empty fields stay as they are.
type RunUpdate struct {
	Status  string
	EndTime *int64
	RunName string
}

// ValidRunStatus reports whether status is one MLflow knows.
func ValidRunStatus(status string) bool {
	switch status {
	case RunRunning, RunScheduled, RunFinished, RunFailed, RunKilled:
		return true
	}
	return false
}

// UpdateRun changes an active run's status, end time or name and returns its info.
func (s *Store) UpdateRun(ctx context.Context, id string, u RunUpdate) (RunInfo, error) {
	if u.Status != "" && !ValidRunStatus(u.Status) {
		return RunInfo{}, invalidField("status", "Invalid value %q for parameter 'status': use one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED", u.Status)
	}
	if u.RunName != "" {
		if err := checkValue("run_name", "Run", "run_name", u.RunName, MaxTagValueBytes); err != nil {
			return RunInfo{}, err
		}
	}
	var info RunInfo
	err := s.runChange(ctx, id, true, func(tx pgx.Tx) error {
		var err error
		info, err = scanRunInfo(tx.QueryRow(ctx, `UPDATE models_runs r SET status = coalesce(nullif($2, ''), status),
				end_time_ms = coalesce($3, end_time_ms), run_name = coalesce(nullif($4, ''), run_name)
			WHERE run_id = $1 RETURNING `+runInfoColumns, id, u.Status, u.EndTime, u.RunName))
		if err != nil || u.RunName == "" {
			return err
		}
		return upsertTags(ctx, tx, "models_run_tags", "run_id", id, []Tag{{Key: RunNameTag, Value: u.RunName}})
	})
	return info, err
}

// DeleteRun marks a run deleted; RestoreRun brings it back.
func (s *Store) DeleteRun(ctx context.Context, id string) error {
	return s.runChange(ctx, id, false, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE models_runs SET lifecycle_stage = 'deleted', deleted_time_ms = $2 WHERE run_id = $1`, id, s.nowMS())
		return err
	})
}

// RestoreRun brings a deleted run back.
func (s *Store) RestoreRun(ctx context.Context, id string) error {
	return s.runChange(ctx, id, false, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE models_runs SET lifecycle_stage = 'active', deleted_time_ms = NULL WHERE run_id = $1`, id)
		return err
	})
}

// Batch is what log-batch logs: metrics, params and tags of one run, at once.
type Batch struct {
	Metrics []Metric
	Params  []Param
	Tags    []Tag
}

// validRunID is MLflow's rule for a run id in a write.
var validRunID = regexp.MustCompile(`^[a-zA-Z0-9][\w\-]{0,255}$`)

// checkBatch applies MLflow's log-batch limits and key rules.
func checkBatch(b Batch) error {
	switch {
	case len(b.Metrics) > MaxMetricsPerBatch:
		return invalidField("metrics", "A batch logging request can contain at most %d metrics. Got %d metrics. Please split up metrics across multiple requests and try again.", MaxMetricsPerBatch, len(b.Metrics))
	case len(b.Params) > MaxParamsTagsPerBatch:
		return invalidField("params", "A batch logging request can contain at most %d params. Got %d params. Please split up params across multiple requests and try again.", MaxParamsTagsPerBatch, len(b.Params))
	case len(b.Tags) > MaxParamsTagsPerBatch:
		return invalidField("tags", "A batch logging request can contain at most %d tags. Got %d tags. Please split up tags across multiple requests and try again.", MaxParamsTagsPerBatch, len(b.Tags))
	case len(b.Metrics)+len(b.Params)+len(b.Tags) > MaxEntitiesPerBatch:
		return invalidField("metrics", "A batch logging request can contain at most %d metrics, params, and tags in total. Got %d. Please split up across multiple requests and try again.", MaxEntitiesPerBatch, len(b.Metrics)+len(b.Params)+len(b.Tags))
	}
	for _, m := range b.Metrics {
		if err := checkKey("metrics", "metric", m.Key); err != nil {
			return err
		}
		if m.Timestamp < 0 {
			return invalidField("metrics", "Invalid value %d for parameter 'timestamp' supplied: metric '%s' (value=%v). Timestamp must be a nonnegative long (64-bit integer)", m.Timestamp, m.Key, float64(m.Value))
		}
	}
	seen := make(map[string]string, len(b.Params))
	for _, p := range b.Params {
		if err := checkKey("params", "param", p.Key); err != nil {
			return err
		}
		if err := checkValue("params", "Param", p.Key, p.Value, MaxParamValueBytes); err != nil {
			return err
		}
		if v, ok := seen[p.Key]; ok && v != p.Value {
			return invalidField("params", "Duplicate parameter keys have been submitted: [%s]. Please ensure the request contains only one param value per param key.", p.Key)
		}
		seen[p.Key] = p.Value
	}
	return checkTags("tags", b.Tags, MaxTagValueBytes)
}

// LogBatch logs metrics, params and tags to an active run in one transaction: all of it or
// none. A param logged before with another value refuses the whole batch; the same value
// again, and a metric point logged again, change nothing, so a client may retry.
func (s *Store) LogBatch(ctx context.Context, runID string, b Batch) error {
	if runID != "" && !validRunID.MatchString(runID) {
		return invalidField("run_id", "Invalid value \"%s\" for parameter 'run_id' supplied.", truncate(runID))
	}
	if err := checkBatch(b); err != nil {
		return err
	}
	return s.runChange(ctx, runID, true, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		if len(b.Params) > 0 {
			keys, values := make([]string, len(b.Params)), make([]string, len(b.Params))
			for i, p := range b.Params {
				keys[i], values[i] = p.Key, p.Value
			}
			batch.Queue(`INSERT INTO models_params (run_id, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)
				ON CONFLICT (run_id, key) DO NOTHING`, runID, keys, values)
			// A separate statement, so it sees a value a concurrent call committed first.
			batch.Queue(`SELECT p.key, p.value, t.v FROM unnest($2::text[], $3::text[]) AS t(k, v)
				JOIN models_params p ON p.run_id = $1 AND p.key = t.k WHERE p.value <> t.v LIMIT 1`, runID, keys, values).QueryRow(func(row pgx.Row) error {
				var key, old, attempted string
				err := row.Scan(&key, &old, &attempted)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				if err != nil {
					return err
				}
				return CodeParamChanged.New("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.", key, old, runID, attempted)
			})
		}
		if len(b.Metrics) > 0 {
			queueMetrics(batch, runID, b.Metrics)
		}
		if len(b.Tags) > 0 {
			tags := dedupeTags(b.Tags)
			keys, values := make([]string, len(tags)), make([]string, len(tags))
			for i, t := range tags {
				keys[i], values[i] = t.Key, t.Value
			}
			batch.Queue(`INSERT INTO models_run_tags (run_id, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)
				ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value`, runID, keys, values)
			if i := slices.IndexFunc(tags, func(t Tag) bool { return t.Key == RunNameTag }); i >= 0 {
				batch.Queue(`UPDATE models_runs SET run_name = $2 WHERE run_id = $1`, runID, tags[i].Value)
			}
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// queueMetrics adds the metric points to the history and moves each key's latest value
// when a point is later (by step, then timestamp, then value, as MLflow orders them).
func queueMetrics(batch *pgx.Batch, runID string, metrics []Metric) {
	metrics = dedupeMetrics(metrics)
	n := len(metrics)
	keys, values, stamps, steps, nans := make([]string, n), make([]float64, n), make([]int64, n), make([]int64, n), make([]bool, n)
	modelIDs, dsNames, dsDigests := make([]*string, n), make([]*string, n), make([]*string, n)
	latest := make(map[string]int, n)
	for i, m := range metrics {
		v := float64(m.Value)
		keys[i], values[i], stamps[i], steps[i], nans[i] = m.Key, v, m.Timestamp, m.Step, math.IsNaN(v)
		if nans[i] {
			values[i] = 0 // NaN is not equal to itself: it could never be deduplicated by key
		}
		modelIDs[i], dsNames[i], dsDigests[i] = nullable(m.ModelID), nullable(m.DatasetName), nullable(m.DatasetDigest)
		if j, ok := latest[m.Key]; !ok || later(steps[i], stamps[i], values[i], steps[j], stamps[j], values[j]) {
			latest[m.Key] = i
		}
	}
	batch.Queue(`INSERT INTO models_metrics (run_id, key, value, timestamp_ms, step, is_nan, model_id, dataset_name, dataset_digest)
		SELECT $1, k, v, ts, st, nan, mid, dn, dd FROM unnest($2::text[], $3::float8[], $4::int8[], $5::int8[], $6::bool[], $7::text[], $8::text[], $9::text[])
			AS t(k, v, ts, st, nan, mid, dn, dd)
		ON CONFLICT (run_id, key, step, timestamp_ms, value, is_nan) DO UPDATE SET
			model_id = coalesce(models_metrics.model_id, EXCLUDED.model_id),
			dataset_name = coalesce(models_metrics.dataset_name, EXCLUDED.dataset_name),
			dataset_digest = coalesce(models_metrics.dataset_digest, EXCLUDED.dataset_digest)`,
		runID, keys, values, stamps, steps, nans, modelIDs, dsNames, dsDigests)
	lk, lv, lt, ls, ln := make([]string, 0, len(latest)), make([]float64, 0, len(latest)), make([]int64, 0, len(latest)), make([]int64, 0, len(latest)), make([]bool, 0, len(latest))
	for _, i := range latest {
		lk, lv, lt, ls, ln = append(lk, keys[i]), append(lv, values[i]), append(lt, stamps[i]), append(ls, steps[i]), append(ln, nans[i])
	}
	batch.Queue(`INSERT INTO models_latest_metrics AS l (run_id, experiment_id, key, value, timestamp_ms, step, is_nan)
		SELECT $1, (SELECT experiment_id FROM models_runs WHERE run_id = $1), k, v, ts, st, nan
		FROM unnest($2::text[], $3::float8[], $4::int8[], $5::int8[], $6::bool[]) AS t(k, v, ts, st, nan)
		ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, timestamp_ms = EXCLUDED.timestamp_ms, step = EXCLUDED.step, is_nan = EXCLUDED.is_nan
		WHERE (EXCLUDED.step, EXCLUDED.timestamp_ms, EXCLUDED.value) > (l.step, l.timestamp_ms, l.value)`, runID, lk, lv, lt, ls, ln)
}

// dedupeMetrics keeps one of each point (a point logged again links it to a model, as
// MLflow 3's client does after logging a model): a statement cannot update a row twice.
func dedupeMetrics(metrics []Metric) []Metric {
	type point struct {
		key      string
		step, ts int64
		value    float64
		nan      bool
	}
	seen := make(map[point]int, len(metrics))
	out := make([]Metric, 0, len(metrics))
	for _, m := range metrics {
		v := float64(m.Value)
		p := point{m.Key, m.Step, m.Timestamp, v, math.IsNaN(v)}
		if p.nan {
			p.value = 0
		}
		if i, ok := seen[p]; ok {
			if out[i].ModelID == "" {
				out[i].ModelID = m.ModelID
			}
			if out[i].DatasetName == "" {
				out[i].DatasetName, out[i].DatasetDigest = m.DatasetName, m.DatasetDigest
			}
			continue
		}
		seen[p] = len(out)
		out = append(out, m)
	}
	return out
}

func later(step, ts int64, v float64, step2, ts2 int64, v2 float64) bool {
	if step != step2 {
		return step > step2
	}
	if ts != ts2 {
		return ts > ts2
	}
	return v > v2
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// DeleteTag removes a tag from an active run; a tag that is not there is NotFound.
func (s *Store) DeleteTag(ctx context.Context, runID, key string) error {
	return s.runChange(ctx, runID, true, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM models_run_tags WHERE run_id = $1 AND key = $2`, runID, key)
		if err == nil && tag.RowsAffected() == 0 {
			return CodeRunNotFound.New("No tag with name: %s in run with id %s", key, runID)
		}
		return err
	})
}

// MetricHistory returns every logged point of one metric of a run, oldest step first.
func (s *Store) MetricHistory(ctx context.Context, runID, key string, offset, limit int) ([]Metric, bool, error) {
	if key == "" {
		return nil, false, invalidField("metric_key", "Missing value for required parameter 'metric_key'")
	}
	if _, err := s.GetRun(ctx, runID); err != nil {
		return nil, false, err
	}
	rows, err := s.db.Query(ctx, `SELECT key, CASE WHEN is_nan THEN 'NaN'::float8 ELSE value END, timestamp_ms, step
		FROM models_metrics WHERE run_id = $1 AND key = $2 ORDER BY step, timestamp_ms, value OFFSET $3 LIMIT $4`, runID, key, offset, limit+1)
	if err != nil {
		return nil, false, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Metric, error) {
		var m Metric
		err := row.Scan(&m.Key, &m.Value, &m.Timestamp, &m.Step)
		return m, err
	})
	if err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// Dataset limits, as MLflow's.
const (
	maxDatasetNameBytes    = 500
	maxDatasetDigestBytes  = 36
	maxDatasetSourceBytes  = 65535
	maxDatasetSchemaBytes  = 1048575
	maxDatasetProfileBytes = 16777215
	maxInputTagKeyBytes    = 255
	maxInputTagValueBytes  = 500
)

func checkDataset(i int, in DatasetInput) error {
	field := "datasets[" + itoa(i) + "]"
	d := in.Dataset
	for _, c := range []struct {
		name, value string
		max         int
		required    bool
	}{{"name", d.Name, maxDatasetNameBytes, true}, {"digest", d.Digest, maxDatasetDigestBytes, true},
		{"source_type", d.SourceType, maxDatasetNameBytes, true}, {"source", d.Source, maxDatasetSourceBytes, true},
		{"schema", d.Schema, maxDatasetSchemaBytes, false}, {"profile", d.Profile, maxDatasetProfileBytes, false}} {
		if c.required && c.value == "" {
			return invalidField(field+".dataset."+c.name, "Missing value for required parameter '%s.dataset.%s'", field, c.name)
		}
		if err := checkValue(field+".dataset."+c.name, "Dataset", d.Name, c.value, c.max); err != nil {
			return err
		}
	}
	for _, t := range in.Tags {
		if t.Key == "" || len(t.Key) > maxInputTagKeyBytes {
			return invalidField(field+".tags", "an input tag's key must be 1 to %d bytes", maxInputTagKeyBytes)
		}
		if err := checkValue(field+".tags", "Input tag", t.Key, t.Value, maxInputTagValueBytes); err != nil {
			return err
		}
	}
	return nil
}

// LogInputs records the datasets (and logged models) an active run read. A dataset is
// known by its experiment, name and digest; logging the same one again changes nothing.
func (s *Store) LogInputs(ctx context.Context, runID string, datasets []DatasetInput, models []ModelInput) error {
	if len(datasets) > MaxDatasetsPerInputs {
		return invalidField("datasets", "a log-inputs request holds at most %d datasets, got %d", MaxDatasetsPerInputs, len(datasets))
	}
	for i, d := range datasets {
		if err := checkDataset(i, d); err != nil {
			return err
		}
	}
	return s.runChange(ctx, runID, true, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, in := range datasets {
			d := in.Dataset
			tags, err := json.Marshal(in.Tags)
			if err != nil {
				return err
			}
			if in.Tags == nil {
				tags = []byte("[]")
			}
			batch.Queue(`WITH ds AS (
					INSERT INTO models_datasets (dataset_id, experiment_id, name, digest, source_type, source, schema, profile)
					SELECT $2, experiment_id, $3, $4, $5, $6, nullif($7, ''), nullif($8, '') FROM models_runs WHERE run_id = $1
					ON CONFLICT (experiment_id, name, digest) DO UPDATE SET name = EXCLUDED.name
					RETURNING dataset_id)
				INSERT INTO models_run_inputs (run_id, dataset_id, tags) SELECT $1, dataset_id, $9 FROM ds
				ON CONFLICT (run_id, dataset_id) DO NOTHING`,
				runID, newRunID(), d.Name, d.Digest, d.SourceType, d.Source, d.Schema, d.Profile, tags)
		}
		for _, m := range models {
			if m.ModelID == "" {
				return invalidField("models", "Missing value for required parameter 'models.model_id'")
			}
			batch.Queue(`INSERT INTO models_run_model_io (run_id, model_id, direction) VALUES ($1, $2, 'input') ON CONFLICT DO NOTHING`, runID, m.ModelID)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// LogOutputs records the logged models an active run produced.
func (s *Store) LogOutputs(ctx context.Context, runID string, outputs []ModelOutput) error {
	if len(outputs) > MaxDatasetsPerInputs {
		return invalidField("models", "a request holds at most %d models, got %d", MaxDatasetsPerInputs, len(outputs))
	}
	return s.runChange(ctx, runID, true, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, m := range outputs {
			if m.ModelID == "" {
				return invalidField("models", "Missing value for required parameter 'models.model_id'")
			}
			batch.Queue(`INSERT INTO models_run_model_io (run_id, model_id, direction, step) VALUES ($1, $2, 'output', $3) ON CONFLICT DO NOTHING`, runID, m.ModelID, m.Step)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}
