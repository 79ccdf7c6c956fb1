package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// These tests are about the workflow's logic, so the ingest activity is replaced by a fake
// that records what it was asked; the activity itself runs for real in the integration
// tests of app/.

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(IngestPipeline)
	return env
}

// continuedWith returns the input the workflow continued as new with.
func continuedWith(t *testing.T, env *testsuite.TestWorkflowEnvironment) IngestParams {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	var next IngestParams
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	return next
}

func status(t *testing.T, env *testsuite.TestWorkflowEnvironment) IngestState {
	t.Helper()
	v, err := env.QueryWorkflow(QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st IngestState
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A new version rolls the workflow over (continue-as-new) with its counters.
func TestIngestRollsOverToANewVersion(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.RegisterActivityWithOptions(func(_ context.Context, req IngestRequest) (IngestResult, error) {
		calls++
		if req.Version != 1 {
			t.Errorf("asked for version %d", req.Version)
		}
		if calls == 2 {
			return IngestResult{Events: 1, Rows: 2, NewVersion: 2}, nil
		}
		return IngestResult{Events: 10, Rows: 30}, nil
	}, activity.RegisterOptions{Name: activityIngest})
	env.ExecuteWorkflow(IngestPipeline, IngestParams{Pipeline: "p", Version: 1, For: time.Second})
	next := continuedWith(t, env)
	if next.Version != 2 || next.State.Rows != 32 || next.State.Events != 11 || next.State.Generation != 1 || next.State.Runs != 2 {
		t.Fatalf("continued with %+v", next)
	}
}

// A run that keeps failing leaves its error in the status query; the workflow waits and
// tries again, and the first successful run clears the error.
func TestIngestReportsFailuresAndRecovers(t *testing.T) {
	env := newEnv(t)
	attempts := 0
	env.RegisterActivityWithOptions(func(_ context.Context, _ IngestRequest) (IngestResult, error) {
		attempts++
		switch {
		case attempts <= 3: // the first run and its two retries
			return IngestResult{}, errors.New("Conversion Error: Could not convert string 'acme' to INT32")
		case attempts == 4:
			return IngestResult{Events: 5, Rows: 5}, nil
		}
		return IngestResult{Removed: true}, nil
	}, activity.RegisterOptions{Name: activityIngest})
	var during IngestState
	env.RegisterDelayedCallback(func() { during = status(t, env) }, 5*time.Second) // in the backoff after the failed run
	env.ExecuteWorkflow(IngestPipeline, IngestParams{Pipeline: "p", Version: 1, For: time.Second})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if during.ConsecutiveFailures != 1 || during.LastError == "" {
		t.Fatalf("status during the failure: %+v", during)
	}
	if attempts != 5 {
		t.Fatalf("%d activity attempts; want 3 (bounded retries) + 1 success + 1", attempts)
	}
	final := status(t, env)
	if final.LastError != "" || final.ConsecutiveFailures != 0 || final.Rows != 5 {
		t.Fatalf("status after recovery: %+v", final)
	}
}

// Pause and resume are tested against the real dev server in app/ (TestPipelinesOnTemporal).

// A failure followed by a roll-over to a fixed version: the error does not travel on.
func TestIngestFailureThenNewVersion(t *testing.T) {
	env := newEnv(t)
	attempts := 0
	env.RegisterActivityWithOptions(func(_ context.Context, _ IngestRequest) (IngestResult, error) {
		attempts++
		if attempts <= 3 {
			return IngestResult{}, errors.New("bad transform")
		}
		return IngestResult{NewVersion: 2}, nil
	}, activity.RegisterOptions{Name: activityIngest})
	env.ExecuteWorkflow(IngestPipeline, IngestParams{Pipeline: "p", Version: 1, For: time.Second})
	next := continuedWith(t, env)
	if next.Version != 2 || next.State.LastError != "" {
		t.Fatalf("continued with %+v", next.State)
	}
}
