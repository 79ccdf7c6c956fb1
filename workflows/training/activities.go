package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/workflows"
)

// Catalog is what a training reads of the catalog: the model's spec as applied.
type Catalog interface {
	Model(ctx context.Context, name string) (spec models.ModelSpec, version int, revision int64, err error)
}

// FeatureStore is what a training needs of the feature store, in the process that owns the
// offline store.
type FeatureStore interface {
	// SubmitTrainingSet runs a model's rows query (checked: one SELECT over its table) and
	// starts a training-set job for the service's features at the rows' timestamps. It
	// returns the job and the rows' columns; the same key gets the same job.
	SubmitTrainingSet(ctx context.Context, req features.TrainingRowsRequest) (jobID string, rowColumns []string, err error)
	// TrainingSet reports a job: its status ("queued", "running", "succeeded", "failed"),
	// the reason it failed and, once built, its lineage.
	TrainingSet(ctx context.Context, jobID string) (status, reason string, lineage features.TrainingLineage, err error)
	// OpenTrainingSet reads a built set as CSV.
	OpenTrainingSet(ctx context.Context, jobID string) (io.ReadCloser, error)
}

// Registry is the model registry's side of a training.
type Registry interface {
	Train(ctx context.Context, in models.TrainingInput) (models.TrainingResult, error)
	RecordFailedTraining(ctx context.Context, model, trainingID, actor, reason string) error
}

// Activities run a training's steps.
type Activities struct {
	catalog  Catalog
	features FeatureStore
	registry Registry
	log      *slog.Logger
}

// NewActivities returns the activities over their ports.
func NewActivities(c Catalog, f FeatureStore, r Registry, log *slog.Logger) *Activities {
	return &Activities{catalog: c, features: f, registry: r, log: log}
}

// Register adds the activities to a worker.
func (a *Activities) Register(w worker.Registry) {
	w.RegisterActivityWithOptions(a.Prepare, activity.RegisterOptions{Name: activityPrepare})
	w.RegisterActivityWithOptions(a.AwaitSet, activity.RegisterOptions{Name: activityAwait})
	w.RegisterActivityWithOptions(a.Train, activity.RegisterOptions{Name: activityTrain})
	w.RegisterActivityWithOptions(a.Fail, activity.RegisterOptions{Name: activityFail})
}

// final makes errors the caller must fix non-retryable: retrying cannot change them.
func final(err error) error {
	switch platform.KindOf(err) {
	case platform.KindInvalid, platform.KindNotFound, platform.KindConflict:
		return temporal.NewNonRetryableApplicationError(err.Error(), "final", err)
	}
	return err
}

// Prepare reads the spec, runs its rows query and submits the training-set job.
func (a *Activities) Prepare(ctx context.Context, in Input) (Prepared, error) {
	spec, version, revision, err := a.catalog.Model(ctx, in.Model)
	if err != nil {
		return Prepared{}, final(err)
	}
	maxRows := spec.Rows.MaxRows
	if maxRows == 0 {
		maxRows = models.MaxTrainingRows
	}
	job, cols, err := a.features.SubmitTrainingSet(ctx, features.TrainingRowsRequest{FeatureService: spec.FeatureService,
		Table: spec.Rows.Table, SQL: spec.Rows.SQL, TimestampColumn: spec.Rows.TimestampColumn, MaxRows: maxRows,
		Key: "training-" + in.TrainingID, Actor: in.Actor})
	if err != nil {
		return Prepared{}, final(fmt.Errorf("model %s: training set: %w", spec.Name, err))
	}
	return Prepared{Spec: spec, SpecVersion: version, CatalogRevision: revision, JobID: job, RowColumns: cols}, nil
}

// awaitPoll is how often AwaitSet asks about the job.
const awaitPoll = 500 * time.Millisecond

