package models_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/platform"
)

func entryRiskSpec() models.ModelSpec {
	return models.ModelSpec{Name: "entry-risk", FeatureService: "entry_risk",
		Card: models.ModelCard{Purpose: "flag journal lines for review", Owner: "finance-controls"},
		Rows: models.TrainingRows{Table: "ledger_lines", SQL: "SELECT account, posted_at AS event_timestamp, amount, label FROM {{batch}}",
			TimestampColumn: "event_timestamp", Label: "label"},
		OnDemand:   []string{"amount_log", "odd_hour", "round_amount"},
		Trainer:    models.Trainer{Type: "logistic_regression"},
		Evaluation: models.Evaluation{TestFraction: 0.25}}
}

// trainingCSV is a training set as the feature store writes one: the rows query's columns
// and the service's features, with anomalies at odd hours and round amounts.
func trainingCSV(n int, seed uint64, oneClass bool) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("account,event_timestamp,amount,label,debit_sum_24h,balance\n")
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		anomaly := !oneClass && rng.Float64() < 0.15
		hour, amount := 9+rng.IntN(8), fmt.Sprintf("%.2f", 50+rng.Float64()*900)
		if anomaly {
			hour, amount = 2+rng.IntN(2), fmt.Sprintf("%d.00", (10+rng.IntN(90))*100)
		}
		ts := start.Add(time.Duration(i) * 3 * time.Hour).Truncate(24 * time.Hour).Add(time.Duration(hour) * time.Hour)
		label := 0
		if anomaly {
			label = 1
		}
		debit := ""
		if rng.Float64() < 0.8 {
			debit = fmt.Sprintf("%.2f", rng.Float64()*5000)
		}
		fmt.Fprintf(&b, "acme:%d,%s,%s,%d,%s,%.2f\n", 1000+rng.IntN(20), ts.Format("2006-01-02 15:04:05"), amount, label, debit, rng.NormFloat64()*1000)
	}
	return b.String()
}

func TestTrainingRegistersAVersionThatKnowsItsDataOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	in := func(id, csv string) models.TrainingInput {
		return models.TrainingInput{TrainingID: id, Spec: entryRiskSpec(), SpecVersion: 1, CatalogRevision: 7, TrainingSetJob: "job-1",
			Lineage:    features.TrainingLineage{CatalogRevision: 7, Rows: 400, SHA256: fmt.Sprintf("%x", len(csv))},
			RowColumns: []string{"account", "event_timestamp", "amount", "label"}, CSV: strings.NewReader(csv), Actor: "ana"}
	}
	csv := trainingCSV(400, 1, false)
	res, err := s.Train(ctx, in("t1", csv))
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != "1" || res.Existing {
		t.Fatalf("first training = %+v", res)
	}
	v, err := s.GetModelVersion(ctx, "entry-risk", "1")
	if err != nil {
		t.Fatal(err)
	}
	var lin models.Lineage
	if err := json.Unmarshal(v.Lineage, &lin); err != nil {
		t.Fatal(err)
	}
	if lin.TrainingSetJob != "job-1" || lin.CatalogRevision != 7 || lin.TrainRows != 300 || lin.TestRows != 100 || lin.Evaluation.ROCAUC < 0.9 ||
		len(lin.Signature.Inputs) != 5 || lin.Signature.Inputs[0].Name != "debit_sum_24h" || lin.RunID != res.RunID || lin.ArtifactSHA256 == "" {
		t.Fatalf("lineage = %+v", lin)
	}
	run, err := s.GetRun(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Status != models.RunFinished || len(run.Data.Params) < 8 {
		t.Fatalf("run = %+v", run.Info)
	}
	// The model file is there and is what the lineage says.
	f, err := s.OpenArtifact(ctx, strings.TrimPrefix(run.Info.ArtifactURI, "mlflow-artifacts:/")+"/"+models.ModelArtifact)
	if err != nil {
		t.Fatal(err)
	}
	var mf models.ModelFile
	if err := json.NewDecoder(f).Decode(&mf); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if mf.Model.Kind != "logistic_regression" || len(mf.Model.Coef) != 5 {
		t.Fatalf("model file = %+v", mf)
	}
	// The same spec on the same data: the version it made, no second run.
	again, err := s.Train(ctx, in("t2", csv))
	if err != nil || !again.Existing || again.Version != "1" {
		t.Fatalf("second training on the same data = %+v %v", again, err)
	}
	// New data: version 2.
	if res2, err := s.Train(ctx, in("t3", trainingCSV(420, 2, false))); err != nil || res2.Version != "2" {
		t.Fatalf("training on new data = %+v %v", res2, err)
	}
}

