// Package training runs a declared model's training as a Temporal workflow: the rows are
// picked and a training set built through the feature store (point in time, with its
// lineage), then the model is fitted, evaluated, logged and registered. Each step may run
// again after a crash and leaves the same outcome: the training set is submitted under the
// training's own idempotency key, the run is found again by the training's id, and a version
// is registered once for the same spec and data. Workflow code here is deterministic; it
// never touches a store itself.
package training

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/models"
)

// Activity names, under a prefix so that they share a worker with others.
const (
	activityPrefix  = "TrainModel"
	activityPrepare = activityPrefix + "Prepare"
	activityAwait   = activityPrefix + "AwaitSet"
	activityTrain   = activityPrefix + "Train"
	activityFail    = activityPrefix + "Fail"
)

// Bounds of a training.
const (
	prepareTimeout   = 10 * time.Minute
	awaitTimeout     = 2 * time.Hour
	trainTimeout     = 2 * time.Hour
	heartbeatEvery   = time.Second
	heartbeatTimeout = 30 * time.Second
	attempts         = 5
)

// Input names the training a workflow runs.
type Input struct {
	Model      string `json:"model"`
	TrainingID string `json:"training_id"`
	Actor      string `json:"actor"`
}

// WorkflowID is a training's workflow id: one training, one workflow.
func WorkflowID(trainingID string) string { return workflowIDPrefix + trainingID }

const workflowIDPrefix = "train-model-"

// Prepared is what the first step fixed: the spec as applied and the training-set job.
type Prepared struct {
	Spec            models.ModelSpec `json:"spec"`
	SpecVersion     int              `json:"spec_version"`
	CatalogRevision int64            `json:"catalog_revision"`
	JobID           string           `json:"job_id"`
	RowColumns      []string         `json:"row_columns"`
}

// RegisterWorkflows adds the training workflow to a worker.
func RegisterWorkflows(w worker.Registry) { w.RegisterWorkflow(TrainModel) }

// TrainModel trains one model: prepare (rows and the training-set job), await the set, train
// and register. A step refused for its input (an unknown model, SQL that does not check, a
// set with one class) fails at once; a transient failure is retried. A training that fails
// records a FAILED run with the reason.
func TrainModel(ctx workflow.Context, in Input) (models.TrainingResult, error) {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: attempts}
	opts := func(timeout time.Duration, heartbeat bool) workflow.Context {
		o := workflow.ActivityOptions{StartToCloseTimeout: timeout, RetryPolicy: retry}
		if heartbeat {
			o.HeartbeatTimeout = heartbeatTimeout
		}
		return workflow.WithActivityOptions(ctx, o)
	}
	var (
		p       Prepared
		lineage features.TrainingLineage
		res     models.TrainingResult
	)
	if in.TrainingID == "" {
		// A run a schedule started: its workflow id (unique per scheduled time) names it.
		in.TrainingID = strings.TrimPrefix(workflow.GetInfo(ctx).WorkflowExecution.ID, workflowIDPrefix)
	}
	err := workflow.ExecuteActivity(opts(prepareTimeout, false), activityPrepare, in).Get(ctx, &p)
	if err == nil {
		err = workflow.ExecuteActivity(opts(awaitTimeout, true), activityAwait, p.JobID).Get(ctx, &lineage)
	}
	if err == nil {
		err = workflow.ExecuteActivity(opts(trainTimeout, true), activityTrain, in, p, lineage).Get(ctx, &res)
		if err == nil {
			return res, nil
		}
	}
	record := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute}})
	if ferr := workflow.ExecuteActivity(record, activityFail, in, err.Error()).Get(ctx, nil); ferr != nil {
		return res, ferr
	}
	return res, err
}
