package models_test

import (
	"os"
	"strings"
	"testing"

	"github.com/codexion/codexion/models"
)

func TestAModelSpecThatCannotTrainIsRefusedNamingTheField(t *testing.T) {
	raw, err := os.ReadFile("../examples/ledger/models/entry-risk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.SplitN(string(raw), "kind: Model\n", 2)[1]
	if name, _, err := (models.ModelKind{}).Parse([]byte(body)); err != nil || name != "entry-risk" {
		t.Fatalf("the example: %s %v", name, err)
	}
	for _, c := range []struct{ from, to, says string }{
		{"feature_service: entry_risk\n", "", "feature_service is required"},
		{"on_demand: [amount_log, round_amount, odd_hour, weekend]", "on_demand: [amount_log, zodiac]", `on_demand "zodiac"`},
		{"test_fraction: 0.25", "test_fraction: 1.5", "evaluation.test_fraction"},
		{"type: logistic_regression", "type: deep_magic", `trainer.type "deep_magic"`},
		{"params: {C: 1.0}", "params: {C: 1.0, gamma: 2}", "trainer.params.gamma"},
		{"params: {C: 1.0}", "params: {C: -1}", "C must be positive"},
		{"type: logistic_regression", "type: isolation_forest", "trainer.params.C is not a parameter of isolation_forest"},
		{"params: {C: 1.0}", "params: {C: 1.5, max_iter: 20.5}", "max_iter is 20.5; it must be a finite whole number"},
		{"FROM {{batch}}", "FROM ledger_lines", "{{batch}}"},
		{"label: label", "label: \"x; DROP TABLE y\"", "rows.label"},
		{"owner: finance-controls", "owner: \"\"", "card.purpose and card.owner"},
		{"name: entry-risk", "name: Entry Risk", "name \"Entry Risk\""},
		{"test_fraction: 0.25", "test_fraction: 0.25\n  shuffle: true", "shuffle"},
	} {
		if !strings.Contains(body, c.from) {
			t.Fatalf("the example lacks %q", c.from)
		}
		_, _, err := (models.ModelKind{}).Parse([]byte(strings.Replace(body, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q -> %q: %v, want it to say %q", c.from, c.to, err, c.says)
		}
	}
}
