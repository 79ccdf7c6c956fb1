package models

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// OnDemandInput is what on-demand features are computed from: one row's own values, at
// training time from the training rows and at serving time from the request.
type OnDemandInput struct {
	Amount    decimal.Decimal // the row's amount (the column "amount")
	EventTime time.Time
}

// OnDemandFeature computes one feature from a row. The same function runs at training and
// at serving time, so the two cannot disagree.
type OnDemandFeature func(OnDemandInput) float64

// AmountColumn is the training rows' column the amount features read.
const AmountColumn = "amount"

// OnDemandFeatures are the on-demand features a model may declare.
var OnDemandFeatures = map[string]OnDemandFeature{
	"amount_abs": func(in OnDemandInput) float64 { f, _ := in.Amount.Abs().Float64(); return f },
	"amount_log": func(in OnDemandInput) float64 { f, _ := in.Amount.Abs().Float64(); return math.Log1p(f) },
	// round_amount: a whole hundred of at least 1,000 (9,000.00 but not 9,000.01 or 300.00).
	"round_amount": func(in OnDemandInput) float64 {
		a := in.Amount.Abs()
		return b2f(a.GreaterThanOrEqual(decimal.NewFromInt(1000)) && a.Mod(decimal.NewFromInt(100)).IsZero())
	},
	"hour":     func(in OnDemandInput) float64 { return float64(in.EventTime.UTC().Hour()) },
	"odd_hour": func(in OnDemandInput) float64 { h := in.EventTime.UTC().Hour(); return b2f(h < 6 || h >= 22) },
	"weekend": func(in OnDemandInput) float64 {
		d := in.EventTime.UTC().Weekday()
		return b2f(d == time.Saturday || d == time.Sunday)
	},
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// OnDemandNames lists the on-demand features in order.
func OnDemandNames() []string {
	names := make([]string, 0, len(OnDemandFeatures))
	for n := range OnDemandFeatures {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ComputeOnDemand computes the named features for one row.
func ComputeOnDemand(names []string, in OnDemandInput) ([]float64, error) {
	out := make([]float64, len(names))
	for i, n := range names {
		f, ok := OnDemandFeatures[n]
		if !ok {
			return nil, fmt.Errorf("on-demand feature %q is not known", n)
		}
		out[i] = f(in)
	}
	return out, nil
}
