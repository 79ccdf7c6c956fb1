package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
)

// JobRunner runs accepted training-set jobs to completion somewhere durable (a Temporal
// workflow per job), through TrainingSets. RunTrainingSet may be called again for a job
// that runs or ran: it starts nothing twice.
type JobRunner interface {
	RunTrainingSet(ctx context.Context, jobID string) error
}

// Bounds of the sweep that starts jobs whose workflow did not start at submit (Temporal
// unavailable, or the process died between the commit and the start).
const (
	resumeAfter      = 30 * time.Second
	resumeBatchJobs  = 100
	resumeEveryTicks = 30 // of the server's one-second follow loop
)

// stagedTable is the offline store table holding a job's entity rows until its workflow
// ends. It is named by the job so that any attempt, in any process that opens the same
// offline store, finds it.
func stagedTable(jobID string) string { return "codexion_job_" + strings.ReplaceAll(jobID, "-", "") }

func (t *TrainingSets) dropStaged(ctx context.Context, table string) {
	if _, err := t.s.Offline.DB().ExecContext(ctx, `DROP TABLE IF EXISTS `+qi(table)); err != nil {
		t.s.Log.Warn("drop staged entity rows", "table", table, "error", err)
	}
}

// jobPlan is a job's resolved request, pinned when it is accepted: the views as they were
// in the catalog then, so a job built after a restart, or after a later apply, builds what
// was asked for.
type jobPlan struct {
	Format          string     `json:"format"`
	TimestampColumn string     `json:"timestamp_column"`
	Views           []planStep `json:"views"`
}

type planStep struct {
	View     features.View `json:"view"`
	JoinKey  string        `json:"join_key"`
	Features []string      `json:"features"`
	Outputs  []string      `json:"outputs"`
}

func (p jobPlan) planned() []plannedView {
	out := make([]plannedView, len(p.Views))
	for i, v := range p.Views {
		out[i] = plannedView{view: v.View, joinKey: v.JoinKey, feats: v.Features, out: v.Outputs}
	}
	return out
}

// pinLineage is the part of a job's lineage known when it is accepted.
func pinLineage(snap *features.Catalog, service string, plan []plannedView) features.TrainingLineage {
	l := features.TrainingLineage{CatalogRevision: snap.Revision, Views: []features.ObjectVersion{}}
	for _, p := range plan {
		l.Views = append(l.Views, features.ObjectVersion{Name: p.view.Name, Version: snap.Views[p.view.Name].Version})
	}
	if service != "" {
		l.Service = &features.ObjectVersion{Name: service, Version: snap.Services[service].Version}
	}
	return l
}

// insertJob records an accepted job with its plan and pinned lineage, in tx.
func (t *TrainingSets) insertJob(ctx context.Context, tx pgx.Tx, id string, req HistoricalRequest, inputKind, actor string,
	lin features.TrainingLineage, plan []plannedView) (Job, error) {
	p := jobPlan{Format: req.Format, TimestampColumn: req.TimestampColumn}
	for _, v := range plan {
		p.Views = append(p.Views, planStep{View: v.view, JoinKey: v.joinKey, Features: v.feats, Outputs: v.out})
	}
	var from, until sql.NullTime
	if err := t.s.Offline.DB().QueryRowContext(ctx, `SELECT min(CAST(`+qi(req.TimestampColumn)+` AS TIMESTAMP)), max(CAST(`+
		qi(req.TimestampColumn)+` AS TIMESTAMP)) FROM `+qi(stagedTable(id))).Scan(&from, &until); err != nil {
		return Job{}, fmt.Errorf("entity time range: %w", err)
	}
	if from.Valid {
		lin.EntityTimeFrom, lin.EntityTimeTo = utc(&from.Time), utc(&until.Time)
	}
	body, err := json.Marshal(struct {
		HistoricalRequest
		Input string `json:"input"`
	}{HistoricalRequest{Features: req.Features, FeatureService: req.FeatureService, TimestampColumn: req.TimestampColumn,
		FullFeatureNames: req.FullFeatureNames, Format: req.Format}, inputKind})
	if err != nil {
		return Job{}, err
	}
	job := Job{ID: id, Status: "queued", Format: req.Format, CreatedBy: actor, Lineage: &lin}
	err = tx.QueryRow(ctx, `INSERT INTO feature_jobs (id, status, request, format, created_by, plan, catalog_revision, views, service,
		entity_time_from, entity_time_to) VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING created_at`,
		id, body, req.Format, actor, p, lin.CatalogRevision, lin.Views, lin.Service, lin.EntityTimeFrom, lin.EntityTimeTo).Scan(&job.CreatedAt)
	return job, err
}

// historicalKey reads a training-set submit's Idempotency-Key. Its hash covers the body
// and the query parameters that shape a CSV or Parquet submit.
func historicalKey(r *http.Request, body []byte) (*idempotency.Key, error) {
	k, ok, err := idempotency.FromRequest(r, body, "feature_service", "features", "timestamp_column", "format", "full_feature_names")
	if err != nil || !ok {
		return nil, err
	}
	return &k, nil
}

