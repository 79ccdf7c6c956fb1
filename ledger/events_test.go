package ledger

import (
	"strings"
	"testing"

	"github.com/codexion/codexion/connectors/outbox"
	"github.com/codexion/codexion/schemas"
)

// declared is the ledger's declaration as the app gathers it.
func declared(t testing.TB) *schemas.Declarations {
	t.Helper()
	d, err := schemas.Declare(Events())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// eventSet compiles the ledger's declared schemas.
func eventSet(t testing.TB) *schemas.Set {
	t.Helper()
	set, err := declared(t).Set()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// testOutbox is the transactional outbox over the ledger's declarations, as app/ wires it.
func testOutbox() Outbox {
	d, err := schemas.Declare(Events())
	if err != nil {
		panic(err)
	}
	return outbox.NewWriter(d)
}

func TestEveryEventTypeValidates(t *testing.T) {
	s := eventSet(t)
	if len(s.Types()) < 7 {
		t.Fatalf("types %v", s.Types())
	}
	entry := `{"id":"01a21502-ae74-7a2a-8129-f54e72dbf1f7","book":"acme","posting_date":"2026-01-31","journal":"sales",
	  "kind":"standard","created_at":"2026-11-25T10:00:00Z","metadata":{},"future_field":1,
	  "lines":[{"line_no":1,"account":"1200","debit":"119.00","currency":"EUR","book_amount":"119.00"},
	           {"line_no":2,"account":"4000","credit":"119.00","currency":"EUR","book_amount":"-119.00"}]}`
	if err := s.Validate("codexion.ledger.entry.posted.v1", []byte(entry)); err != nil {
		t.Fatalf("valid entry refused: %v", err)
	}
	bad := strings.Replace(entry, `"debit":"119.00"`, `"debit":119`, 1)
	err := s.Validate("codexion.ledger.entry.posted.v1", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "/lines/0") {
		t.Fatalf("number amount: %v", err)
	}
	if err := s.Validate("codexion.unknown.v1", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "no schema is registered") {
		t.Fatalf("unknown type: %v", err)
	}
	if err := s.Validate("codexion.ledger.book.created.v1", []byte(`{"code":"a"`)); err == nil {
		t.Fatal("truncated JSON accepted")
	}
}

// TestEveryEventTypeIsDeclaredOnItsAggregatesTopic: each type the ledger writes has one
// topic per aggregate, so the events of one entry, account, period or book keep their order.
func TestEveryEventTypeIsDeclaredOnItsAggregatesTopic(t *testing.T) {
	topicOf := map[string]string{}
	for _, et := range Events().Events {
		if was, ok := topicOf[et.Aggregate]; ok && was != et.Topic {
			t.Errorf("aggregate %s is on %s and %s: its events could overtake each other", et.Aggregate, was, et.Topic)
		}
		topicOf[et.Aggregate] = et.Topic
	}
	want := map[string]string{"ledger.entry": TopicEntries, "ledger.account": TopicAccounts, "ledger.period": TopicPeriods, "ledger.book": TopicBooks}
	for agg, topic := range want {
		if topicOf[agg] != topic {
			t.Errorf("aggregate %s on %q, want %s", agg, topicOf[agg], topic)
		}
	}
}
