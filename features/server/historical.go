package server

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/platform"
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
}

type plannedView struct {
	view    features.View
	joinKey string
	feats   []string // feature names asked for
	out     []string // their output names
}

// SubmitHistorical checks the request and stages its entity rows, then builds the
// training set in the background. Everything a user can get wrong (unknown features, a
// missing join key or timestamp column, a row without a timestamp) is refused here,
// naming what to fix; the job itself only fails for reasons outside the request.
func (s *Server) SubmitHistorical(ctx context.Context, req HistoricalRequest, inputKind string, input []byte, actor string) (Job, error) {
	snap := s.Snapshot()
	refs, err := resolve(snap, req.Features, req.FeatureService)
	if err != nil {
		return Job{}, err
	}
	if req.Format == "" {
		req.Format = "parquet"
	}
	if req.Format != "parquet" && req.Format != "arrow" && req.Format != "csv" {
		return Job{}, platform.Invalid("format %q: use parquet, arrow or csv", req.Format)
	}
	if req.TimestampColumn == "" {
		req.TimestampColumn = "event_timestamp"
	}
	plan, err := planViews(snap, refs, req.FullFeatureNames)
	if err != nil {
		return Job{}, err
	}
	for _, p := range plan {
		if cols, err := s.Offline.Columns(ctx, p.view.Source.Table); err != nil {
			return Job{}, err
		} else if len(cols) == 0 {
			return Job{}, platform.E(platform.KindConflict, "no_offline_data",
				"feature view %s has no offline data yet: table %s has not been written; run its pipeline first", p.view.Name, p.view.Source.Table)
		}
	}

	id := uuid.Must(uuid.NewV7()).String()
	staged := "codexion_job_" + strings.ReplaceAll(id, "-", "")
	if err := s.stage(ctx, staged, req, inputKind, input, plan); err != nil {
		s.Offline.DB().ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+staged) //nolint:errcheck // best effort
		return Job{}, err
	}
	body, _ := json.Marshal(struct {
		HistoricalRequest
		Input string `json:"input"`
	}{HistoricalRequest{Features: req.Features, FeatureService: req.FeatureService, TimestampColumn: req.TimestampColumn,
		FullFeatureNames: req.FullFeatureNames, Format: req.Format}, inputKind})
	job := Job{ID: id, Status: "queued", Format: req.Format, CreatedBy: actor}
	if err := s.DB.QueryRow(ctx, `INSERT INTO feature_jobs (id, status, request, format, created_by) VALUES ($1, 'queued', $2, $3, $4)
		RETURNING created_at`, id, body, req.Format, actor).Scan(&job.CreatedAt); err != nil {
		return Job{}, err
	}
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.runJob(context.WithoutCancel(ctx), job, staged, req, plan)
	}()
	return job, nil
}