// AwaitSet waits for the training-set job, heartbeating, and returns its lineage.
func (a *Activities) AwaitSet(ctx context.Context, jobID string) (features.TrainingLineage, error) {
	tick := time.NewTicker(awaitPoll)
	defer tick.Stop()
	for {
		status, reason, lineage, err := a.features.TrainingSet(ctx, jobID)
		if err != nil {
			return lineage, err
		}
		switch status {
		case "succeeded":
			return lineage, nil
		case "failed":
			return lineage, temporal.NewNonRetryableApplicationError("training set "+jobID+" failed: "+reason, "final", nil)
		}
		activity.RecordHeartbeat(ctx, status)
		select {
		case <-ctx.Done():
			return lineage, ctx.Err()
		case <-tick.C:
		}
	}
}

// Train fits, evaluates, logs and registers, heartbeating while it works.
func (a *Activities) Train(ctx context.Context, in Input, p Prepared, lineage features.TrainingLineage) (models.TrainingResult, error) {
	beat, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-beat.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(beat)
			}
		}
	}()
	set, err := a.features.OpenTrainingSet(ctx, p.JobID)
	if err != nil {
		return models.TrainingResult{}, err
	}
	defer func() { _ = set.Close() }()
	res, err := a.registry.Train(ctx, models.TrainingInput{TrainingID: in.TrainingID, Spec: p.Spec, SpecVersion: p.SpecVersion,
		CatalogRevision: p.CatalogRevision, TrainingSetJob: p.JobID, Lineage: lineage, RowColumns: p.RowColumns, CSV: set, Actor: in.Actor})
	if err != nil {
		a.log.Error("training failed", "model", in.Model, "training", in.TrainingID, "error", err)
		return res, final(err)
	}
	return res, nil
}

// Fail records a failed training: its run FAILED with the reason.
func (a *Activities) Fail(ctx context.Context, in Input, reason string) error {
	return a.registry.RecordFailedTraining(ctx, in.Model, in.TrainingID, in.Actor, reason)
}

// Runner starts trainings on the task queue of the process that owns the offline store.
type Runner struct {
	temporal  *workflows.Client
	taskQueue string
}

// NewRunner returns a runner that starts workflows through c on taskQueue.
func NewRunner(c *workflows.Client, taskQueue string) *Runner {
	return &Runner{temporal: c, taskQueue: taskQueue}
}

// Start starts the training's workflow unless it runs or ran (the same id is the same
// training), and returns its workflow id.
func (r *Runner) Start(ctx context.Context, in Input) (string, error) {
	if r.temporal.Client == nil {
		return "", platform.Unavailable(errors.New("not connected"), "Temporal")
	}
	id := WorkflowID(in.TrainingID)
	_, err := r.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: r.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, TrainModel, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return "", platform.Unavailable(err, "Temporal")
	}
	return id, nil
}

// Status is a training's state as its workflow reports it.
type Status struct {
	TrainingID string                 `json:"training_id"`
	Model      string                 `json:"model"`
	State      string                 `json:"state"` // running, succeeded, failed
	Error      string                 `json:"error,omitempty"`
	Result     *models.TrainingResult `json:"result,omitempty"`
}

// Status reports a training.
func (r *Runner) Status(ctx context.Context, model, trainingID string) (Status, error) {
	if r.temporal.Client == nil {
		return Status{}, platform.Unavailable(errors.New("not connected"), "Temporal")
	}
	st := Status{TrainingID: trainingID, Model: model, State: "running"}
	desc, err := r.temporal.DescribeWorkflow(ctx, WorkflowID(trainingID), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return Status{}, platform.NotFound("no training %s", trainingID)
	}
	if err != nil {
		return Status{}, platform.Unavailable(err, "Temporal")
	}
	if desc.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return st, nil
	}
	var res models.TrainingResult
	err = r.temporal.GetWorkflow(ctx, WorkflowID(trainingID), "").Get(ctx, &res)
	if err != nil {
		st.State, st.Error = "failed", err.Error()
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			st.Error = app.Error()
		}
		return st, nil
	}
	st.State, st.Result = "succeeded", &res
	return st, nil
}
