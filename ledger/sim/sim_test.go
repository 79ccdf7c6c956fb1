package sim

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/codexion/codexion/ledger"
)

func opts(seed uint64, days int) Options {
	return Options{Book: "acme", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: days, Seed: seed}
}

func TestSameSeedSameEntries(t *testing.T) {
	a, err := Generate(opts(1, 90))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(opts(1, 90))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different entries")
	}
	c, _ := Generate(opts(2, 90))
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same entries")
	}
}

func TestActivityIsRealisticAndBalanced(t *testing.T) {
	es, err := Generate(opts(1, 90))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	anomalies := map[string]int{}
	for _, e := range es {
		kinds[e.Input.Journal]++
		if e.Anomaly != "" {
			anomalies[e.Anomaly]++
		}
		var debit, credit ledger.Amount
		for _, l := range e.Input.Lines {
			if l.Debit != nil {
				d, _ := ledger.ParseAmount(*l.Debit)
				debit = debit.Add(d)
			} else {
				c, _ := ledger.ParseAmount(*l.Credit)
				credit = credit.Add(c)
			}
		}
		if !debit.Equal(credit) || len(e.Input.Lines) < 2 {
			t.Fatalf("entry %s does not balance: %s vs %s", e.Input.Reference, debit, credit)
		}
	}
	if kinds["sales"] < 150 || kinds["purchases"] < 40 || kinds["bank"] < 100 {
		t.Fatalf("journals %v: too little activity for 90 days", kinds)
	}
	if len(anomalies) != 3 || anomalies["odd_hour"] == 0 {
		t.Fatalf("anomalies %v", anomalies)
	}
	t.Logf("%d entries, journals %v, anomalies %v", len(es), kinds, anomalies)
}

func TestBadDays(t *testing.T) {
	if _, err := Generate(opts(1, 0)); err == nil {
		t.Fatal("accepted 0 days")
	}
}

func TestAnomaliesAtARateAreLabelledAndLeaveOrdinaryEntriesAlone(t *testing.T) {
	plain, err := Generate(opts(1, 90))
	if err != nil {
		t.Fatal(err)
	}
	o := opts(1, 90)
	o.AnomaliesPerDay = 1
	rich, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var ordinary []Entry
	for _, e := range rich {
		if e.Anomaly == "" {
			ordinary = append(ordinary, e)
			continue
		}
		kinds[e.Anomaly]++
		var meta map[string]any
		if err := json.Unmarshal(e.Input.Metadata, &meta); err != nil || meta["anomaly"] != e.Anomaly {
			t.Fatalf("anomaly %s is not labelled in its metadata: %s", e.Anomaly, e.Input.Metadata)
		}
	}
	for _, k := range AnomalyKinds {
		if kinds[k] == 0 {
			t.Errorf("no %s anomaly in 90 days at one a day: %v", k, kinds)
		}
	}
	var plainOrdinary int
	for _, e := range plain {
		if e.Anomaly == "" {
			plainOrdinary++
		}
	}
	if len(ordinary) != plainOrdinary {
		t.Fatalf("the rate changed the ordinary entries: %d, without it %d", len(ordinary), plainOrdinary)
	}
	if _, err := Generate(Options{Book: "b", Days: 1, AnomaliesPerDay: 11}); err == nil {
		t.Fatal("a rate past the bound must be refused")
	}
}
