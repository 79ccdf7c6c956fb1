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
	"slices"
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
	_, err := m.steps()
	return err
}

// Steps is how much scoring one row costs at most: the nodes it visits in a tree model, the
// features it weighs in a linear one. It bounds the work of a request before it starts.
func (m *Model) Steps() int {
	n, _ := m.steps()
	return n
}

func (m *Model) steps() (int, error) {
	p := len(m.Features)
	switch m.Kind {
	case KindLogistic, KindLinear:
		if p == 0 || len(m.Mean) != p || len(m.Scale) != p || len(m.Coef) != p {
			return 0, fmt.Errorf("%s: %d features but %d means, %d scales and %d coefficients", m.Kind, p, len(m.Mean), len(m.Scale), len(m.Coef))
		}
		for _, s := range m.Scale {
			if s == 0 || math.IsNaN(s) {
				return 0, fmt.Errorf("%s: a feature's scale is %v", m.Kind, s)
			}
		}
		return p, nil
	case KindIsolationForest:
		if p == 0 || m.Forest == nil {
			return 0, errors.New("isolation_forest: no features or no trees")
		}
		return m.Forest.check(p)
	case KindXGBoost:
		if p == 0 || m.Boosted == nil {
			return 0, errors.New("xgboost: no features or no trees")
		}
		return m.Boosted.check(p)
	}
	return 0, fmt.Errorf("model kind %q is not one Codexion scores (known: %s, %s, %s, %s)", m.Kind, KindLogistic, KindLinear, KindIsolationForest, KindXGBoost)
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

// Bounds of a tree ensemble (an isolation forest, a boosted model), checked whenever one is
// read: with them, scoring a row visits at most MaxTrees·MaxTreeDepth nodes.
const (
	MaxTrees     = 10_000
	MaxTreeNodes = 5_000_000 // over all trees
	MaxTreeDepth = 256
)

// treeShape is what both tree models store alike: per node the feature it splits on (-1 at a
// leaf) and its children, plus the lengths of the model's other per-node arrays.
type treeShape struct {
	feature, left, right []int32
	others               []int
}

// checkTrees refuses trees whose nodes point outside them (children must come after their
// parent, so every walk ends), split on a feature the model does not have, or go past the
// bounds above.
// It returns how many nodes scoring one row visits at most (the sum of the trees' depths).
func checkTrees(kind string, trees []treeShape, features int) (int, error) {
	if len(trees) == 0 || len(trees) > MaxTrees {
		return 0, fmt.Errorf("%s: %d trees; expected 1 to %d", kind, len(trees), MaxTrees)
	}
	nodes, steps := 0, 0
	for ti, t := range trees {
		n := len(t.feature)
		nodes += n
		if n == 0 || len(t.left) != n || len(t.right) != n || slices.ContainsFunc(t.others, func(m int) bool { return m != n }) {
			return 0, fmt.Errorf("%s: tree %d: node arrays empty or of different lengths", kind, ti)
		}
		if nodes > MaxTreeNodes {
			return 0, fmt.Errorf("%s: over %d nodes in all", kind, MaxTreeNodes)
		}
		depth := make([]int, n)
		for i := range n {
			f := t.feature[i]
			if f < 0 {
				continue
			}
			l, r := t.left[i], t.right[i]
			if int(f) >= features || l <= int32(i) || r <= int32(i) || int(l) >= n || int(r) >= n {
				return 0, fmt.Errorf("%s: tree %d node %d points outside the tree or at feature %d of %d", kind, ti, i, f, features)
			}
			// Every parent comes before its children, so a node's depth is final (the
			// deepest way to it) by the time it is reached.
			depth[l], depth[r] = max(depth[l], depth[i]+1), max(depth[r], depth[i]+1)
			if depth[i]+1 > MaxTreeDepth {
				return 0, fmt.Errorf("%s: tree %d is deeper than %d", kind, ti, MaxTreeDepth)
			}
		}
		steps += slices.Max(depth) + 1
	}
	return steps, nil
}
