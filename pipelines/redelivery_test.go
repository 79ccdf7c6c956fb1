//go:build duckdb_arrow

package pipelines

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/schemas"
)

// TestABatchHoldingAnEventTwiceStoresItOnce: after a crash the relay publishes again what it
// had not marked, so both copies of an event can arrive in one batch, beside other events.
// The offline store's dedupe sees only earlier batches; the batch itself keeps each event once.
func TestABatchHoldingAnEventTwiceStoresItOnce(t *testing.T) {
	ctx := context.Background()
	e := &Engine{Spec: exampleSpec(t)}
	var err error
	if e.decoder, err = newDecoder(e.Spec.Source.Explode, e.Spec.Source.Columns); err != nil {
		t.Fatal(err)
	}
	if e.decoded, err = decodedSchema(e.Spec.Source.Columns); err != nil {
		t.Fatal(err)
	}
	event := func(id, entry string) kafkago.Message { return ledgerEvent(t, id, entry) }
	msgs := []kafkago.Message{event("ev-1", "entry-1"), event("ev-2", "entry-2"), event("ev-1", "entry-1"), event("ev-3", "entry-3"), event("ev-2", "entry-2")}
	b, dead, skipped, err := e.prepare(ctx, nil, msgs, map[int]int64{0: 5})
	if err != nil || dead != 0 {
		t.Fatalf("prepare: %d dead, %v", dead, err)
	}
	defer b.Record.Release()
	if b.Record.NumRows() != 6 || skipped != 2 {
		t.Fatalf("%d rows (%d copies skipped), want 6 lines of 3 events and 2 copies skipped", b.Record.NumRows(), skipped)
	}
	off, err := offline.Open(ctx, filepath.Join(t.TempDir(), "offline.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	n, err := off.Append(ctx, b)
	if err != nil || n != 6 {
		t.Fatalf("stored %d lines (%v), want 6", n, err)
	}
}

// ledgerEvent is a posted-entry event with id for an entry of two lines.
func ledgerEvent(t testing.TB, id, entry string) kafkago.Message {
	t.Helper()
	data := fmt.Sprintf(`{"id":%q,"book":"acme","posting_date":"2026-01-31","journal":"general","kind":"standard","created_at":"2026-01-31T10:00:00Z",
		"lines":[{"line_no":1,"account":"1200","currency":"EUR","debit":"1.00","book_amount":"1.00"},
		         {"line_no":2,"account":"4000","currency":"EUR","credit":"1.00","book_amount":"-1.00"}]}`, entry)
	v, err := json.Marshal(schemas.Event{SpecVersion: schemas.SpecVersion, ID: id, Source: "codexion/ledger/acme",
		Type: "codexion.ledger.entry.posted.v1", Time: time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC), DataContentType: "application/json",
		Data: json.RawMessage(data)})
	if err != nil {
		t.Fatal(err)
	}
	return kafkago.Message{Key: []byte(entry), Value: v}
}
