package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/models/train"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/buildinfo"
)

// Tags Codexion sets on what training logs, so a retried training finds its own run and a
// repeated one finds the version it made.
const (
	TagTrainingID  = "codexion.training_id"  // the training (workflow) that logged a run
	TagTrainingKey = "codexion.training_key" // the spec and data a version was trained on
	TagModel       = "codexion.model"
	TagFailure     = "codexion.failure"
)

// ModelArtifact is the model file's path under a run's artifacts.
const ModelArtifact = "model/model.json"

// ExperimentFor is the experiment a declared model's trainings log to.
func ExperimentFor(model string) string { return "codexion/models/" + model }

// TrainingInput is a built training set and what it was built for.
type TrainingInput struct {
	TrainingID      string // unique per training; the run is found again by it
	Spec            ModelSpec
	SpecVersion     int   // the catalog version of the Model object
	CatalogRevision int64 // the catalog revision the training read
	TrainingSetJob  string
	Lineage         features.TrainingLineage
	// RowColumns are the columns the rows query returned; the training set's other columns
	// are the feature service's features.
	RowColumns []string
	CSV        io.Reader
	Actor      string
}

// Lineage is what a version records about what made it.
type Lineage struct {
	Model           string                   `json:"model"`
	SpecVersion     int                      `json:"spec_version"`
	CatalogRevision int64                    `json:"catalog_revision"`
	TrainingSetJob  string                   `json:"training_set_job"`
	TrainingSet     features.TrainingLineage `json:"training_set"`
	RowsSQL         string                   `json:"rows_sql"`
	Trainer         string                   `json:"trainer"`
	Params          map[string]float64       `json:"params"`
	Build           string                   `json:"build"`
	Signature       Signature                `json:"signature"`
	TrainRows       int                      `json:"train_rows"`
	TestRows        int                      `json:"test_rows"`
	TestFrom        time.Time                `json:"test_from"`
	Evaluation      *train.Classification    `json:"evaluation,omitempty"` // a classifier's (logistic regression, isolation forest)
	Regression      *train.Regression        `json:"regression,omitempty"` // a regression's (linear regression)
	Card            ModelCard                `json:"card"`
	RunID           string                   `json:"run_id"`
	ArtifactSHA256  string                   `json:"artifact_sha256"`
}

// Signature is a model's inputs and output.
type Signature struct {
	Inputs   []SignatureColumn `json:"inputs"`
	OnDemand []string          `json:"on_demand,omitempty"`
	Output   SignatureColumn   `json:"output"`
}

// SignatureColumn names a column and its type.
type SignatureColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ModelFile is what model/model.json holds: everything serving needs to score a row.
type ModelFile struct {
	Name      string      `json:"name"`
	Model     train.Model `json:"model"`
	Services  string      `json:"feature_service"`
	OnDemand  []string    `json:"on_demand,omitempty"`
	Signature Signature   `json:"signature"`
}

// TrainingResult is what a training registered (or found registered already).
type TrainingResult struct {
	Model    string `json:"model"`
	Version  string `json:"version"`
	RunID    string `json:"run_id"`
	Existing bool   `json:"existing"` // the same spec and data had trained this version already
}

// trainingKey identifies what a version was trained from: the spec and the training set's bytes.
func trainingKey(spec ModelSpec, setSHA256 string) string {
	raw, _ := json.Marshal(spec)
	h := sha256.Sum256(append(raw, []byte("\x00"+setSHA256)...))
	return hex.EncodeToString(h[:16])
}

