package train

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// trainer is one algorithm a model spec may name: its parameters with their defaults (all
// numbers; those marked integer must be whole) and how it fits.
type trainer struct {
	defaults map[string]float64
	integer  map[string]bool
	check    func(p map[string]float64) error
	fit      func(d Dataset, p map[string]float64) (*Model, error)
}

var trainers = map[string]trainer{
	KindLogistic: {
		defaults: map[string]float64{"C": 1, "max_iter": maxNewtonIts, "tol": 1e-8},
		integer:  map[string]bool{"max_iter": true},
		check: func(p map[string]float64) error {
			switch {
			case p["C"] <= 0:
				return fmt.Errorf("the penalty's inverse C is %v; C must be positive", p["C"])
			case p["tol"] <= 0:
				return fmt.Errorf("tol is %v; it must be positive", p["tol"])
			case p["max_iter"] < 1 || p["max_iter"] > 10*maxNewtonIts:
				return fmt.Errorf("max_iter is %v; use 1 to %d", p["max_iter"], 10*maxNewtonIts)
			}
			return nil
		},
		fit: func(d Dataset, p map[string]float64) (*Model, error) {
			return FitLogistic(d, LogisticParams{C: p["C"], MaxIter: int(p["max_iter"]), Tol: p["tol"]})
		},
	},
	KindLinear: {
		defaults: map[string]float64{},
		check:    func(map[string]float64) error { return nil },
		fit:      func(d Dataset, _ map[string]float64) (*Model, error) { return FitLinear(d) },
	},
	KindIsolationForest: {
		defaults: map[string]float64{"n_estimators": 100, "max_samples": 256, "random_state": 0},
		integer:  map[string]bool{"n_estimators": true, "max_samples": true, "random_state": true},
		check: func(p map[string]float64) error {
			switch {
			case p["n_estimators"] < 1 || p["n_estimators"] > MaxEstimators:
				return fmt.Errorf("n_estimators is %v; use 1 to %d", p["n_estimators"], MaxEstimators)
			case p["max_samples"] < 2 || p["max_samples"] > MaxSamples:
				return fmt.Errorf("max_samples is %v; use 2 to %d", p["max_samples"], MaxSamples)
			case p["random_state"] < 0:
				return fmt.Errorf("random_state is %v; use a seed of 0 or more", p["random_state"])
			}
			return nil
		},
		fit: func(d Dataset, p map[string]float64) (*Model, error) {
			return FitIsolationForest(d, IsolationParams{NEstimators: int(p["n_estimators"]), MaxSamples: int(p["max_samples"]), RandomState: int64(p["random_state"])})
		},
	},
}

// Trainers are the trainers a model spec may name.
func Trainers() []string { return slices.Sorted(maps.Keys(trainers)) }

// Resolve checks a trainer's name and parameters and fills in the defaults of the rest.
func Resolve(kind string, given map[string]float64) (map[string]float64, error) {
	t, ok := trainers[kind]
	if !ok {
		if kind == "" {
			return nil, fmt.Errorf("trainer.type is required (known: %s)", strings.Join(Trainers(), ", "))
		}
		return nil, fmt.Errorf("trainer.type %q is not a trainer (known: %s)", kind, strings.Join(Trainers(), ", "))
	}
	out := maps.Clone(t.defaults)
	for k, v := range given {
		if _, ok := t.defaults[k]; !ok {
			return nil, fmt.Errorf("trainer.params.%s is not a parameter of %s (known: %s)", k, kind, strings.Join(slices.Sorted(maps.Keys(t.defaults)), ", "))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || (t.integer[k] && v != math.Trunc(v)) {
			return nil, fmt.Errorf("trainer.params.%s is %v; it must be a finite %s", k, v, map[bool]string{true: "whole number", false: "number"}[t.integer[k]])
		}
		out[k] = v
	}
	if err := t.check(out); err != nil {
		return nil, fmt.Errorf("trainer.params of %s: %w", kind, err)
	}
	return out, nil
}

// Fit fits the named trainer with resolved parameters.
func Fit(kind string, params map[string]float64, d Dataset) (*Model, error) {
	t, ok := trainers[kind]
	if !ok {
		return nil, fmt.Errorf("trainer %q is not known", kind)
	}
	return t.fit(d, params)
}
