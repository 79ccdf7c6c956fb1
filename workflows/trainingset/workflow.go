// Package trainingset runs training-set jobs as Temporal workflows: one TrainingSet workflow
// per job, with an id derived from the job's, whose activities build the set in the process
// that owns the offline store, upload it and record it. A job survives the death of the
// process running it: the build is retried elsewhere or after a restart, the upload goes to
// the same key with the same bytes, and the job is recorded once. Workflow code here is
// deterministic; it never touches a store itself.
package trainingset

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/codexion/codexion/features"
)

// Activity names, registered under a prefix so that they share a worker with others.
const (
	activityPrefix  = "TrainingSet"
	activityBuild   = activityPrefix + "Build"
	activityFinish  = activityPrefix + "Finish"
	activityFail    = activityPrefix + "Fail"
	activityRelease = activityPrefix + "Release"
)

// Bounds of a job. A build heartbeats every heartbeatEvery; a worker that stops doing so
// (killed, partitioned) loses the attempt after heartbeatTimeout and another attempt starts
// wherever the task queue is polled.
const (
	buildTimeout     = time.Hour
	buildAttempts    = 5
	heartbeatEvery   = time.Second
	heartbeatTimeout = 10 * time.Second
	recordTimeout    = 30 * time.Second
)

// Input names the job a workflow runs.
type Input struct {
	JobID string `json:"job_id"`
}

// WorkflowID is the id of a job's workflow: one job, one workflow, ever.
func WorkflowID(jobID string) string { return "training-set-" + jobID }

// RegisterWorkflows adds the training-set workflow to a worker.
func RegisterWorkflows(w worker.Registry) { w.RegisterWorkflow(TrainingSet) }

// TrainingSet builds one job's training set and records the outcome: the set and its
// lineage, or the failure. Recording retries until the database answers, since a built set
// that is never recorded is a job that never ends. The staged entity rows are released last.
func TrainingSet(ctx workflow.Context, in Input) (features.TrainingSet, error) {
	build := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: buildTimeout,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: buildAttempts},
	})
	record := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: recordTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var set features.TrainingSet
	buildErr := workflow.ExecuteActivity(build, activityBuild, in).Get(ctx, &set)
	var err error
	if buildErr == nil {
		err = workflow.ExecuteActivity(record, activityFinish, in, set).Get(ctx, nil)
	} else {
		err = workflow.ExecuteActivity(record, activityFail, in).Get(ctx, nil)
	}
	if err != nil {
		return set, err
	}
	if err := workflow.ExecuteActivity(record, activityRelease, in).Get(ctx, nil); err != nil {
		return set, err
	}
	return set, buildErr
}