// Train fits the model on the training set, evaluates it on the latest rows held out by
// event time, logs the run (params, metrics, the model file, curves, card) and registers a
// READY version with its lineage. The same spec on the same data returns the version it made
// before; a retry of the same training finds its run again. A failure after the run began
// leaves the run FAILED with the reason and registers nothing.
func (s *Store) Train(ctx context.Context, in TrainingInput) (TrainingResult, error) {
	spec := in.Spec
	key := trainingKey(spec, in.Lineage.SHA256)
	if v, ok, err := s.versionByTag(ctx, spec.Name, TagTrainingKey, key); err != nil || ok {
		return TrainingResult{Model: spec.Name, Version: v.Version, RunID: v.RunID, Existing: ok}, err
	}
	expID, err := s.ensureExperiment(ctx, ExperimentFor(spec.Name))
	if err != nil {
		return TrainingResult{}, err
	}
	run, err := s.trainingRun(ctx, expID, in)
	if err != nil {
		return TrainingResult{}, err
	}
	res, err := s.fitAndRegister(ctx, in, run, key)
	if err != nil {
		reason := httpxBound(err.Error())
		_ = s.LogBatch(context.WithoutCancel(ctx), run.Info.RunID, Batch{Tags: []Tag{{Key: TagFailure, Value: reason}}})
		end := s.nowMS()
		_, _ = s.UpdateRun(context.WithoutCancel(ctx), run.Info.RunID, RunUpdate{Status: RunFailed, EndTime: &end})
		return TrainingResult{RunID: run.Info.RunID}, err
	}
	return res, nil
}

func httpxBound(s string) string {
	if len(s) > MaxTagValueBytes {
		return s[:MaxTagValueBytes]
	}
	return s
}

func (s *Store) versionByTag(ctx context.Context, model, key, value string) (ModelVersion, bool, error) {
	var version string
	err := s.db.QueryRow(ctx, `SELECT v.version::text FROM models_versions v JOIN models_version_tags t USING (name, version)
		WHERE v.name = $1 AND v.deleted_time_ms IS NULL AND t.key = $2 AND t.value = $3 ORDER BY v.version DESC LIMIT 1`, model, key, value).Scan(&version)
	if err != nil {
		if errors.Is(err, errNoRows) {
			return ModelVersion{}, false, nil
		}
		return ModelVersion{}, false, err
	}
	v, err := s.GetModelVersion(ctx, model, version)
	return v, err == nil, err
}

func (s *Store) ensureExperiment(ctx context.Context, name string) (string, error) {
	if e, err := s.GetExperimentByName(ctx, name); err == nil {
		if e.LifecycleStage != StageActive {
			if err := s.RestoreExperiment(ctx, e.ExperimentID); err != nil {
				return "", err
			}
		}
		return e.ExperimentID, nil
	}
	id, err := s.CreateExperiment(ctx, name, "", nil)
	if platform.KindOf(err) == platform.KindConflict {
		e, err := s.GetExperimentByName(ctx, name)
		return e.ExperimentID, err
	}
	return id, err
}

// trainingRun finds the run a retried training started, or starts one.
func (s *Store) trainingRun(ctx context.Context, expID string, in TrainingInput) (Run, error) {
	runs, _, err := s.SearchRuns(ctx, RunSearch{ExperimentIDs: []string{expID}, MaxResults: 1,
		Filter: "tags.`" + TagTrainingID + "` = '" + strings.ReplaceAll(in.TrainingID, "'", "") + "'"})
	if err != nil {
		return Run{}, err
	}
	if len(runs) == 1 {
		return runs[0], nil
	}
	return s.CreateRun(ctx, NewRun{ExperimentID: expID, UserID: in.Actor, RunName: in.Spec.Name + "-" + time.Now().UTC().Format("20060102-150405"),
		Tags: []Tag{{Key: TagTrainingID, Value: in.TrainingID}, {Key: TagModel, Value: in.Spec.Name}, {Key: "mlflow.user", Value: in.Actor},
			{Key: "mlflow.source.type", Value: "JOB"}, {Key: "mlflow.source.name", Value: "codexion TrainModel"}}})
}

// rowsOf reads the training set CSV into a dataset, its event times and its on-demand inputs.
type trainingRows struct {
	data  train.Dataset
	times []time.Time
}

