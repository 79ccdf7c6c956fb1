package trainingset

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/platform"
)

// These tests are about the workflow's order of steps and its retries, so the feature
// store behind the activities is a recorder; the activities run for real against the dev
// stack in app/ (TestFeatureStoreOnTheDevStack builds training sets through this workflow).

type recorder struct {
	calls     []string
	buildErrs []error // returned by successive Build calls; nil once exhausted
	finishErr int     // Finish fails this many times before it succeeds
}

func (r *recorder) Build(_ context.Context, jobID string) (features.TrainingSet, error) {
	r.calls = append(r.calls, "build "+jobID)
	if len(r.buildErrs) > 0 {
		err := r.buildErrs[0]
		r.buildErrs = r.buildErrs[1:]
		if err != nil {
			return features.TrainingSet{}, err
		}
	}
	return features.TrainingSet{ObjectKey: "training-sets/" + jobID + ".parquet", Lineage: features.TrainingLineage{Rows: 3, SHA256: "ab"}}, nil
}

func (r *recorder) Finish(_ context.Context, jobID string, set features.TrainingSet) error {
	r.calls = append(r.calls, "finish "+jobID+" "+set.ObjectKey)
	if r.finishErr > 0 {
		r.finishErr--
		return errors.New("database unavailable")
	}
	return nil
}

func (r *recorder) Fail(_ context.Context, jobID string) error {
	r.calls = append(r.calls, "fail "+jobID)
	return nil
}

func (r *recorder) Release(_ context.Context, jobID string) error {
	r.calls = append(r.calls, "release "+jobID)
	return nil
}

func run(t *testing.T, r *recorder) (features.TrainingSet, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	RegisterWorkflows(env)
	acts := NewActivities(r, slog.New(slog.DiscardHandler))
	env.RegisterActivityWithOptions(acts.Build, activity.RegisterOptions{Name: activityBuild})
	env.RegisterActivityWithOptions(acts.Finish, activity.RegisterOptions{Name: activityFinish})
	env.RegisterActivityWithOptions(acts.Fail, activity.RegisterOptions{Name: activityFail})
	env.RegisterActivityWithOptions(acts.Release, activity.RegisterOptions{Name: activityRelease})
	env.ExecuteWorkflow(TrainingSet, Input{JobID: "j1"})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var set features.TrainingSet
	err := env.GetWorkflowError()
	if err == nil {
		if gerr := env.GetWorkflowResult(&set); gerr != nil {
			t.Fatal(gerr)
		}
	}
	return set, err
}

func TestBuiltSetIsRecordedThenReleased(t *testing.T) {
	r := &recorder{}
	set, err := run(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"build j1", "finish j1 training-sets/j1.parquet", "release j1"}
	if !slices.Equal(r.calls, want) || set.Lineage.Rows != 3 {
		t.Fatalf("calls %q, set %+v", r.calls, set)
	}
}

// A transient failure (the offline store busy, a worker lost) is retried; the job is built
// once it succeeds.
func TestTransientBuildFailureIsRetried(t *testing.T) {
	r := &recorder{buildErrs: []error{errors.New("offline store busy"), errors.New("offline store busy")}}
	if _, err := run(t, r); err != nil {
		t.Fatal(err)
	}
	want := []string{"build j1", "build j1", "build j1", "finish j1 training-sets/j1.parquet", "release j1"}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("calls %q", r.calls)
	}
}

// A request the store refuses (an unknown feature, a bad entity table) is final: one
// attempt, the job is failed and its rows released, and the workflow reports the reason.
func TestRefusedBuildFailsTheJobOnce(t *testing.T) {
	r := &recorder{buildErrs: []error{platform.Invalid("feature view nope is not in the catalog")}}
	_, err := run(t, r)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() {
		t.Fatalf("want a final application error, got %v", err)
	}
	want := []string{"build j1", "fail j1", "release j1"}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("calls %q", r.calls)
	}
}

// A build that keeps failing for a transient reason gives up after buildAttempts and
// records the failure.
func TestBuildGivesUpAfterItsAttempts(t *testing.T) {
	errs := make([]error, buildAttempts)
	for i := range errs {
		errs[i] = errors.New("disk full")
	}
	r := &recorder{buildErrs: errs}
	if _, err := run(t, r); err == nil {
		t.Fatal("a build that always fails must fail the workflow")
	}
	builds := 0
	for _, c := range r.calls {
		if c == "build j1" {
			builds++
		}
	}
	if builds != buildAttempts || !slices.Equal(r.calls[builds:], []string{"fail j1", "release j1"}) {
		t.Fatalf("calls %q", r.calls)
	}
}

// A built set whose record fails (the database away) is recorded once it answers, not
// rebuilt: recording retries on its own.
func TestRecordingRetriesWithoutRebuilding(t *testing.T) {
	r := &recorder{finishErr: 2}
	if _, err := run(t, r); err != nil {
		t.Fatal(err)
	}
	want := []string{"build j1", "finish j1 training-sets/j1.parquet", "finish j1 training-sets/j1.parquet",
		"finish j1 training-sets/j1.parquet", "release j1"}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("calls %q", r.calls)
	}
}

// TestReplayRecordedHistories replays a history recorded from the real dev server
// (CODEXION_RECORD_HISTORY=1 go test ./app -run TestFeatureStoreOnTheDevStack) against
// today's workflow code: a change that would break running jobs fails here and needs
// workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*_history.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata/: %v", err)
	}
	for _, f := range files {
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflow(TrainingSet)
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
