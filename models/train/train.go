// Package train fits and evaluates Codexion's built-in models in Go (gonum): logistic
// regression (standardised, L2) for labels, ordinary least squares for amounts. A fitted
// model is plain data (Model) that serialises to JSON, so what is registered is exactly
// what is served; nothing here reads files or runs user code.
package train

import (
	"errors"
	"fmt"
	"math"
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
	Mean      []float64 `json:"mean"`
	Scale     []float64 `json:"scale"`
	Coef      []float64 `json:"coef"` // on standardised features
	Intercept float64   `json:"intercept"`
	// Iterations and Converged describe the fit (logistic regression).
	Iterations int  `json:"iterations,omitempty"`
	Converged  bool `json:"converged,omitempty"`
}

// Predict scores one row: a probability for logistic regression, a value for linear.
func (m *Model) Predict(row []float64) (float64, error) {
	if len(row) != len(m.Features) {
		return 0, fmt.Errorf("%d values for %d features (%v)", len(row), len(m.Features), m.Features)
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
		p, err := m.Predict(row)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		out[i] = p
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
	z = make([][]float64, len(x))
	for i, row := range x {
		z[i] = make([]float64, p)
		for j, v := range row {
			z[i][j] = (v - mean[j]) / scale[j]
		}
	}
	return mean, scale, z
}