func (s *Store) fitAndRegister(ctx context.Context, in TrainingInput, run Run, key string) (TrainingResult, error) {
	spec := in.Spec
	params, err := spec.TrainerParams()
	if err != nil {
		return TrainingResult{}, platform.Invalid("model %s: %v", spec.Name, err)
	}
	rows, err := readTrainingCSV(in)
	if err != nil {
		return TrainingResult{}, platform.Invalid("model %s: training set: %v", spec.Name, err)
	}
	trainSet, testSet, testFrom, err := splitByTime(rows, spec.Evaluation.TestFraction)
	if err != nil {
		return TrainingResult{}, platform.Invalid("model %s: %v", spec.Name, err)
	}
	model, err := train.Fit(spec.Trainer.Type, params, trainSet)
	if err != nil {
		return TrainingResult{}, platform.Invalid("model %s: %v", spec.Name, err)
	}
	pred, err := model.PredictAll(testSet.X)
	if err != nil {
		return TrainingResult{}, err
	}
	threshold := spec.Evaluation.Threshold
	if threshold == 0 {
		threshold = 0.5
	}
	// A regression is judged by its errors; everything else scores the label's class.
	var (
		eval *train.Classification
		reg  *train.Regression
	)
	if model.Kind == train.KindLinear {
		r, err := train.EvaluateRegressor(testSet.Y, pred)
		if err != nil {
			return TrainingResult{}, platform.Invalid("model %s: evaluation: %v", spec.Name, err)
		}
		reg = &r
	} else {
		c, err := train.EvaluateClassifier(testSet.Y, pred, threshold, spec.Evaluation.TopK)
		if err != nil {
			return TrainingResult{}, platform.Invalid("model %s: evaluation: %v", spec.Name, err)
		}
		eval = &c
	}
	sig := Signature{OnDemand: spec.OnDemand, Output: SignatureColumn{Name: "score", Type: "double"}}
	for _, f := range rows.data.Features {
		sig.Inputs = append(sig.Inputs, SignatureColumn{Name: f, Type: "double"})
	}
	runID := run.Info.RunID
	now := s.nowMS()
	batch := Batch{
		Params: []Param{{Key: "trainer", Value: spec.Trainer.Type}, {Key: "features", Value: strconv.Itoa(len(rows.data.Features))},
			{Key: "train_rows", Value: strconv.Itoa(len(trainSet.Y))}, {Key: "test_rows", Value: strconv.Itoa(len(testSet.Y))},
			{Key: "test_fraction", Value: strconv.FormatFloat(spec.Evaluation.TestFraction, 'g', -1, 64)},
			{Key: "feature_service", Value: spec.FeatureService}, {Key: "training_set_job", Value: in.TrainingSetJob},
			{Key: "training_set_sha256", Value: in.Lineage.SHA256}},
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		batch.Params = append(batch.Params, Param{Key: k, Value: strconv.FormatFloat(params[k], 'g', -1, 64)})
	}
	type metric struct {
		k string
		v float64
	}
	var metrics []metric
	if reg != nil {
		metrics = []metric{{"rmse", reg.RMSE}, {"mae", reg.MAE}, {"r2", reg.R2}}
	} else {
		metrics = []metric{{"roc_auc", eval.ROCAUC}, {"pr_auc", eval.PRAUC}, {"log_loss", eval.LogLoss}, {"precision", eval.Precision},
			{"recall", eval.Recall}, {"precision_at_k", eval.PrecisionAtK}, {"recall_at_k", eval.RecallAtK},
			{"test_positives", float64(eval.Positives)}}
	}
	for _, m := range metrics {
		batch.Metrics = append(batch.Metrics, Metric{Key: m.k, Value: Float(m.v), Timestamp: now})
	}
	if model.Kind == train.KindLogistic {
		batch.Metrics = append(batch.Metrics, Metric{Key: "iterations", Value: Float(model.Iterations), Timestamp: now})
	}
	if err := s.LogBatch(ctx, runID, batch); err != nil {
		return TrainingResult{}, err
	}
	file, err := json.MarshalIndent(ModelFile{Name: spec.Name, Model: *model, Services: spec.FeatureService, OnDemand: spec.OnDemand, Signature: sig}, "", "  ")
	if err != nil {
		return TrainingResult{}, err
	}
	root, err := artifactDir(run.Info.ArtifactURI)
	if err != nil {
		return TrainingResult{}, err
	}
	stored, err := s.PutArtifact(ctx, root+"/"+ModelArtifact, bytes.NewReader(file), int64(len(file)), "application/json")
	if err != nil {
		return TrainingResult{}, err
	}
	mlmodel := fmt.Sprintf("artifact_path: model\nflavors:\n  codexion:\n    kind: %s\n    file: model.json\nrun_id: %s\nutc_time_created: '%s'\n",
		model.Kind, runID, time.UnixMilli(now).UTC().Format("2006-01-02 15:04:05.000000"))
	card := modelCard(spec, eval, reg, len(trainSet.Y), len(testSet.Y), testFrom)
	artifacts := []struct{ path, body, ct string }{{"model/MLmodel", mlmodel, "text/yaml"}, {"model_card.md", card, "text/markdown"}}
	if eval != nil {
		artifacts = append(artifacts,
			struct{ path, body, ct string }{"evaluation/roc.svg", curveSVG("ROC (test rows)", "false positive rate", "true positive rate", eval.ROC), "image/svg+xml"},
			struct{ path, body, ct string }{"evaluation/pr.svg", curveSVG("Precision-recall (test rows)", "recall", "precision", eval.PR), "image/svg+xml"})
	}
	for _, a := range artifacts {
		if _, err := s.PutArtifact(ctx, root+"/"+a.path, strings.NewReader(a.body), int64(len(a.body)), a.ct); err != nil {
			return TrainingResult{}, err
		}
	}
	lineage, err := json.Marshal(Lineage{Model: spec.Name, SpecVersion: in.SpecVersion, CatalogRevision: in.CatalogRevision,
		TrainingSetJob: in.TrainingSetJob, TrainingSet: in.Lineage, RowsSQL: spec.Rows.SQL, Trainer: spec.Trainer.Type, Params: params,
		Build: buildinfo.Get().Version, Signature: sig, TrainRows: len(trainSet.Y), TestRows: len(testSet.Y), TestFrom: testFrom,
		Evaluation: eval, Regression: reg, Card: spec.Card, RunID: runID, ArtifactSHA256: stored.SHA256})
	if err != nil {
		return TrainingResult{}, err
	}
	if _, err := s.GetRegisteredModel(ctx, spec.Name); platform.KindOf(err) == platform.KindNotFound {
		if _, err := s.CreateRegisteredModel(ctx, spec.Name, spec.Description, in.Actor, []Tag{{Key: "owner", Value: spec.Card.Owner}}); err != nil &&
			platform.KindOf(err) != platform.KindConflict {
			return TrainingResult{}, err
		}
	} else if err != nil {
		return TrainingResult{}, err
	}
	v, err := s.CreateModelVersion(ctx, NewVersion{Name: spec.Name, Source: "runs:/" + runID + "/model", RunID: runID, UserID: in.Actor,
		Description: versionDescription(spec.Trainer.Type, len(trainSet.Y), len(testSet.Y), eval, reg),
		Tags:        []Tag{{Key: TagTrainingKey, Value: key}, {Key: TagTrainingID, Value: in.TrainingID}}, Lineage: lineage})
	if err != nil {
		return TrainingResult{}, err
	}
	end := s.nowMS()
	if _, err := s.UpdateRun(ctx, runID, RunUpdate{Status: RunFinished, EndTime: &end}); err != nil {
		return TrainingResult{}, err
	}
	return TrainingResult{Model: spec.Name, Version: v.Version, RunID: runID}, nil
}

