// Package models is Codexion's model registry: experiments, runs with their parameters,
// metrics and inputs, registered models with their versions and aliases, and the artifacts
// behind them. Metadata lives in PostgreSQL, artifacts in object storage with their digests
// recorded as they stream in. The entities are MLflow's, so MLflow clients pointed at
// Codexion work unchanged (mlflow_*.go serve MLflow's REST API).
//
// It must never load or run a model file it stores: artifacts are bytes here, and whoever
// loads one (serving) checks its digest first.
package models

import (
	"embed"
	"encoding/json"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform/postgres"
)

// Limits, as MLflow's own server enforces them (mlflow/utils/validation.py), so a client
// that works against MLflow works here and one that would be refused there is refused here.
const (
	MaxEntityKeyBytes        = 250  // metric, param and tag keys
	MaxParamValueBytes       = 6000 // a parameter's value
	MaxTagValueBytes         = 8000 // a run's tag value
	MaxRegistryTagValueBytes = 5000 // a registered model's or version's tag value, an experiment's
	MaxExperimentNameBytes   = 500
	MaxModelNameBytes        = 256
	MaxDescriptionBytes      = 65536
	MaxMetricsPerBatch       = 1000
	MaxParamsTagsPerBatch    = 100
	MaxEntitiesPerBatch      = 1000
	MaxDatasetsPerInputs     = 100
	MaxResultsDefault        = 1000  // search-runs and search-experiments without max_results
	MaxResultsRuns           = 50000 // the most search-runs returns in one page
	MaxResultsExperiments    = 50000
	MaxResultsModels         = 1000 // registered models and versions per page
	MaxHistoryPoints         = 25000
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the registry's migration source.
func Migrations() postgres.Source { return postgres.Embedded("models", migrations) }

// Lifecycle stages of experiments, runs and logged models.
const (
	StageActive  = "active"
	StageDeleted = "deleted"
)

// Run statuses.
const (
	RunRunning   = "RUNNING"
	RunScheduled = "SCHEDULED"
	RunFinished  = "FINISHED"
	RunFailed    = "FAILED"
	RunKilled    = "KILLED"
)

// Tag is a key and a value on an experiment, run, model or version.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Param is a run's parameter: logged once, never changed.
type Param struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Float is a metric value. MLflow writes NaN and the infinities as the strings "NaN",
// "Infinity" and "-Infinity" (protobuf JSON); plain JSON numbers cannot hold them.
type Float float64

// MarshalJSON writes the value as MLflow does.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or one of the strings MLflow writes for what numbers
// cannot hold (and a number in a string, as protobuf JSON allows).
func (f *Float) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN", "nan":
			*f = Float(math.NaN())
			return nil
		case "Infinity", "inf", "+Infinity":
			*f = Float(math.Inf(1))
			return nil
		case "-Infinity", "-inf":
			*f = Float(math.Inf(-1))
			return nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errNotANumber
		}
		*f = Float(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return errNotANumber
	}
	*f = Float(v)
	return nil
}

type notANumber struct{}

func (notANumber) Error() string { return "must be a number (or \"NaN\", \"Infinity\", \"-Infinity\")" }

var errNotANumber error = notANumber{}

// Metric is one logged value of a metric.
type Metric struct {
	Key       string `json:"key"`
	Value     Float  `json:"value"`
	Timestamp int64  `json:"timestamp"`
	Step      int64  `json:"step"`
	// MLflow 3 ties a metric to a logged model and the dataset it was computed on.
	ModelID       string `json:"model_id,omitempty"`
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
	RunID         string `json:"run_id,omitempty"`
}

// Experiment groups runs.
type Experiment struct {
	ExperimentID     string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
	LastUpdateTime   int64  `json:"last_update_time"`
	CreationTime     int64  `json:"creation_time"`
	Tags             []Tag  `json:"tags,omitempty"`
}

// RunInfo is what a run is, without what it logged.
type RunInfo struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"` // the older name clients still read
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time"`
	EndTime        *int64 `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

// RunData is what a run logged: the latest value of each metric, its params and tags.
type RunData struct {
	Metrics []Metric `json:"metrics,omitempty"`
	Params  []Param  `json:"params,omitempty"`
	Tags    []Tag    `json:"tags,omitempty"`
}

// Dataset is a dataset a run used, as MLflow describes one.
type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

// DatasetInput is a dataset and the tags of its use (context: training, evaluation).
type DatasetInput struct {
	Tags    []Tag   `json:"tags,omitempty"`
	Dataset Dataset `json:"dataset"`
}

// ModelInput names a logged model a run used.
type ModelInput struct {
	ModelID string `json:"model_id"`
}

// RunInputs are the datasets (and models) a run read.
type RunInputs struct {
	DatasetInputs []DatasetInput `json:"dataset_inputs,omitempty"`
	ModelInputs   []ModelInput   `json:"model_inputs,omitempty"`
}

// ModelOutput names a logged model a run produced, at a step.
type ModelOutput struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

// RunOutputs are the logged models a run produced.
type RunOutputs struct {
	ModelOutputs []ModelOutput `json:"model_outputs,omitempty"`
}

// Run is a run with everything it logged.
type Run struct {
	Info    RunInfo    `json:"info"`
	Data    RunData    `json:"data"`
	Inputs  RunInputs  `json:"inputs"`
	Outputs RunOutputs `json:"outputs"`
}

var errNoRows = pgx.ErrNoRows
