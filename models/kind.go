package models

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/models/train"
)

// KindModel is how documents declare a model.
const KindModel = "Model"

// ModelSpec declares a model: the rows it learns from, the features it sees, the trainer,
// how it is evaluated and what it is for. Applying it registers nothing; training does.
type ModelSpec struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Card is the model card: what the model is for, who owns it, where it must not be used.
	Card ModelCard `json:"card" yaml:"card"`
	// FeatureService names the feature service whose features the model sees.
	FeatureService string `json:"feature_service" yaml:"feature_service"`
	// Rows picks the training rows from one offline table: a SELECT over {{batch}} (the
	// table) returning the service's entity join keys, the event time, the label and the
	// inputs of the on-demand features.
	Rows TrainingRows `json:"rows" yaml:"rows"`
	// OnDemand are features computed from each row itself by the same Go code at training
	// and at serving time.
	OnDemand []string `json:"on_demand,omitempty" yaml:"on_demand,omitempty"`
	Trainer  Trainer  `json:"trainer" yaml:"trainer"`
	// Evaluation holds out the latest rows by event time: never a random split across time.
	Evaluation Evaluation `json:"evaluation" yaml:"evaluation"`
	// RetrainEvery, when set, retrains on a schedule (Go duration, e.g. 24h).
	RetrainEvery string `json:"retrain_every,omitempty" yaml:"retrain_every,omitempty"`
}

// ModelCard says what a model is for.
type ModelCard struct {
	Purpose string `json:"purpose" yaml:"purpose"`
	Owner   string `json:"owner" yaml:"owner"`
	Limits  string `json:"limits,omitempty" yaml:"limits,omitempty"`
}

// TrainingRows is the query that picks training rows.
type TrainingRows struct {
	Table           string `json:"table" yaml:"table"`
	SQL             string `json:"sql" yaml:"sql"`
	TimestampColumn string `json:"timestamp_column" yaml:"timestamp_column"`
	Label           string `json:"label" yaml:"label"`
	// MaxRows bounds the rows one training reads (default and most: MaxTrainingRows).
	MaxRows int `json:"max_rows,omitempty" yaml:"max_rows,omitempty"`
}

// Trainer names the algorithm and its parameters.
type Trainer struct {
	Type   string             `json:"type" yaml:"type"`
	Params map[string]float64 `json:"params,omitempty" yaml:"params,omitempty"`
}

// Evaluation says how much of the latest data is held out and where the decision threshold is.
type Evaluation struct {
	TestFraction float64 `json:"test_fraction" yaml:"test_fraction"`
	Threshold    float64 `json:"threshold,omitempty" yaml:"threshold,omitempty"`
	TopK         int     `json:"top_k,omitempty" yaml:"top_k,omitempty"`
}

// MaxTrainingRows bounds the rows of one training.
const MaxTrainingRows = 1_000_000

var (
	validModelName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	validColumn    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
)

// Check refuses a spec that cannot train, naming the field.
func (m *ModelSpec) Check() error {
	switch {
	case !validModelName.MatchString(m.Name):
		return fmt.Errorf("name %q: use lower-case letters, digits, '-' and '_', starting with a letter", m.Name)
	case m.FeatureService == "":
		return fmt.Errorf("feature_service is required: the features the model sees")
	case m.Card.Purpose == "" || m.Card.Owner == "":
		return fmt.Errorf("card.purpose and card.owner are required: say what the model is for and who answers for it")
	case !validColumn.MatchString(m.Rows.Table):
		return fmt.Errorf("rows.table %q is not a table name", m.Rows.Table)
	case !strings.Contains(m.Rows.SQL, "{{batch}}"):
		return fmt.Errorf("rows.sql must read the table as {{batch}}")
	case !validColumn.MatchString(m.Rows.TimestampColumn):
		return fmt.Errorf("rows.timestamp_column %q is not a column name", m.Rows.TimestampColumn)
	case !validColumn.MatchString(m.Rows.Label):
		return fmt.Errorf("rows.label %q is not a column name", m.Rows.Label)
	case m.Rows.MaxRows < 0 || m.Rows.MaxRows > MaxTrainingRows:
		return fmt.Errorf("rows.max_rows is %d; use 1 to %d (or leave it out)", m.Rows.MaxRows, MaxTrainingRows)
	case m.Evaluation.TestFraction <= 0 || m.Evaluation.TestFraction >= 1:
		return fmt.Errorf("evaluation.test_fraction is %v; hold out a share between 0 and 1 of the latest rows (e.g. 0.2)", m.Evaluation.TestFraction)
	case m.Evaluation.Threshold < 0 || m.Evaluation.Threshold >= 1:
		return fmt.Errorf("evaluation.threshold is %v; use a probability in [0, 1)", m.Evaluation.Threshold)
	case m.Evaluation.TopK < 0:
		return fmt.Errorf("evaluation.top_k is %d; use a positive count (or leave it out)", m.Evaluation.TopK)
	}
	for _, f := range m.OnDemand {
		if _, ok := OnDemandFeatures[f]; !ok {
			return fmt.Errorf("on_demand %q is not an on-demand feature (known: %s)", f, strings.Join(OnDemandNames(), ", "))
		}
	}
	if _, err := m.TrainerParams(); err != nil {
		return err
	}
	if m.RetrainEvery != "" {
		d, err := time.ParseDuration(m.RetrainEvery)
		if err != nil || d < time.Hour {
			return fmt.Errorf("retrain_every %q: use a Go duration of at least 1h, e.g. 24h", m.RetrainEvery)
		}
	}
	return nil
}

// TrainerParams resolves the trainer's parameters over its defaults.
func (m *ModelSpec) TrainerParams() (map[string]float64, error) {
	return train.Resolve(m.Trainer.Type, m.Trainer.Params)
}

// ModelKind registers models with the catalog.
type ModelKind struct{}

func (ModelKind) Name() string   { return KindModel }
func (ModelKind) Plural() string { return "models" }

// Parse reads a Model document strictly and checks it.
func (ModelKind) Parse(body []byte) (string, any, error) {
	var m ModelSpec
	if err := catalog.Strict(body, &m); err != nil {
		return "", nil, err
	}
	return m.Name, m, m.Check()
}

// Decode reads a stored spec.
func (ModelKind) Decode(stored []byte) (any, error) {
	var m ModelSpec
	err := json.Unmarshal(stored, &m)
	return m, err
}

// References: the feature service is declared.
func (ModelKind) References(snap *catalog.Snapshot, name string, spec any) error {
	m := spec.(ModelSpec)
	if _, ok := snap.Get("FeatureService", m.FeatureService); !ok {
		return fmt.Errorf("model %s: feature service %q is not declared (declared: %s)", name, m.FeatureService, strings.Join(snap.Names("FeatureService"), ", "))
	}
	return nil
}

// Breaking: none; every change trains a new version and leaves the old ones as they were.
func (ModelKind) Breaking(_, _ catalog.Versioned[any]) []string { return nil }

// DeleteBreaks: deleting a model's spec stops its training; its versions stay registered.
func (ModelKind) DeleteBreaks() string { return "" }