// resumeJobs starts the workflows of unfinished jobs that may have none. Starting is
// idempotent, so a job whose workflow runs is left as it is.
func (t *TrainingSets) resume(ctx context.Context) {
	rows, err := t.s.DB.Query(ctx, `SELECT id::text FROM feature_jobs WHERE status IN ('queued', 'running')
		AND created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2`, resumeAfter.Seconds(), resumeBatchJobs)
	if err != nil {
		t.s.Log.Warn("find unfinished historical jobs", "error", err)
		return
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.s.Log.Warn("find unfinished historical jobs", "error", err)
		return
	}
	for _, id := range ids {
		if err := t.s.jobs.RunTrainingSet(ctx, id); err != nil {
			t.s.Log.Warn("start historical job", "job", id, "error", err)
			return // Temporal is likely down; the next sweep tries again
		}
	}
}

// TrainingSets accepts training-set jobs (Submit) and builds them: a JobRunner's
// activities call Build, Finish, Fail and Release in the process that owns the offline
// store. Each may run more than once for the same job (a retried activity, a worker
// restarted after a crash) and leaves the same outcome: the same object under the same
// key, the job row written once.
type TrainingSets struct{ s *Server }

// TrainingSets returns the builder of s's training-set jobs.
func (s *Server) TrainingSets() *TrainingSets { return &TrainingSets{s: s} }

// Build builds job id's training set and uploads it. A job that already succeeded
// returns what it recorded. Errors of kind Invalid, NotFound or Conflict will not go away on
// a retry.
func (t *TrainingSets) Build(ctx context.Context, id string) (features.TrainingSet, error) {
	j, err := t.Job(ctx, id)
	if err != nil {
		return features.TrainingSet{}, err
	}
	switch {
	case j.Status == "succeeded" && j.Lineage != nil:
		return features.TrainingSet{ObjectKey: j.ObjectKey, Lineage: *j.Lineage}, nil
	case j.Status == "failed":
		return features.TrainingSet{}, CodeJobFailed.New("historical job %s has failed already", id)
	}
	var raw []byte
	if err := t.s.DB.QueryRow(ctx, `UPDATE feature_jobs SET status = 'running' WHERE id = $1 AND status IN ('queued', 'running')
		RETURNING plan`, id).Scan(&raw); err != nil {
		return features.TrainingSet{}, fmt.Errorf("historical job %s: %w", id, err)
	}
	if raw == nil {
		return features.TrainingSet{}, platform.Invalid("historical job %s was accepted by an older version, which kept no plan; submit it again", id)
	}
	var p jobPlan
	if err := json.Unmarshal(raw, &p); err != nil {
		return features.TrainingSet{}, platform.Invalid("historical job %s: its plan: %v", id, err)
	}
	if cols, err := t.s.Offline.Columns(ctx, stagedTable(id)); err != nil {
		return features.TrainingSet{}, err
	} else if len(cols) == 0 {
		return features.TrainingSet{}, platform.NotFound("historical job %s: its entity rows (%s) are not in this offline store", id, stagedTable(id))
	}
	set, err := t.build(ctx, id, p)
	if err != nil {
		return set, err
	}
	lin := *j.Lineage
	lin.SQL, lin.Rows, lin.SHA256 = set.Lineage.SQL, set.Lineage.Rows, set.Lineage.SHA256
	set.Lineage = lin
	return set, nil
}

// Finish records a built training set. Only the first call for a job writes it.
func (t *TrainingSets) Finish(ctx context.Context, id string, set features.TrainingSet) error {
	_, err := t.s.DB.Exec(ctx, `UPDATE feature_jobs SET status = 'succeeded', rows = $2, object_key = $3, sql = $4, result_sha256 = $5,
		finished_at = now() WHERE id = $1 AND status IN ('queued', 'running')`,
		id, set.Lineage.Rows, set.ObjectKey, set.Lineage.SQL, set.Lineage.SHA256)
	return err
}

// Fail records that a job's training set could not be built. Only an unfinished job is
// marked; the details stay in the log, the job says what its caller can act on.
func (t *TrainingSets) Fail(ctx context.Context, id string) error {
	msg := "the training set could not be built; the server log has the details under job " + id
	_, err := t.s.DB.Exec(ctx, `UPDATE feature_jobs SET status = 'failed', error = $2, finished_at = now()
		WHERE id = $1 AND status IN ('queued', 'running')`, id, msg)
	return err
}

// SetBeforeUpload sets a function that runs after a job's training set is written locally
// and before it is uploaded (nil removes it): tests hold a build there to kill its process.
func (t *TrainingSets) SetBeforeUpload(fn func(jobID string)) {
	if fn == nil {
		t.s.beforeUpload.Store(nil)
		return
	}
	t.s.beforeUpload.Store(&fn)
}

// Release drops a finished job's staged entity rows.
func (t *TrainingSets) Release(ctx context.Context, id string) error {
	if t.s.Offline == nil {
		return errors.New("the offline store is not open")
	}
	_, err := t.s.Offline.DB().ExecContext(ctx, `DROP TABLE IF EXISTS `+qi(stagedTable(id)))
	return err
}