// timeLayouts are how the offline store writes timestamps in CSV.
var timeLayouts = []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02"}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

// readTrainingCSV reads the training set: the label, the event time, the service's features
// (missing values are 0: no activity) and the on-demand features computed from each row.
func readTrainingCSV(in TrainingInput) (trainingRows, error) {
	r := csv.NewReader(in.CSV)
	r.ReuseRecord = false
	head, err := r.Read()
	if err != nil {
		return trainingRows{}, fmt.Errorf("reading the header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	spec := in.Spec
	li, ok := col[spec.Rows.Label]
	if !ok {
		return trainingRows{}, fmt.Errorf("the rows query returns no label column %q (columns: %s)", spec.Rows.Label, strings.Join(head, ", "))
	}
	ti, ok := col[spec.Rows.TimestampColumn]
	if !ok {
		return trainingRows{}, fmt.Errorf("the rows query returns no timestamp column %q", spec.Rows.TimestampColumn)
	}
	ai, hasAmount := col[AmountColumn]
	rowCols := map[string]bool{}
	for _, c := range in.RowColumns {
		rowCols[c] = true
	}
	var featIdx []int
	var names []string
	for i, h := range head {
		if !rowCols[h] {
			featIdx, names = append(featIdx, i), append(names, h)
		}
	}
	for _, od := range spec.OnDemand {
		if strings.HasPrefix(od, "amount") || od == "round_amount" {
			if !hasAmount {
				return trainingRows{}, fmt.Errorf("on-demand feature %s needs the rows query to return a column %q", od, AmountColumn)
			}
		}
		names = append(names, od)
	}
	if len(names) == 0 {
		return trainingRows{}, errors.New("no features: the feature service adds none and no on-demand features are declared")
	}
	out := trainingRows{data: train.Dataset{Features: names}}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return trainingRows{}, fmt.Errorf("line %d: %w", line, err)
		}
		if len(out.data.Y) >= MaxTrainingRows {
			return trainingRows{}, fmt.Errorf("more than %d rows; narrow the rows query or set rows.max_rows", MaxTrainingRows)
		}
		ts, err := parseTime(rec[ti])
		if err != nil {
			return trainingRows{}, fmt.Errorf("line %d: %s: %w", line, spec.Rows.TimestampColumn, err)
		}
		var y float64
		switch strings.ToLower(rec[li]) {
		case "1", "true", "1.0":
			y = 1
		case "0", "false", "0.0":
		default:
			return trainingRows{}, fmt.Errorf("line %d: label %q is not 0/1 or true/false", line, rec[li])
		}
		x := make([]float64, 0, len(names))
		for k, i := range featIdx {
			v := 0.0
			if rec[i] != "" {
				if v, err = strconv.ParseFloat(rec[i], 64); err != nil {
					return trainingRows{}, fmt.Errorf("line %d: feature %s: %q is not a number", line, names[k], rec[i])
				}
			}
			x = append(x, v)
		}
		var amount decimal.Decimal
		if hasAmount && rec[ai] != "" {
			if amount, err = decimal.NewFromString(rec[ai]); err != nil {
				return trainingRows{}, fmt.Errorf("line %d: amount %q is not a number", line, rec[ai])
			}
		}
		od, err := ComputeOnDemand(spec.OnDemand, OnDemandInput{Amount: amount, EventTime: ts})
		if err != nil {
			return trainingRows{}, err
		}
		out.data.X = append(out.data.X, append(x, od...))
		out.data.Y = append(out.data.Y, y)
		out.times = append(out.times, ts)
	}
	return out, nil
}

