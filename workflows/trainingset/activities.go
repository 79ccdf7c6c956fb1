package trainingset

import (
	"context"
	"errors"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/workflows"
)

// Jobs is the feature store's side of a training-set job. Each method may run more than
// once for one job and must leave the same outcome: Build writes the same object under the
// same key, Finish and Fail write the job only while it is unfinished, Release drops what
// may already be gone. Build's errors of kind Invalid, NotFound or Conflict are final.
type Jobs interface {
	Build(ctx context.Context, jobID string) (features.TrainingSet, error)
	Finish(ctx context.Context, jobID string, set features.TrainingSet) error
	Fail(ctx context.Context, jobID string) error
	Release(ctx context.Context, jobID string) error
}

// Activities run a job's steps against the feature store.
type Activities struct {
	jobs Jobs
	log  *slog.Logger
}

// NewActivities returns the activities over jobs.
func NewActivities(jobs Jobs, log *slog.Logger) *Activities { return &Activities{jobs: jobs, log: log} }

// Register adds the activities to a worker.
func (a *Activities) Register(w worker.Registry) {
	w.RegisterActivityWithOptions(a.Build, activity.RegisterOptions{Name: activityBuild})
	w.RegisterActivityWithOptions(a.Finish, activity.RegisterOptions{Name: activityFinish})
	w.RegisterActivityWithOptions(a.Fail, activity.RegisterOptions{Name: activityFail})
	w.RegisterActivityWithOptions(a.Release, activity.RegisterOptions{Name: activityRelease})
}

// Build builds the job's training set, heartbeating while it runs so that a dead worker's
// attempt is given up within heartbeatTimeout.
func (a *Activities) Build(ctx context.Context, in Input) (features.TrainingSet, error) {
	beat, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-beat.Done():
				return
			case <-tick.C:
				activity.RecordHeartbeat(beat)
			}
		}
	}()
	set, err := a.jobs.Build(ctx, in.JobID)
	if err == nil {
		return set, nil
	}
	attempt := activity.GetInfo(ctx).Attempt
	a.log.Error("training set build failed", "job", in.JobID, "attempt", attempt, "error", err)
	switch platform.KindOf(err) {
	case platform.KindInvalid, platform.KindNotFound, platform.KindConflict:
		return set, temporal.NewNonRetryableApplicationError(err.Error(), "final", err)
	}
	return set, err
}

// Finish records the built set.
func (a *Activities) Finish(ctx context.Context, in Input, set features.TrainingSet) error {
	return a.jobs.Finish(ctx, in.JobID, set)
}

// Fail records that the set could not be built.
func (a *Activities) Fail(ctx context.Context, in Input) error { return a.jobs.Fail(ctx, in.JobID) }

// Release drops the job's staged entity rows.
func (a *Activities) Release(ctx context.Context, in Input) error {
	return a.jobs.Release(ctx, in.JobID)
}

// Runner starts jobs' workflows on a task queue polled by the process that owns the
// offline store. It is the feature store's JobRunner.
type Runner struct {
	temporal  *workflows.Client
	taskQueue string
}

// NewRunner returns a runner that starts workflows through c on taskQueue.
func NewRunner(c *workflows.Client, taskQueue string) *Runner {
	return &Runner{temporal: c, taskQueue: taskQueue}
}

// RunTrainingSet starts the job's workflow unless it runs or ran: a workflow id is never
// reused, so a job is built by one workflow however often this is called.
func (r *Runner) RunTrainingSet(ctx context.Context, jobID string) error {
	if r.temporal.Client == nil {
		return platform.Unavailable(errors.New("not connected"), "Temporal")
	}
	_, err := r.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       WorkflowID(jobID),
		TaskQueue:                r.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, TrainingSet, Input{JobID: jobID})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil // it ran already
	}
	if err != nil {
		return platform.Unavailable(err, "Temporal")
	}
	return nil
}
