// Package ingest runs the feature store's jobs on Temporal: one long-running IngestPipeline
// workflow per applied pipeline, Materialize on Temporal Schedules per feature view (and on
// demand), and Backfill over a range of a topic. Workflow code here is deterministic: it
// uses only the SDK's time, timers, selectors and channels. The activities run in the
// process that owns the offline store, on TaskQueue.
package ingest

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/codexion/codexion/pipelines"
)

// TaskQueue is polled by the process that owns the offline store.
const TaskQueue = "codexion-features"

// Signal and query names.
const (
	SignalPause   = "pause"
	SignalResume  = "resume"
	QueryStatus   = "status"
	maxRunsPerRun = 200 // activity runs before the workflow continues as new
)

// RegisterWorkflows adds the feature store's workflows to a worker.
func RegisterWorkflows(w worker.Registry) {
	w.RegisterWorkflow(IngestPipeline)
	w.RegisterWorkflow(Materialize)
	w.RegisterWorkflow(Backfill)
}

// WorkflowID is the id of a pipeline's workflow.
func WorkflowID(pipeline string) string { return "pipeline-" + pipeline }

// IngestParams start (or continue) a pipeline's workflow.
type IngestParams struct {
	Pipeline string
	Version  int
	// For is how long each activity ingests before it reports back (default 1 minute).
	For   time.Duration
	State IngestState // carried across continue-as-new
}

// IngestState is what the status query answers.
type IngestState struct {
	Pipeline            string    `json:"pipeline"`
	Version             int       `json:"version"`
	Paused              bool      `json:"paused"`
	Runs                int64     `json:"runs"`
	Events              int64     `json:"events"`
	Rows                int64     `json:"rows"`
	DeadLetters         int64     `json:"dead_letters"`
	LastRunAt           time.Time `json:"last_run_at,omitzero"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Generation          int       `json:"generation"` // continue-as-new count
}

// IngestRequest is one activity run.
type IngestRequest struct {
	Pipeline string
	Version  int
	For      time.Duration
}

// IngestResult is what one activity run did.
type IngestResult struct {
	Events, Rows, DeadLetters int64
	// NewVersion is set when the catalog holds another version of the pipeline: the
	// workflow continues as new with it. Removed is set when the pipeline is gone.
	NewVersion int
	Removed    bool
}

// Activity names, as registered by Activities.Register.
const (
	activityIngest      = "IngestBatches"
	activityMaterialize = "MaterializeView"
	activityBackfill    = "BackfillRange"
)

// IngestPipeline runs one pipeline for ever: bounded activity runs that ingest and
// heartbeat, a pause/resume signal pair, a status query, bounded retries of a failing run
// with backoff (the error stays visible until a run succeeds), a roll-over when a new
// version is applied, and continue-as-new before the history grows large.
func IngestPipeline(ctx workflow.Context, p IngestParams) error {
	st := p.State
	st.Pipeline, st.Version = p.Pipeline, p.Version
	if p.For <= 0 {
		p.For = time.Minute
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (IngestState, error) { return st, nil }); err != nil {
		return err
	}
	pause := workflow.GetSignalChannel(ctx, SignalPause)
	resume := workflow.GetSignalChannel(ctx, SignalResume)
	drainSignals := func() {
		for {
			switch {
			case pause.ReceiveAsync(nil):
				st.Paused = true
			case resume.ReceiveAsync(nil):
				st.Paused = false
			default:
				return
			}
		}
	}
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: p.For + 2*time.Minute, // a run stops itself after For; the rest is for its last batch
		HeartbeatTimeout:    20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second,
			MaximumAttempts: 3},
	}
	for range maxRunsPerRun {
		drainSignals()
		if st.Paused {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); st.Paused = false })
			sel.AddReceive(pause, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
			sel.Select(ctx)
			continue
		}
		actx, cancel := workflow.WithCancel(workflow.WithActivityOptions(ctx, ao))
		fut := workflow.ExecuteActivity(actx, activityIngest, IngestRequest{Pipeline: p.Pipeline, Version: p.Version, For: p.For})
		var res IngestResult
		var runErr error
		done, pausedNow := false, false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(fut, func(f workflow.Future) { runErr = f.Get(ctx, &res); done = true })
		sel.AddReceive(pause, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			st.Paused, pausedNow = true, true
			cancel() // the run stops after its current batch
		})
		sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		for !done {
			sel.Select(ctx)
		}
		cancel()
		st.Runs++
		st.Events += res.Events
		st.Rows += res.Rows
		st.DeadLetters += res.DeadLetters
		st.LastRunAt = workflow.Now(ctx)
		var canceled *temporal.CanceledError
		switch {
		case runErr != nil && pausedNow && errors.As(runErr, &canceled):
			// paused: not a failure
		case runErr != nil:
			st.LastError, st.LastErrorAt = runErr.Error(), workflow.Now(ctx)
			st.ConsecutiveFailures++
			// The run's retries are spent; wait, then try again: a fixed spec may have
			// been applied meanwhile (the next run picks it up).
			backoff := 10 * time.Second
			if v := workflow.GetVersion(ctx, "failure-backoff-grows", workflow.DefaultVersion, 1); v >= 1 {
				backoff = min(time.Duration(st.ConsecutiveFailures)*10*time.Second, time.Minute)
			}
			if err := workflow.Sleep(ctx, backoff); err != nil {
				return err
			}
		default:
			st.ConsecutiveFailures = 0
			st.LastError = ""
		}
		if res.Removed {
			return nil
		}
		if res.NewVersion > 0 {
			drainSignals()
			st.Generation++
			return workflow.NewContinueAsNewError(ctx, IngestPipeline, IngestParams{Pipeline: p.Pipeline, Version: res.NewVersion, For: p.For, State: st})
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			break
		}
	}
	drainSignals()
	st.Generation++
	return workflow.NewContinueAsNewError(ctx, IngestPipeline, IngestParams{Pipeline: p.Pipeline, Version: p.Version, For: p.For, State: st})
}

// MaterializeParams name the views to materialize (all online views when empty).
type MaterializeParams struct {
	Views []string
}

// MaterializeResult says how many entities each view wrote.
type MaterializeResult struct {
	Written map[string]int
}

// Materialize refreshes views in the online store (as of the time the activity runs).
func Materialize(ctx workflow.Context, p MaterializeParams) (MaterializeResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var res MaterializeResult
	err := workflow.ExecuteActivity(ctx, activityMaterialize, p).Get(ctx, &res)
	return res, err
}

// BackfillParams name a pipeline and the part of its topic to ingest again.
type BackfillParams struct {
	Pipeline string
	Range    pipelines.Range
}

// BackfillResult says what a backfill added (rows of events never ingested before).
type BackfillResult struct {
	Events, Rows, DeadLetters int64
}

// Backfill ingests a range of a pipeline's topic into its table; events ingested before
// are skipped by id, so running it twice adds nothing.
func Backfill(ctx workflow.Context, p BackfillParams) (BackfillResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
	})
	var res BackfillResult
	err := workflow.ExecuteActivity(ctx, activityBackfill, p).Get(ctx, &res)
	return res, err
}