// splitByTime holds out the latest rows (by event time) for evaluation: the model is judged
// on data from after everything it learned from, as it will be used.
func splitByTime(rows trainingRows, testFraction float64) (trainSet, testSet train.Dataset, testFrom time.Time, err error) {
	n := len(rows.data.Y)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rows.times[idx[a]].Before(rows.times[idx[b]]) })
	nTest := int(math.Round(float64(n) * testFraction))
	if n < 10 || nTest < 1 || nTest >= n {
		return trainSet, testSet, testFrom, fmt.Errorf("%d rows are too few to hold out %.0f%% for evaluation", n, testFraction*100)
	}
	cut := n - nTest
	trainSet.Features, testSet.Features = rows.data.Features, rows.data.Features
	for k, i := range idx {
		if k < cut {
			trainSet.X, trainSet.Y = append(trainSet.X, rows.data.X[i]), append(trainSet.Y, rows.data.Y[i])
		} else {
			testSet.X, testSet.Y = append(testSet.X, rows.data.X[i]), append(testSet.Y, rows.data.Y[i])
		}
	}
	return trainSet, testSet, rows.times[idx[cut]], nil
}

func modelCard(spec ModelSpec, eval *train.Classification, reg *train.Regression, trainRows, testRows int, testFrom time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Model card: %s\n\n", spec.Name)
	fmt.Fprintf(&b, "- **Purpose:** %s\n- **Owner:** %s\n", spec.Card.Purpose, spec.Card.Owner)
	if spec.Card.Limits != "" {
		fmt.Fprintf(&b, "- **Limits:** %s\n", spec.Card.Limits)
	}
	fmt.Fprintf(&b, "- **Trainer:** %s on the features of %s", spec.Trainer.Type, spec.FeatureService)
	if len(spec.OnDemand) > 0 {
		fmt.Fprintf(&b, " and on-demand %s", strings.Join(spec.OnDemand, ", "))
	}
	fmt.Fprintf(&b, "\n- **Data:** %d rows to learn from; evaluated on the %d latest (event time from %s)\n\n",
		trainRows, testRows, testFrom.Format(time.RFC3339))
	if reg != nil {
		fmt.Fprintf(&b, "| metric | value |\n|---|---|\n| RMSE | %.6g |\n| MAE | %.6g |\n| R² | %.4f |\n", reg.RMSE, reg.MAE, reg.R2)
		return b.String()
	}
	fmt.Fprintf(&b, "| metric | value |\n|---|---|\n| ROC AUC | %.4f |\n| PR AUC (average precision) | %.4f |\n| log loss | %.4f |\n",
		eval.ROCAUC, eval.PRAUC, eval.LogLoss)
	fmt.Fprintf(&b, "| precision at %.2f | %.4f |\n| recall at %.2f | %.4f |\n| precision at top %d | %.4f |\n| positives in test | %d |\n",
		eval.Threshold, eval.Precision, eval.Threshold, eval.Recall, eval.TopK, eval.PrecisionAtK, eval.Positives)
	return b.String()
}