func planViews(snap *catalog.Snapshot, refs []catalog.Ref, full bool) ([]plannedView, error) {
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
func (s *Server) stage(ctx context.Context, table string, req HistoricalRequest, kind string, input []byte, plan []plannedView) error {
	dir, err := os.MkdirTemp(s.Offline.Exchange(), "entities-")
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
	db := s.Offline.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+qi(table)+` AS SELECT row_number() OVER () AS __row, * FROM `+reader); err != nil {
		// DuckDB names the staged file; the caller sent rows, not a file.
		return platform.Invalid("entity rows: %s", strings.ReplaceAll(duckMessage(err), path, "entity rows"))
	}
	cols, err := s.Offline.Columns(ctx, table)
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

func (s *Server) runJob(ctx context.Context, job Job, staged string, req HistoricalRequest, plan []plannedView) {
	defer s.Offline.DB().ExecContext(ctx, `DROP TABLE IF EXISTS `+staged) //nolint:errcheck // best effort cleanup
	if _, err := s.DB.Exec(ctx, `UPDATE feature_jobs SET status = 'running' WHERE id = $1`, job.ID); err != nil {
		s.Log.Error("historical job", "job", job.ID, "error", err)
	}
	key, rows, err := s.buildTrainingSet(ctx, job, staged, req, plan)
	if err != nil {
		s.Log.Error("historical job failed", "job", job.ID, "error", err)
		// The details (SQL, paths) stay in the log; the job says what its caller can act on.
		msg := "the training set could not be built; the server log has the details under job " + job.ID
		_, _ = s.DB.Exec(ctx, `UPDATE feature_jobs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1`, job.ID, msg)
		return
	}
	s.Log.Info("historical job done", "job", job.ID, "rows", rows, "object", key)
	_, _ = s.DB.Exec(ctx, `UPDATE feature_jobs SET status = 'succeeded', rows = $2, object_key = $3, finished_at = now() WHERE id = $1`,
		job.ID, rows, key)
}

// trainingSetSQL returns the query that joins the staged entity rows with every planned
// view's values as of each row's timestamp, in input order.
func trainingSetSQL(ctx context.Context, s *offline.Store, conn *sql.Conn, staged, tsCol string, plan []plannedView) (string, error) {
	sel := []string{"e.* EXCLUDE (__row)"}
	joins := ""
	for i, p := range plan {
		req := fmt.Sprintf("%s_req%d", staged, i)
		res := fmt.Sprintf("%s_res%d", staged, i)
		if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE `+qi(req)+` AS SELECT __row, CAST(`+qi(p.joinKey)+` AS VARCHAR) AS __key,
			CAST(`+qi(tsCol)+` AS TIMESTAMP) AS __ts FROM `+qi(staged)); err != nil {
			return "", err
		}
		if err := s.CheckExprsOnce(ctx, p.view.Expressions()...); err != nil {
			return "", fmt.Errorf("feature view %s: %w", p.view.Name, err)
		}
		if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE `+qi(res)+` AS `+p.view.HistoricalSQL(qi(req))); err != nil {
			return "", fmt.Errorf("feature view %s: %w", p.view.Name, err)
		}
		for j, f := range p.feats {
			sel = append(sel, fmt.Sprintf("r%d.%s AS %s", i, qi(f), qi(p.out[j])))
		}
		joins += fmt.Sprintf(" LEFT JOIN %s r%d ON r%d.__row = e.__row", qi(res), i, i)
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + qi(staged) + " e" + joins + " ORDER BY e.__row", nil
}

func (s *Server) buildTrainingSet(ctx context.Context, job Job, staged string, req HistoricalRequest, plan []plannedView) (string, int64, error) {
	conn, err := s.Offline.DB().Conn(ctx)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close()
	q, err := trainingSetSQL(ctx, s.Offline, conn, staged, req.TimestampColumn, plan)
	if err != nil {
		return "", 0, err
	}
	dir, err := os.MkdirTemp(s.Offline.Exchange(), "training-set-")
	if err != nil {
		return "", 0, err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // a temp dir; the OS cleans up what is left
	path := filepath.Join(dir, "result")
	var rows int64
	contentType, ext := "application/vnd.apache.parquet", ".parquet"
	if req.Format == "parquet" || req.Format == "csv" {
		if req.Format == "csv" {
			contentType, ext = "text/csv", ".csv"
		}
		if _, err := conn.ExecContext(ctx, `COPY (`+q+`) TO `+features.QuoteString(path)+` (FORMAT `+req.Format+`)`); err != nil {
			return "", 0, err
		}
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM `+qi(staged)).Scan(&rows); err != nil {
			return "", 0, err
		}
	} else {
		contentType, ext = "application/vnd.apache.arrow.stream", ".arrows"
		if rows, err = writeArrowStream(ctx, conn, q, path); err != nil {
			return "", 0, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	key := "features/historical/" + job.ID + ext
	if _, err := s.Objects.Put(ctx, key, f, info.Size(), contentType); err != nil {
		return "", 0, fmt.Errorf("upload the training set: %w", err)
	}
	return key, rows, nil
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

// GetJob returns a job.
func (s *Server) GetJob(ctx context.Context, id string) (Job, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Job{}, platform.Invalid("job id %q is not a UUID", id)
	}
	var j Job
	var key, errText *string
	err := s.DB.QueryRow(ctx, `SELECT id::text, status, format, rows, error, object_key, created_by, created_at, finished_at
		FROM feature_jobs WHERE id = $1`, id).Scan(&j.ID, &j.Status, &j.Format, &j.Rows, &errText, &key, &j.CreatedBy, &j.CreatedAt, &j.FinishedAt)
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
	return j, nil
}

// JobResult opens a finished job's result.
func (s *Server) JobResult(ctx context.Context, id string) (io.ReadCloser, string, error) {
	j, err := s.GetJob(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if j.Status != "succeeded" {
		return nil, "", platform.E(platform.KindConflict, "job_not_done", "historical job %s is %s; its result is not ready%s", id, j.Status,
			map[bool]string{true: ": " + j.Error, false: ""}[j.Error != ""])
	}
	obj, err := s.Objects.Get(ctx, j.ObjectKey)
	if err != nil {
		return nil, "", platform.Unavailable(err, "object store")
	}
	ct := map[string]string{"parquet": "application/vnd.apache.parquet", "arrow": "application/vnd.apache.arrow.stream", "csv": "text/csv"}[j.Format]
	return obj, ct, nil
}
