package ledger_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/ledger/ledgertest"
)

// TestEntriesAtEveryBoundMatchTheirEventSchema builds the events of entries at every bound
// (without a database) and validates them as the outbox relay does; one past a bound the
// ledger refuses the entry before any event exists.
func TestEntriesAtEveryBoundMatchTheirEventSchema(t *testing.T) {
	set := ledgertest.EventSchemas(t)
	for name, in := range ledgertest.BoundEntries("acme", "1200", "4000") {
		t.Run(name, func(t *testing.T) {
			entry, err := ledger.PostedEntry(in, "acme")
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(entry)
			if err != nil {
				t.Fatal(err)
			}
			if err := set.Validate(ledger.EventEntryPosted, data); err != nil {
				t.Fatalf("%.300s", err)
			}
		})
	}
	deeper := ledgertest.BoundEntries("acme", "1200", "4000")["deepest metadata"]
	deeper.Metadata = json.RawMessage(strings.Replace(string(deeper.Metadata), `"leaf"`, `{"a":"leaf"}`, 1))
	if err := ledger.ParseEntry(deeper); err == nil || !strings.Contains(err.Error(), "nests deeper than") {
		t.Fatalf("metadata one level deeper: %v", err)
	}
}
