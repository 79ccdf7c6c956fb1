package server

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
)

// HistoricalRequest asks for a training set: features for entity rows, each as of the
// row's own timestamp.
type HistoricalRequest struct {
	Features       []string `json:"features,omitempty"`
	FeatureService string   `json:"feature_service,omitempty"`
	// Entities holds the entity rows column-major (join keys, the timestamp column and any
	// other columns, which are passed through); CSV or Parquet bodies carry them instead.
	Entities         map[string][]any `json:"entities,omitempty"`
	TimestampColumn  string           `json:"timestamp_column,omitempty"` // default event_timestamp
	FullFeatureNames bool             `json:"full_feature_names,omitempty"`
	Format           string           `json:"format,omitempty"` // parquet (default), arrow (an Arrow IPC stream) or csv
}

// Entity row encodings a historical request accepts.
const (
	InputJSON    = "json"
	InputCSV     = "csv"
	InputParquet = "parquet"
)

// Job is a historical retrieval job.
type Job struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"` // queued, running, succeeded, failed
	Format     string     `json:"format"`
	Rows       *int64     `json:"rows,omitempty"`
	Error      string     `json:"error,omitempty"`
	ObjectKey  string     `json:"object_key,omitempty"`
	Result     string     `json:"result,omitempty"` // where to download it
	CreatedBy  string     `json:"created_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Lineage is what the training set is built from: fixed when the job is accepted,
	// completed with the SQL, row count and digest when it succeeds.
	Lineage *features.TrainingLineage `json:"lineage,omitempty"`
}

type plannedView struct {
	view    features.View
	joinKey string
	feats   []string // feature names asked for
	out     []string // their output names
}

// SubmitHistorical checks the request, stages its entity rows in the offline store and
// records the job, then has it run as a workflow (JobRunner). Everything a user can get
// wrong (unknown features, a missing join key or timestamp column, a row without a
// timestamp) is refused here, naming what to fix; the job itself only fails for reasons
// outside the request. Under an idempotency key a retried submit gets the same job
// (replayed is true) and stages nothing.
func (t *TrainingSets) Submit(ctx context.Context, req HistoricalRequest, inputKind string, input []byte, actor string, key *idempotency.Key) (Job, bool, error) {
	tx, err := t.s.DB.Begin(ctx)
	if err != nil {
		return Job{}, false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	id := uuid.Must(uuid.NewV7()).String()
	staged := stagedTable(id)
	// The key is claimed first: a retry waits here for the first submit to commit and then
	// gets its job, before it stages anything.
	job, replayed, err := idempotency.Do(ctx, tx, key, http.StatusAccepted, func() (Job, error) {
		snap := t.s.Snapshot()
		plan, err := t.plan(ctx, snap, &req)
		if err != nil {
			return Job{}, err
		}
		if err := t.stage(ctx, staged, req, inputKind, input, plan); err != nil {
			return Job{}, err
		}
		return t.insertJob(ctx, tx, id, req, inputKind, actor, pinLineage(snap, req.FeatureService, plan), plan)
	})
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		if !replayed {
			t.dropStaged(context.WithoutCancel(ctx), staged)
		}
		return Job{}, false, err
	}
	if replayed {
		if job, err = t.Job(ctx, job.ID); err != nil {
			return Job{}, false, err
		}
	}
	// The job is durable now; if its workflow cannot start yet, the sweep starts it.
	if err := t.s.jobs.RunTrainingSet(ctx, job.ID); err != nil {
		t.s.Log.Warn("historical job accepted; its workflow starts later", "job", job.ID, "error", err)
	}
	return job, replayed, nil
}

// planHistorical resolves a request's features against the catalog in force, fills in its
// defaults and checks that every view it reads has offline data.
func (t *TrainingSets) plan(ctx context.Context, snap *features.Catalog, req *HistoricalRequest) ([]plannedView, error) {
	refs, err := resolve(snap, req.Features, req.FeatureService)
	if err != nil {
		return nil, err
	}
	if req.Format == "" {
		req.Format = "parquet"
	}
	if req.Format != "parquet" && req.Format != "arrow" && req.Format != "csv" {
		return nil, platform.Invalid("format %q: use parquet, arrow or csv", req.Format)
	}
	if req.TimestampColumn == "" {
		req.TimestampColumn = "event_timestamp"
	}
	plan, err := planViews(snap, refs, req.FullFeatureNames)
	if err != nil {
		return nil, err
	}
	for _, p := range plan {
		if cols, err := t.s.Offline.Columns(ctx, p.view.Source.Table); err != nil {
			return nil, err
		} else if len(cols) == 0 {
			return nil, CodeNoOfflineData.New("feature view %s has no offline data yet: table %s has not been written; run its pipeline first", p.view.Name, p.view.Source.Table)
		}
	}
	return plan, nil
}

func planViews(snap *features.Catalog, refs []features.Ref, full bool) ([]plannedView, error) {
	var plan []plannedView
	owner := map[string]string{}
	for _, r := range refs {
		i := slices.IndexFunc(plan, func(p plannedView) bool { return p.view.Name == r.View })
		if i < 0 {
			v := snap.Views[r.View].Spec
			plan = append(plan, plannedView{view: v, joinKey: snap.Entities[v.Entity].Spec.JoinKey})
			i = len(plan) - 1
		}
		name := r.Feature
		if full {
			name = r.View + "__" + r.Feature
		}
		if other, ok := owner[name]; ok {
			return nil, platform.Invalid("feature name %s comes from both %s and %s; set full_feature_names to tell them apart", name, other, r.View)
		}
		owner[name] = r.View
		plan[i].feats = append(plan[i].feats, r.Feature)
		plan[i].out = append(plan[i].out, name)
	}
	return plan, nil
}

// stage loads the entity rows into a table of the offline store, numbered in input order,
// and checks them.
func (t *TrainingSets) stage(ctx context.Context, table string, req HistoricalRequest, kind string, input []byte, plan []plannedView) error {
	dir, err := os.MkdirTemp(t.s.Offline.Exchange(), "entities-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // a temp dir; the OS cleans up what is left
	path := filepath.Join(dir, "entities")
	var reader string
	switch kind {
	case InputJSON:
		if len(req.Entities) == 0 {
			return platform.Invalid("entities is required: entity rows column-major, e.g. {\"account\": [\"acme:1200\"], \"event_timestamp\": [\"2026-03-01T00:00:00Z\"]}")
		}
		n := -1
		for c, vals := range req.Entities {
			if n >= 0 && len(vals) != n {
				return platform.Invalid("entities: every column needs the same number of values (%s has %d, another %d)", c, len(vals), n)
			}
			n = len(vals)
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		for i := range n {
			row := map[string]any{}
			for c, vals := range req.Entities {
				row[c] = vals[i]
			}
			if err := enc.Encode(row); err != nil {
				f.Close()
				return platform.Invalid("entities row %d: %v", i+1, err)
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		reader = "read_json(" + features.QuoteString(path) + ", format = 'newline_delimited')"
	case InputCSV:
		reader = "read_csv(" + features.QuoteString(path) + ", header = true)"
	case InputParquet:
		reader = "read_parquet(" + features.QuoteString(path) + ")"
	default:
		return platform.Invalid("entity rows as %q: send JSON, text/csv or application/vnd.apache.parquet", kind)
	}
	if kind != InputJSON {
		if err := os.WriteFile(path, input, 0o600); err != nil {
			return err
		}
	}
	db := t.s.Offline.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+qi(table)+` AS SELECT row_number() OVER () AS __row, * FROM `+reader); err != nil {
		// DuckDB names the staged file; the caller sent rows, not a file.
		return platform.Invalid("entity rows: %s", strings.ReplaceAll(duckMessage(err), path, "entity rows"))
	}
	cols, err := t.s.Offline.Columns(ctx, table)
	if err != nil {
		return err
	}
	var missing []string
	need := []string{req.TimestampColumn}
	for _, p := range plan {
		need = append(need, p.joinKey)
	}
	for _, c := range need {
		if !slices.ContainsFunc(cols, func(col offlineColumn) bool { return col.Name == c }) && !slices.Contains(missing, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return platform.Invalid("entity rows lack column %s (they have %s)", strings.Join(missing, ", "), columnNames(cols[1:]))
	}
	for _, p := range plan {
		for _, out := range p.out {
			if slices.ContainsFunc(cols, func(col offlineColumn) bool { return col.Name == out }) {
				return platform.Invalid("entity rows already have a column %s, which is also a feature; rename it or set full_feature_names", out)
			}
		}
	}
	bad, err := rowsWhere(ctx, db, `SELECT __row FROM `+qi(table)+` WHERE TRY_CAST(`+qi(req.TimestampColumn)+` AS TIMESTAMP) IS NULL ORDER BY __row LIMIT 5`)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return platform.Invalid("entity rows %s have no valid %s (a timestamp such as 2026-03-01T12:00:00Z is required on every row)",
			strings.Join(bad, ", "), req.TimestampColumn)
	}
	return nil
}

func rowsWhere(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprint(n))
	}
	return out, rows.Err()
}

// trainingSetSQL returns the query that joins the staged entity rows with every planned
// view's values as of each row's timestamp, in input order, and the statements it ran on
// conn to prepare it.
func trainingSetSQL(ctx context.Context, s *offline.Store, conn *sql.Conn, staged, tsCol string, plan []plannedView) (string, []string, error) {
	sel := []string{"e.* EXCLUDE (__row)"}
	joins := ""
	var ran []string
	exec := func(stmt string) error {
		ran = append(ran, stmt)
		_, err := conn.ExecContext(ctx, stmt)
		return err
	}
	for i, p := range plan {
		req := fmt.Sprintf("%s_req%d", staged, i)
		res := fmt.Sprintf("%s_res%d", staged, i)
		if err := exec(`CREATE TEMP TABLE ` + qi(req) + ` AS SELECT __row, CAST(` + qi(p.joinKey) + ` AS VARCHAR) AS __key, CAST(` +
			qi(tsCol) + ` AS TIMESTAMP) AS __ts FROM ` + qi(staged)); err != nil {
			return "", nil, err
		}
		if err := s.CheckExprsOnce(ctx, p.view.Expressions()...); err != nil {
			return "", nil, fmt.Errorf("feature view %s: %w", p.view.Name, err)
		}
		if err := exec(`CREATE TEMP TABLE ` + qi(res) + ` AS ` + p.view.HistoricalSQL(qi(req))); err != nil {
			return "", nil, fmt.Errorf("feature view %s: %w", p.view.Name, err)
		}
		for j, f := range p.feats {
			sel = append(sel, fmt.Sprintf("r%d.%s AS %s", i, qi(f), qi(p.out[j])))
		}
		joins += fmt.Sprintf(" LEFT JOIN %s r%d ON r%d.__row = e.__row", qi(res), i, i)
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + qi(staged) + " e" + joins + " ORDER BY e.__row", ran, nil
}

// Each result format: how DuckDB writes it, its content type and its object key's extension.
var resultFormats = map[string]struct{ copyOptions, contentType, ext string }{
	"parquet": {"(FORMAT parquet)", "application/vnd.apache.parquet", ".parquet"},
	"csv":     {"(FORMAT csv)", "text/csv", ".csv"},
	"arrow":   {"", "application/vnd.apache.arrow.stream", ".arrows"},
}

// buildTrainingSet writes job id's training set and uploads it. The object key depends on
// the job alone and the same staged rows and plan give the same bytes, so a retry after a
// crash overwrites the object with what it already held.
func (t *TrainingSets) build(ctx context.Context, id string, p jobPlan) (features.TrainingSet, error) {
	var set features.TrainingSet
	staged := stagedTable(id)
	format, ok := resultFormats[p.Format]
	if !ok {
		return set, platform.Invalid("job %s asks for format %q", id, p.Format)
	}
	conn, err := t.s.Offline.DB().Conn(ctx)
	if err != nil {
		return set, err
	}
	defer conn.Close()
	plan := p.planned()
	q, ran, err := trainingSetSQL(ctx, t.s.Offline, conn, staged, p.TimestampColumn, plan)
	if err != nil {
		return set, err
	}
	dir, err := os.MkdirTemp(t.s.Offline.Exchange(), "training-set-")
	if err != nil {
		return set, err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // a temp dir; the OS cleans up what is left
	path := filepath.Join(dir, "result")
	var rows int64
	if format.copyOptions != "" {
		stmt := `COPY (` + q + `) TO ` + features.QuoteString(path) + ` ` + format.copyOptions
		ran = append(ran, stmt)
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return set, err
		}
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM `+qi(staged)).Scan(&rows); err != nil {
			return set, err
		}
	} else {
		ran = append(ran, q)
		if rows, err = writeArrowStream(ctx, conn, q, path); err != nil {
			return set, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return set, err
	}
	defer f.Close()
	digest := sha256.New()
	size, err := io.Copy(digest, f)
	if err != nil {
		return set, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return set, err
	}
	if hook := t.s.beforeUpload.Load(); hook != nil {
		(*hook)(id)
	}
	key := "features/historical/" + id + format.ext
	if _, err := t.s.Objects.Put(ctx, key, f, size, format.contentType); err != nil {
		return set, fmt.Errorf("upload the training set: %w", err)
	}
	set.ObjectKey = key
	set.Lineage.SQL = strings.Join(ran, ";\n") + ";"
	set.Lineage.Rows = rows
	set.Lineage.SHA256 = hex.EncodeToString(digest.Sum(nil))
	return set, nil
}

