package train

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// LogisticParams are logistic regression's settings, named as scikit-learn names them.
type LogisticParams struct {
	// C is the inverse of the L2 penalty's strength on the coefficients (not the
	// intercept): the objective is ½‖w‖² + C·Σ log-loss, as scikit-learn's.
	C float64 `json:"C"`
	// Tol stops the fit when the largest gradient component falls below it.
	Tol     float64 `json:"tol"`
	MaxIter int     `json:"max_iter"`
}

// DefaultLogistic is scikit-learn's default penalty (C = 1), solved to a gradient of 1e-8:
// Newton steps are cheap enough to converge past scikit-learn's own tolerance.
func DefaultLogistic() LogisticParams { return LogisticParams{C: 1, Tol: 1e-8, MaxIter: maxNewtonIts} }

// hessianRows is about how many rows a Newton step's Hessian is summed over (a variable
// so that a test can compare with the Hessian over every row).
var hessianRows = 100_000

// FitLogistic fits a logistic regression on standardised features by Newton's method (the
// objective is smooth and strictly convex, so it converges in a few steps), on every core.
// Targets must be 0 or 1 with both present.
func FitLogistic(d Dataset, prm LogisticParams) (*Model, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	if prm.C <= 0 || math.IsNaN(prm.C) {
		return nil, fmt.Errorf("parameter C is %v; it must be positive", prm.C)
	}
	if prm.MaxIter <= 0 || prm.MaxIter > 10*maxNewtonIts {
		return nil, fmt.Errorf("max_iter is %d; use 1 to %d", prm.MaxIter, 10*maxNewtonIts)
	}
	var pos int
	for i, y := range d.Y {
		switch y {
		case 1:
			pos++
		case 0:
		default:
			return nil, fmt.Errorf("row %d: the label is %v; logistic regression needs labels 0 and 1", i, y)
		}
	}
	if pos == 0 || pos == len(d.Y) {
		return nil, errors.New("every row has the same label; logistic regression needs both 0 and 1")
	}
	p := len(d.Features)
	mean, scale, z := standardiseFlat(d.X, p)
	k := p + 1 // the coefficients and, last, the intercept
	w := make([]float64, k)
	grad := make([]float64, k)
	hess := mat.NewSymDense(k, nil)
	m := &Model{Kind: KindLogistic, Features: d.Features, Mean: mean, Scale: scale}
	workers := min(runtime.GOMAXPROCS(0), max(1, len(d.Y)/4096))
	parts := make([]newtonPart, workers)
	for i := range parts {
		parts[i] = newtonPart{grad: make([]float64, k), hd: make([]float64, k*k)}
	}
	hd := make([]float64, k*k)
	// On many rows the Hessian is summed over every stride-th row (about hessianRows of
	// them, scaled up): a step then is a close approximation of Newton's, the gradient and
	// the stopping test still use every row, so the answer is the same to the tolerance.
	// Should a step ever fail to shrink the gradient, every row is used from then on.
	stride := max(1, len(d.Y)/hessianRows)
	prevG := math.Inf(1)
	for it := 1; it <= prm.MaxIter; it++ {
		// Each core sums the gradient and the Hessian's upper triangle over its rows.
		var wg sync.WaitGroup
		chunk := (len(d.Y) + workers - 1) / workers
		for c := range parts {
			lo, hi := c*chunk, min(len(d.Y), (c+1)*chunk)
			wg.Go(func() { parts[c].sum(z, d.Y, w, p, prm.C, lo, hi, stride) })
		}
		wg.Wait()
		clear(grad)
		clear(hd)
		for _, part := range parts {
			for j, g := range part.grad {
				grad[j] += g
			}
			for j, h := range part.hd {
				hd[j] += h
			}
		}
		for j := range p {
			grad[j] += w[j]
			hd[j*k+j]++
		}
		var gmax float64
		for _, g := range grad {
			gmax = math.Max(gmax, math.Abs(g))
		}
		m.Iterations = it
		if gmax < prm.Tol {
			m.Converged = true
			break
		}
		if gmax >= prevG {
			stride = 1
		}
		prevG = gmax
		for a := range k {
			for b := a; b < k; b++ {
				hess.SetSym(a, b, hd[a*k+b])
			}
		}
		var chol mat.Cholesky
		if !chol.Factorize(hess) {
			return nil, errors.New("the Hessian is not positive definite; the features may be degenerate")
		}
		var step mat.VecDense
		if err := chol.SolveVecTo(&step, mat.NewVecDense(k, grad)); err != nil {
			return nil, fmt.Errorf("newton step: %w", err)
		}
		for j := range w {
			w[j] -= step.AtVec(j)
		}
	}
	m.Coef, m.Intercept = w[:p], w[p]
	return m, nil
}

// newtonPart is one core's share of a Newton step's sums.
type newtonPart struct {
	grad, hd []float64
}

// sum adds, over rows lo..hi of the standardised matrix z (p columns, row by row), the
// gradient of C·Σ log-loss at w and, over every stride-th row weighted by stride, the upper
// triangle of its Hessian (k = p+1 columns, the intercept last).
func (nt *newtonPart) sum(z, y, w []float64, p int, c float64, lo, hi, stride int) {
	k := p + 1
	grad, hd := nt.grad[:k], nt.hd[:k*k]
	clear(grad)
	clear(hd)
	coef, icpt := w[:p], w[p]
	g := grad[:p]
	for i := lo; i < hi; i++ {
		row := z[i*p : i*p+p : i*p+p]
		row = row[:len(coef)]
		s := icpt
		for j, v := range row {
			s += coef[j] * v
		}
		r := c * (sigmoid(s) - y[i])
		row = row[:len(g)]
		for a, v := range row {
			g[a] += r * v
		}
		grad[p] += r
	}
	first := (lo + stride - 1) / stride * stride
	for i := first; i < hi; i += stride {
		row := z[i*p : i*p+p : i*p+p]
		s := icpt
		for j, v := range row {
			s += coef[j] * v
		}
		pr := sigmoid(s)
		wt := c * pr * (1 - pr) * float64(stride)
		for a, v := range row {
			va := wt * v
			h := hd[a*k+a : a*k+p]
			ra := row[a:]
			ra = ra[:len(h)]
			for b, u := range ra {
				h[b] += va * u
			}
			hd[a*k+p] += va
		}
		hd[p*k+p] += wt
	}
}

// FitLinear fits ordinary least squares on standardised features (scikit-learn's
// LinearRegression: no penalty), through a QR decomposition.
func FitLinear(d Dataset) (*Model, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	p := len(d.Features)
	if len(d.X) <= p {
		return nil, fmt.Errorf("%d rows for %d features; least squares needs more rows than features", len(d.X), p)
	}
	mean, scale, z := standardise(d.X, p)
	a := mat.NewDense(len(z), p+1, nil)
	for i, row := range z {
		for j, v := range row {
			a.Set(i, j, v)
		}
		a.Set(i, p, 1)
	}
	var qr mat.QR
	qr.Factorize(a)
	var beta mat.Dense
	if err := qr.SolveTo(&beta, false, mat.NewDense(len(d.Y), 1, d.Y)); err != nil {
		return nil, fmt.Errorf("least squares: %w (features may be collinear)", err)
	}
	coef := make([]float64, p)
	for j := range coef {
		coef[j] = beta.At(j, 0)
	}
	return &Model{Kind: KindLinear, Features: d.Features, Mean: mean, Scale: scale, Coef: coef, Intercept: beta.At(p, 0)}, nil
}
