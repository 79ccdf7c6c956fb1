package training

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/platform"
)

// These tests are about the workflow's steps, retries and failure record, so the ports are
// recorders; the activities run for real against the dev stack in app/
// (TestFeatureStoreOnTheDevStack trains entry-risk through this workflow).

type recorder struct {
	calls      []string
	prepareErr error
	setStates  []string // successive statuses of the training-set job
	trainErrs  []error
}

func (r *recorder) Model(_ context.Context, name string) (models.ModelSpec, int, int64, error) {
	r.calls = append(r.calls, "model "+name)
	if r.prepareErr != nil {
		return models.ModelSpec{}, 0, 0, r.prepareErr
	}
	return models.ModelSpec{Name: name, FeatureService: "svc", Rows: models.TrainingRows{Table: "t", SQL: "SELECT * FROM {{batch}}",
		TimestampColumn: "ts", Label: "y"}}, 3, 9, nil
}

func (r *recorder) SubmitTrainingSet(_ context.Context, req features.TrainingRowsRequest) (string, []string, error) {
	r.calls = append(r.calls, "submit "+req.FeatureService+" "+req.Table+" "+req.Key)
	return "job1", []string{"k", "ts", "y"}, nil
}

func (r *recorder) TrainingSet(_ context.Context, jobID string) (string, string, features.TrainingLineage, error) {
	state := "succeeded"
	if len(r.setStates) > 0 {
		state, r.setStates = r.setStates[0], r.setStates[1:]
	}
	r.calls = append(r.calls, "set "+jobID+" "+state)
	return state, "no rows", features.TrainingLineage{Rows: 1, SHA256: "ab"}, nil
}

func (r *recorder) OpenTrainingSet(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("k,ts,y\n")), nil
}

func (r *recorder) Train(_ context.Context, in models.TrainingInput) (models.TrainingResult, error) {
	r.calls = append(r.calls, "train "+in.TrainingSetJob)
	if len(r.trainErrs) > 0 {
		err := r.trainErrs[0]
		r.trainErrs = r.trainErrs[1:]
		if err != nil {
			return models.TrainingResult{}, err
		}
	}
	return models.TrainingResult{Model: in.Spec.Name, Version: "1", RunID: "r1"}, nil
}

func (r *recorder) RecordFailedTraining(_ context.Context, model, id, _, reason string) error {
	r.calls = append(r.calls, "failed "+model+" "+id)
	return nil
}

func run(t *testing.T, r *recorder) (models.TrainingResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	RegisterWorkflows(env)
	acts := NewActivities(r, r, r, slog.New(slog.DiscardHandler))
	env.RegisterActivityWithOptions(acts.Prepare, activity.RegisterOptions{Name: activityPrepare})
	env.RegisterActivityWithOptions(acts.AwaitSet, activity.RegisterOptions{Name: activityAwait})
	env.RegisterActivityWithOptions(acts.Train, activity.RegisterOptions{Name: activityTrain})
	env.RegisterActivityWithOptions(acts.Fail, activity.RegisterOptions{Name: activityFail})
	env.ExecuteWorkflow(TrainModel, Input{Model: "entry-risk", TrainingID: "t1", Actor: "ana"})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res models.TrainingResult
	err := env.GetWorkflowError()
	if err == nil {
		if gerr := env.GetWorkflowResult(&res); gerr != nil {
			t.Fatal(gerr)
		}
	}
	return res, err
}

func TestATrainingPreparesAwaitsTheSetThenTrains(t *testing.T) {
	r := &recorder{setStates: []string{"queued", "running", "succeeded"}}
	res, err := run(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"model entry-risk", "submit svc t training-t1", "set job1 queued", "set job1 running", "set job1 succeeded", "train job1"}
	if !slices.Equal(r.calls, want) || res.Version != "1" {
		t.Fatalf("calls %q, result %+v", r.calls, res)
	}
}

// A spec the catalog does not have is final: no retry, and the failure is recorded.
func TestAnUnknownModelFailsOnceAndIsRecorded(t *testing.T) {
	r := &recorder{prepareErr: platform.NotFound("no model nope in the catalog")}
	if _, err := run(t, r); err == nil {
		t.Fatal("an unknown model must fail the training")
	}
	want := []string{"model entry-risk", "failed entry-risk t1"}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("calls %q", r.calls)
	}
}

// A training set that failed to build fails the training without training.
func TestAFailedSetFailsTheTraining(t *testing.T) {
	r := &recorder{setStates: []string{"failed"}}
	_, err := run(t, r)
	if err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Fatalf("err = %v", err)
	}
	if slices.Contains(r.calls, "train job1") || r.calls[len(r.calls)-1] != "failed entry-risk t1" {
		t.Fatalf("calls %q", r.calls)
	}
}

// A transient failure while training (the database away) is retried with the same set.
func TestATransientTrainFailureIsRetried(t *testing.T) {
	r := &recorder{trainErrs: []error{errors.New("connection reset"), nil}}
	if _, err := run(t, r); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range r.calls {
		if c == "train job1" {
			n++
		}
	}
	if n != 2 || slices.Contains(r.calls, "failed entry-risk t1") {
		t.Fatalf("calls %q", r.calls)
	}
}

// TestReplayRecordedHistories replays histories recorded from the real dev server
// (CODEXION_RECORD_HISTORY=1 go test ./app -run TestFeatureStoreOnTheDevStack) against
// today's workflow code: a change that would break running trainings fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*_history.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata/: %v", err)
	}
	for _, f := range files {
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflow(TrainModel)
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