// curveSVG draws a curve on the unit square as a small self-contained SVG.
func curveSVG(title, xLabel, yLabel string, pts []train.Point) string {
	const size, pad = 320.0, 40.0
	var path strings.Builder
	for i, p := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, pad+p.X*size, pad+(1-p.Y)*size)
	}
	esc := func(s string) string {
		return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%[1]g" height="%[1]g" font-family="sans-serif" font-size="12">
<text x="%[2]g" y="20">%[3]s</text>
<rect x="%[2]g" y="%[2]g" width="%[4]g" height="%[4]g" fill="none" stroke="#999"/>
<path d="%[5]s" fill="none" stroke="#1f77b4" stroke-width="2"/>
<text x="%[6]g" y="%[7]g" text-anchor="middle">%[8]s</text>
<text x="12" y="%[6]g" transform="rotate(-90 12 %[6]g)" text-anchor="middle">%[9]s</text>
</svg>
`, size+2*pad, pad, esc(title), size, strings.TrimSpace(path.String()), pad+size/2, size+2*pad-8, esc(xLabel), esc(yLabel))
}

// RecordFailedTraining leaves a training that failed before or during its fit as a FAILED
// run with the reason, in the model's experiment: the run a retry made, or a new one.
func (s *Store) RecordFailedTraining(ctx context.Context, model, trainingID, actor, reason string) error {
	expID, err := s.ensureExperiment(ctx, ExperimentFor(model))
	if err != nil {
		return err
	}
	run, err := s.trainingRun(ctx, expID, TrainingInput{TrainingID: trainingID, Spec: ModelSpec{Name: model}, Actor: actor})
	if err != nil {
		return err
	}
	if err := s.LogBatch(ctx, run.Info.RunID, Batch{Tags: []Tag{{Key: TagFailure, Value: httpxBound(reason)}}}); err != nil {
		return err
	}
	end := s.nowMS()
	_, err = s.UpdateRun(ctx, run.Info.RunID, RunUpdate{Status: RunFailed, EndTime: &end})
	return err
}

// versionDescription says in a line what a version was trained on and how it did.
func versionDescription(trainer string, trainRows, testRows int, eval *train.Classification, reg *train.Regression) string {
	if reg != nil {
		return fmt.Sprintf("%s on %d rows; RMSE %.4g on the latest %d", trainer, trainRows, reg.RMSE, testRows)
	}
	return fmt.Sprintf("%s on %d rows; ROC AUC %.3f on the latest %d", trainer, trainRows, eval.ROCAUC, testRows)
}