func writeArrowStream(ctx context.Context, conn *sql.Conn, q, path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var rows int64
	err = conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rdr, err := ar.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rdr.Release()
		w := ipc.NewWriter(f, ipc.WithSchema(rdr.Schema()))
		for rdr.Next() {
			rec := rdr.RecordBatch()
			rows += rec.NumRows()
			if err := w.Write(rec); err != nil {
				return err
			}
		}
		if err := rdr.Err(); err != nil {
			return err
		}
		return w.Close()
	})
	if err != nil {
		return 0, err
	}
	return rows, f.Close()
}

// Job returns a job, with its lineage as far as it is known.
func (t *TrainingSets) Job(ctx context.Context, id string) (Job, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Job{}, platform.Invalid("job id %q is not a UUID", id)
	}
	var (
		j                       Job
		key, errText, sqlText   *string
		digest                  *string
		revision                *int64
		views, service          []byte
		entityFrom, entityUntil *time.Time
	)
	err := t.s.DB.QueryRow(ctx, `SELECT id::text, status, format, rows, error, object_key, created_by, created_at, finished_at,
		catalog_revision, views, service, entity_time_from, entity_time_to, sql, result_sha256
		FROM feature_jobs WHERE id = $1`, id).Scan(&j.ID, &j.Status, &j.Format, &j.Rows, &errText, &key, &j.CreatedBy, &j.CreatedAt, &j.FinishedAt,
		&revision, &views, &service, &entityFrom, &entityUntil, &sqlText, &digest)
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, platform.NotFound("historical job %s does not exist", id)
	}
	if err != nil {
		return Job{}, err
	}
	if key != nil {
		j.ObjectKey = *key
		j.Result = "/v1/features/historical/" + j.ID + "/result"
	}
	if errText != nil {
		j.Error = *errText
	}
	if revision != nil { // jobs accepted before lineage was recorded have none
		l := &features.TrainingLineage{CatalogRevision: *revision, EntityTimeFrom: utc(entityFrom), EntityTimeTo: utc(entityUntil)}
		if err := json.Unmarshal(views, &l.Views); err != nil {
			return Job{}, fmt.Errorf("historical job %s: views: %w", id, err)
		}
		if len(service) > 0 {
			if err := json.Unmarshal(service, &l.Service); err != nil {
				return Job{}, fmt.Errorf("historical job %s: service: %w", id, err)
			}
		}
		if sqlText != nil && digest != nil && j.Rows != nil {
			l.SQL, l.SHA256, l.Rows = *sqlText, *digest, *j.Rows
		}
		j.Lineage = l
	}
	return j, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// JobResult opens a finished job's result.
func (t *TrainingSets) Result(ctx context.Context, id string) (io.ReadCloser, string, error) {
	j, err := t.Job(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if j.Status != "succeeded" {
		return nil, "", CodeJobNotDone.New("historical job %s is %s; its result is not ready%s", id, j.Status,
			map[bool]string{true: ": " + j.Error, false: ""}[j.Error != ""])
	}
	obj, err := t.s.Objects.Get(ctx, j.ObjectKey)
	if err != nil {
		return nil, "", platform.Unavailable(err, "object store")
	}
	ct := map[string]string{"parquet": "application/vnd.apache.parquet", "arrow": "application/vnd.apache.arrow.stream", "csv": "text/csv"}[j.Format]
	return obj, ct, nil
}
