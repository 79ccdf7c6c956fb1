// Package train fits and evaluates Codexion's built-in models in Go (gonum): logistic
// regression (standardised, L2) for labels, ordinary least squares for amounts, an
// isolation forest for anomaly scores without labels. A fitted
// model is plain data (Model) that serialises to JSON, so what is registered is exactly
// what is served; nothing here reads files or runs user code.
package train

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Model kinds.
const (
	KindLogistic = "logistic_regression"
	KindLinear   = "linear_regression"
)

// Bounds of a fit.
const (
	MaxFeatures  = 512
	MaxRows      = 20_000_000
	maxNewtonIts = 100
)

// Dataset is a design matrix by rows and its targets.
type Dataset struct {
	Features []string
	X        [][]float64 // rows × features
	Y        []float64
}

// Check refuses what no fit can use, naming what to fix.
func (d Dataset) Check() error {
	switch {
	case len(d.Features) == 0:
		return errors.New("no features")
	case len(d.Features) > MaxFeatures:
		return fmt.Errorf("%d features; the limit is %d", len(d.Features), MaxFeatures)
	case len(d.X) == 0:
		return errors.New("no rows")
	case len(d.X) > MaxRows:
		return fmt.Errorf("%d rows; the limit is %d", len(d.X), MaxRows)
	case len(d.Y) != len(d.X):
		return fmt.Errorf("%d rows but %d targets", len(d.X), len(d.Y))
	}
	for i, row := range d.X {
		if len(row) != len(d.Features) {
			return fmt.Errorf("row %d has %d values for %d features", i, len(row), len(d.Features))
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("row %d: feature %s is %v; fill or drop missing values before training", i, d.Features[j], v)
			}
		}
		if math.IsNaN(d.Y[i]) || math.IsInf(d.Y[i], 0) {
			return fmt.Errorf("row %d: the target is %v", i, d.Y[i])
		}
	}
	return nil
}

// Model is a fitted model: its kind, inputs, standardisation and coefficients.
type Model struct {
	Kind      string    `json:"kind"`
	Features  []string  `json:"features"`
	Mean      []float64 `json:"mean,omitempty"`
	Scale     []float64 `json:"scale,omitempty"`
	Coef      []float64 `json:"coef,omitempty"` // on standardised features
	Intercept float64   `json:"intercept,omitempty"`
	// Forest is the isolation forest's trees (KindIsolationForest).
	Forest *Forest `json:"forest,omitempty"`
	// Boosted is a boosted-tree ensemble read from XGBoost's JSON format (KindXGBoost).
	Boosted *Boosted `json:"boosted,omitempty"`
	// Iterations and Converged describe the fit (logistic regression).
	Iterations int  `json:"iterations,omitempty"`
	Converged  bool `json:"converged,omitempty"`
}

// Check refuses a model that cannot score: a model file read back is input too.
func (m *Model) Check() error {
	p := len(m.Features)
	switch m.Kind {
	case KindLogistic, KindLinear:
		if p == 0 || len(m.Mean) != p || len(m.Scale) != p || len(m.Coef) != p {
			return fmt.Errorf("%s: %d features but %d means, %d scales and %d coefficients", m.Kind, p, len(m.Mean), len(m.Scale), len(m.Coef))
		}
		for _, s := range m.Scale {
			if s == 0 || math.IsNaN(s) {
				return fmt.Errorf("%s: a feature's scale is %v", m.Kind, s)
			}
		}
		return nil
	case KindIsolationForest:
		if p == 0 || m.Forest == nil {
			return errors.New("isolation_forest: no features or no trees")
		}
		return m.Forest.check(p)
	case KindXGBoost:
		if p == 0 || m.Boosted == nil {
			return errors.New("xgboost: no features or no trees")
		}
		return m.Boosted.check(p)
	}
	return fmt.Errorf("model kind %q is not one Codexion scores (known: %s, %s, %s, %s)", m.Kind, KindLogistic, KindLinear, KindIsolationForest, KindXGBoost)
}

// Predict scores one row: a probability for logistic regression, a value for linear, an
// anomaly score in (0, 1] for an isolation forest, XGBoost's prediction for its model.
func (m *Model) Predict(row []float64) (float64, error) {
	if len(row) != len(m.Features) {
		return 0, fmt.Errorf("%d values for %d features (%v)", len(row), len(m.Features), m.Features)
	}
	switch m.Kind {
	case KindIsolationForest:
		return m.Forest.score(row), nil
	case KindXGBoost:
		return m.Boosted.predict(row), nil
	}
	z := m.Intercept
	for j, v := range row {
		z += m.Coef[j] * (v - m.Mean[j]) / m.Scale[j]
	}
	if m.Kind == KindLogistic {
		return sigmoid(z), nil
	}
	return z, nil
}

// PredictAll scores rows.
func (m *Model) PredictAll(x [][]float64) ([]float64, error) {
	out := make([]float64, len(x))
	for i, row := range x {
		if len(row) != len(m.Features) {
			return nil, fmt.Errorf("row %d: %d values for %d features (%v)", i, len(row), len(m.Features), m.Features)
		}
	}
	if m.Kind == KindIsolationForest {
		m.Forest.scoreAll(x, out)
		return out, nil
	}
	for i, row := range x {
		out[i], _ = m.Predict(row)
	}
	return out, nil
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// standardise returns each feature's mean and population standard deviation (1 for a
// constant feature, as scikit-learn's StandardScaler does) and the scaled matrix.
func standardise(x [][]float64, p int) (mean, scale []float64, z [][]float64) {
	mean, scale = featureMoments(x, p)
	z = make([][]float64, len(x))
	for i, row := range x {
		z[i] = make([]float64, p)
		for j, v := range row {
			z[i][j] = (v - mean[j]) / scale[j]
		}
	}
	return mean, scale, z
}

// featureMoments returns each feature's mean and population standard deviation (1 for a
// constant feature).
func featureMoments(x [][]float64, p int) (mean, scale []float64) {
	n := float64(len(x))
	mean, scale = make([]float64, p), make([]float64, p)
	for _, row := range x {
		for j, v := range row {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= n
	}
	for _, row := range x {
		for j, v := range row {
			d := v - mean[j]
			scale[j] += d * d
		}
	}
	for j := range scale {
		scale[j] = math.Sqrt(scale[j] / n)
		if scale[j] == 0 {
			scale[j] = 1
		}
	}
	return mean, scale
}

// standardiseFlat is standardise with the scaled matrix in one slice, row by row, written
// on every core.
func standardiseFlat(x [][]float64, p int) (mean, scale, z []float64) {
	mean, scale = featureMoments(x, p)
	inv := make([]float64, p)
	for j, sc := range scale {
		inv[j] = 1 / sc
	}
	z = make([]float64, len(x)*p)
	workers := min(runtime.GOMAXPROCS(0), max(1, len(x)/4096))
	chunk := (len(x) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min(len(x), (w+1)*chunk)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out := z[i*p : i*p+p : i*p+p]
				row := x[i][:len(out)]
				for j, v := range row {
					out[j] = (v - mean[j]) * inv[j]
				}
			}
		})
	}
	wg.Wait()
	return mean, scale, z
}
