package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/workflows/training"
)

// waitTraining polls a training until it ends.
func waitTraining(t *testing.T, a *api, model, id string) training.Status {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); ; {
		var st training.Status
		a.do("ml-engineer", "GET", "/v1/models/"+model+"/trainings/"+id, nil, &st)
		if st.State != "running" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("training %s still running", id)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// modelsOnTheDevStack: the demo model was trained at start from the ledger's lines through
// the feature store and Temporal; its version knows its data; training again on the same
// data and spec registers nothing; MLflow's API serves it; a bad spec fails its training
// with a FAILED run and no version.
func modelsOnTheDevStack(t *testing.T, a *api, d *Dev) {
	ctx := context.Background()
	var v models.ModelVersion
	a.do("compliance", "GET", "/v1/models/entry-risk/versions/1", nil, &v)
	var lin models.Lineage
	if err := json.Unmarshal(v.Lineage, &lin); err != nil {
		t.Fatalf("version 1 has no lineage: %v (%s)", err, v.Lineage)
	}
	if v.Status != models.VersionReady || lin.TrainingSet.SHA256 == "" || lin.TrainingSet.Rows < 1000 || lin.TrainingSet.Service == nil ||
		lin.TrainingSet.Service.Name != "entry_risk" || lin.Evaluation.Positives == 0 || lin.Evaluation.ROCAUC <= 0.5 || lin.TrainRows+lin.TestRows != int(lin.TrainingSet.Rows) {
		t.Fatalf("version 1: %+v lineage %+v", v, lin)
	}
	t.Logf("entry-risk v1: %d rows (%d to learn, %d held out from %s), ROC AUC %.3f, PR AUC %.3f, %d positives held out",
		lin.TrainingSet.Rows, lin.TrainRows, lin.TestRows, lin.TestFrom.Format(time.DateOnly), lin.Evaluation.ROCAUC, lin.Evaluation.PRAUC, lin.Evaluation.Positives)

	// Train again with a key (earlier subtests posted entries, so the data may have moved:
	// a new version if so); the same key again is the same training; another training on
	// the same spec and data then finds that version and registers nothing.
	var started, again, third models.TrainingStarted
	for _, c := range []struct {
		out *models.TrainingStarted
		key string
	}{{&started, "retrain-1"}, {&again, "retrain-1"}, {&third, "retrain-2"}} {
		if _, err := a.as("ml-engineer").Do(ctx, "POST", "/v1/models/entry-risk/train", nil, c.out, "Idempotency-Key", c.key); err != nil {
			t.Fatal(err)
		}
		if c.out == &third {
			break
		}
		waitTraining(t, a, "entry-risk", c.out.TrainingID)
	}
	if started.TrainingID == "" || again.TrainingID != started.TrainingID || third.TrainingID == started.TrainingID {
		t.Fatalf("train requests: %+v, %+v, %+v", started, again, third)
	}
	first := waitTraining(t, a, "entry-risk", started.TrainingID)
	st := waitTraining(t, a, "entry-risk", third.TrainingID)
	if first.State != "succeeded" || st.State != "succeeded" || st.Result == nil || !st.Result.Existing || st.Result.Version != first.Result.Version {
		t.Fatalf("training again on the same data: %+v then %+v", first.Result, st.Result)
	}
	if os.Getenv("CODEXION_RECORD_HISTORY") != "" {
		recordHistory(t, ctx, d, training.WorkflowID(started.TrainingID), filepath.Join("..", "workflows", "training", "testdata", "train_model_history.json"))
	}
	if p := a.refused("ml-engineer", "POST", "/v1/models/nope/train", nil); p.Status != 404 {
		t.Errorf("training an undeclared model: %d %s", p.Status, p.Detail)
	}
	if p := a.refused("finance", "POST", "/v1/models/entry-risk/train", nil); p.Status != 403 {
		t.Errorf("finance training a model: %d %s", p.Status, p.Detail)
	}

	// MLflow's API serves the same version, and its model file downloads checked.
	mlflow := func(path string, out any) {
		req, _ := http.NewRequest(http.MethodGet, a.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if b, ok := out.(*[]byte); ok {
			*b = body
			return
		}
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatal(err)
		}
	}
	var uri struct {
		ArtifactURI string `json:"artifact_uri"`
	}
	mlflow("/api/2.0/mlflow/model-versions/get-download-uri?name=entry-risk&version=1", &uri)
	var file []byte
	mlflow("/api/2.0/mlflow-artifacts/artifacts/"+strings.TrimPrefix(uri.ArtifactURI, "mlflow-artifacts:/")+"/model.json", &file)
	var mf models.ModelFile
	if err := json.Unmarshal(file, &mf); err != nil || mf.Model.Kind != "logistic_regression" || len(mf.Model.Coef) != len(lin.Signature.Inputs) {
		t.Fatalf("model file: %v %+v", err, mf)
	}

	// A model whose rows query reads a file is refused at training, which fails with a
	// FAILED run saying why, and registers nothing.
	spec := strings.Replace(mustRead(t, "../examples/ledger/models/entry-risk.yaml"), "name: entry-risk", "name: bad-rows", 1)
	spec = strings.Replace(spec, "FROM {{batch}}", "FROM {{batch}}, read_text('/etc/passwd')", 1)
	a.do("data-engineer", "POST", "/v1/catalog/apply", catalog.ApplyRequest{Documents: []catalog.Document{{File: "bad.yaml", Content: spec}}}, nil)
	var bad models.TrainingStarted
	a.do("ml-engineer", "POST", "/v1/models/bad-rows/train", nil, &bad)
	if st := waitTraining(t, a, "bad-rows", bad.TrainingID); st.State != "failed" || !strings.Contains(st.Error, "read_text") {
		t.Fatalf("a training whose rows read a file: %+v", st)
	}
	runs, _, err := d.App.Models.SearchRuns(ctx, models.RunSearch{ExperimentIDs: []string{experimentID(t, d, "codexion/models/bad-rows")}})
	if err != nil || len(runs) != 1 || runs[0].Info.Status != models.RunFailed {
		t.Fatalf("runs of the failed training: %v %v", runs, err)
	}
	if _, err := d.App.Models.GetRegisteredModel(ctx, "bad-rows"); err == nil {
		t.Fatal("a failed training registered a model")
	}
}

func experimentID(t *testing.T, d *Dev, name string) string {
	t.Helper()
	e, err := d.App.Models.GetExperimentByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return e.ExperimentID
}

// retrainingOnASchedule: a model that declares retrain_every gets a Temporal Schedule within
// seconds of its apply; a run of it (triggered here rather than waited for) trains through
// TrainModel and registers a version; dropping retrain_every removes the schedule.
func retrainingOnASchedule(t *testing.T, a *api, d *Dev) {
	ctx := context.Background()
	spec := strings.Replace(mustRead(t, "../examples/ledger/models/entry-risk.yaml"), "name: entry-risk", "name: entry-risk-nightly", 1)
	apply := func(content string) {
		a.do("data-engineer", "POST", "/v1/catalog/apply", catalog.ApplyRequest{Documents: []catalog.Document{{File: "nightly.yaml", Content: content}}}, nil)
	}
	apply(spec + "retrain_every: 24h\n")
	sc := d.App.Temporal.ScheduleClient()
	h := sc.GetHandle(ctx, training.ScheduleID("entry-risk-nightly"))
	var desc *client.ScheduleDescription
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if desc, err = h.Describe(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retrain schedule 20 s after the apply: %v", err)
		}
	}
	if iv := desc.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != 24*time.Hour {
		t.Fatalf("schedule intervals = %+v", iv)
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var run string
	for deadline := time.Now().Add(20 * time.Second); run == ""; time.Sleep(200 * time.Millisecond) {
		desc, err := h.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(desc.Info.RecentActions) > 0 {
			run = desc.Info.RecentActions[0].StartWorkflowResult.WorkflowID
		}
		if time.Now().After(deadline) {
			t.Fatal("the triggered schedule started no training")
		}
	}
	// The scheduled run's training id is its workflow id without the prefix, so the API
	// reports it like any training.
	st := waitTraining(t, a, "entry-risk-nightly", strings.TrimPrefix(run, "train-model-"))
	if st.State != "succeeded" || st.Result == nil || st.Result.Version != "1" {
		t.Fatalf("scheduled training %s: %+v", run, st)
	}
	var v models.ModelVersion
	a.do("ml-engineer", "GET", "/v1/models/entry-risk-nightly/versions/1", nil, &v)
	if v.Status != models.VersionReady || v.UserID != training.ScheduledActor {
		t.Fatalf("scheduled version: %+v", v)
	}
	apply(spec)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := h.Describe(ctx); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the schedule outlived retrain_every")
		}
	}
}
