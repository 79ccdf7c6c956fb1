package train

import (
	"errors"
	"fmt"
	"math"

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

// FitLogistic fits a logistic regression on standardised features by Newton's method (the
// objective is smooth and strictly convex, so it converges in a few exact steps). Targets
// must be 0 or 1 with both present.
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
	mean, scale, z := standardise(d.X, p)
	k := p + 1 // the coefficients and, last, the intercept
	w := make([]float64, k)
	grad := make([]float64, k)
	hess := mat.NewSymDense(k, nil)
	m := &Model{Kind: KindLogistic, Features: d.Features, Mean: mean, Scale: scale}
	for it := 1; it <= prm.MaxIter; it++ {
		for j := range grad {
			grad[j] = 0
		}
		hd := make([]float64, k*k)
		for i, row := range z {
			s := w[p]
			for j, v := range row {
				s += w[j] * v
			}
			pr := sigmoid(s)
			r := prm.C * (pr - d.Y[i])
			wt := prm.C * pr * (1 - pr)
			for a := range p {
				grad[a] += r * row[a]
				va := wt * row[a]
				for b := a; b < p; b++ {
					hd[a*k+b] += va * row[b]
				}
				hd[a*k+p] += va
			}
			grad[p] += r
			hd[p*k+p] += wt
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