func TestAFailedTrainingLeavesAFailedRunAndNoVersion(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	csv := trainingCSV(200, 3, true) // every label 0
	res, err := s.Train(ctx, models.TrainingInput{TrainingID: "t1", Spec: entryRiskSpec(), CSV: strings.NewReader(csv),
		Lineage: features.TrainingLineage{SHA256: "x"}, RowColumns: []string{"account", "event_timestamp", "amount", "label"}, Actor: "ana"})
	if platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), "same label") {
		t.Fatalf("training on one class: %v", err)
	}
	run, err := s.GetRun(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	failure := ""
	for _, tag := range run.Data.Tags {
		if tag.Key == models.TagFailure {
			failure = tag.Value
		}
	}
	if run.Info.Status != models.RunFailed || !strings.Contains(failure, "same label") {
		t.Fatalf("run = %+v tags %v", run.Info, run.Data.Tags)
	}
	if _, err := s.GetRegisteredModel(ctx, "entry-risk"); platform.KindOf(err) != platform.KindNotFound {
		t.Fatalf("a failed training registered something: %v", err)
	}
}

// trainOnce trains spec on n generated rows and returns the result, the version it
// registered and that version's lineage.
func trainOnce(t *testing.T, s *models.Store, spec models.ModelSpec, n int, seed uint64) (models.TrainingResult, models.ModelVersion, models.Lineage) {
	t.Helper()
	ctx := context.Background()
	res, err := s.Train(ctx, models.TrainingInput{TrainingID: spec.Name + "-1", Spec: spec, SpecVersion: 1, CatalogRevision: 1, TrainingSetJob: "job-" + spec.Name,
		Lineage:    features.TrainingLineage{CatalogRevision: 1, Rows: int64(n), SHA256: fmt.Sprintf("%x", seed)},
		RowColumns: []string{"account", "event_timestamp", "amount", "label"}, CSV: strings.NewReader(trainingCSV(n, seed, false)), Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.GetModelVersion(ctx, spec.Name, res.Version)
	if err != nil {
		t.Fatal(err)
	}
	var lin models.Lineage
	if err := json.Unmarshal(v.Lineage, &lin); err != nil {
		t.Fatal(err)
	}
	return res, v, lin
}

func TestAnIsolationForestIsTrainedRegisteredAndReadBack(t *testing.T) {
	s := newStore(t)
	spec := entryRiskSpec()
	spec.Name = "entry-anomaly"
	spec.Trainer = models.Trainer{Type: "isolation_forest", Params: map[string]float64{"n_estimators": 50, "random_state": 7}}
	res, _, lin := trainOnce(t, s, spec, 600, 3)
	// Parameters resolved over the defaults are what the lineage records; the label is
	// not used to fit, only to evaluate: odd-hour, round-amount rows stand out.
	if lin.Trainer != "isolation_forest" || lin.Params["n_estimators"] != 50 || lin.Params["max_samples"] != 256 || lin.Params["random_state"] != 7 {
		t.Fatalf("lineage params = %s %v", lin.Trainer, lin.Params)
	}
	t.Logf("isolation forest on held-out rows: ROC AUC %.3f, PR AUC %.3f, %d positives", lin.Evaluation.ROCAUC, lin.Evaluation.PRAUC, lin.Evaluation.Positives)
	if lin.Evaluation.ROCAUC < 0.8 {
		t.Fatalf("ROC AUC %.3f: the anomalies do not score higher", lin.Evaluation.ROCAUC)
	}
	// The version loads through its MLmodel file, checked against the recorded digest.
	lm, err := s.LoadModel(context.Background(), spec.Name, res.Version)
	if err != nil || lm.Flavor != models.FlavorCodexion || lm.SHA256 != lin.ArtifactSHA256 || lm.Model.Kind != "isolation_forest" || len(lm.Model.Forest.Trees) != 50 {
		t.Fatalf("load: %+v %v (lineage digest %s)", lm, err, lin.ArtifactSHA256)
	}
	if score, err := lm.Model.Predict(make([]float64, len(lm.Model.Features))); err != nil || score <= 0 || score > 1 {
		t.Fatalf("score = %v %v", score, err)
	}
}

func TestALinearRegressionIsJudgedByItsErrors(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	spec := entryRiskSpec()
	spec.Name = "entry-amount"
	spec.Trainer = models.Trainer{Type: "linear_regression"}
	res, v, lin := trainOnce(t, s, spec, 500, 4)
	if lin.Regression == nil || lin.Evaluation != nil || lin.Regression.RMSE <= 0 || lin.Regression.Rows != lin.TestRows || !strings.Contains(v.Description, "RMSE") {
		t.Fatalf("lineage = %+v %+v, description %q", lin.Regression, lin.Evaluation, v.Description)
	}
	run, err := s.GetRun(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range run.Data.Metrics {
		got[m.Key] = true
	}
	if !got["rmse"] || !got["mae"] || !got["r2"] || got["roc_auc"] {
		t.Fatalf("metrics = %v", run.Data.Metrics)
	}
	lm, err := s.LoadModel(ctx, spec.Name, res.Version)
	if err != nil || lm.Model.Kind != "linear_regression" {
		t.Fatalf("load: %+v %v", lm, err)
	}
}
