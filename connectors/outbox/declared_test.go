package outbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/schemas"
	"github.com/codexion/codexion/schemas/registry"
)

// ledgerEvents are the ledger's declarations, which the relay tests publish.
func ledgerEvents(t testing.TB) *schemas.Declarations {
	t.Helper()
	d, err := schemas.Declare(ledger.Events())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A domain that is not the ledger, declared only here.
var invoicing = schemas.Domain{Name: "invoicing", Events: []schemas.EventType{{
	Type:      "acme.invoicing.invoice.scored.v1",
	Aggregate: "invoicing.invoice",
	Topic:     "acme.invoicing.invoices.v1",
	Schema: []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
		"properties":{"invoice":{"type":"string"},"score":{"type":"number","minimum":0,"maximum":1}},
		"required":["invoice","score"]}`),
}}}

// TestANewEventTypeNeedsNoChangeToTheRelay: a domain declares an event type and its topic;
// the schema registry registers its schema from the declaration, the domain writes the event
// through the outbox port, and the relay publishes it on the declared topic, keyed by its
// aggregate, with the registered schema as its dataschema. An event type nobody declared is
// refused at the port and, written past it, dead-lettered by the relay.
func TestANewEventTypeNeedsNoChangeToTheRelay(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := schemas.Declare(ledger.Events(), invoicing)
	if err != nil {
		t.Fatal(err)
	}
	e.events = events

	// The registry registers what the domains declare, as the app does at start.
	if _, err := postgres.Up(ctx, e.db.Pool, []postgres.Source{registry.Migrations()}); err != nil {
		t.Fatal(err)
	}
	reg := registry.NewStore(e.db.Pool)
	declared, err := events.Set()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterAll(ctx, declared); err != nil {
		t.Fatal(err)
	}

	const scored = "acme.invoicing.invoice.scored.v1"
	var port interface {
		Queue(context.Context, *pgx.Batch, ...schemas.Outgoing) error
	} = NewWriter(events)
	var b pgx.Batch
	if err := port.Queue(ctx, &b, schemas.Outgoing{Type: scored, Key: "inv-7", Source: "acme/invoicing",
		Payload: map[string]any{"invoice": "inv-7", "score": 0.25}}); err != nil {
		t.Fatal(err)
	}
	err = port.Queue(ctx, &b, schemas.Outgoing{Type: "acme.invoicing.invoice.lost.v1", Key: "inv-8", Source: "acme/invoicing", Payload: map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), "not declared") {
		t.Fatalf("an undeclared event type reached the outbox: %v", err)
	}
	if err := QueueMany(ctx, &b, []Event{{AggregateType: "invoicing.invoice", AggregateID: "inv-9", Type: "acme.invoicing.invoice.lost.v1",
		Source: "acme/invoicing", Payload: map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SendBatch(ctx, &b).Close(); err != nil {
		t.Fatal(err)
	}
	e.startRelay(ctx, e.relay())

	m := e.readOne(ctx, "acme.invoicing.invoices.v1")
	ev, err := schemas.Decode(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != scored || string(m.Key) != "inv-7" || ev.Subject != "inv-7" || ev.DataSchema != schemas.DataSchemaOf(scored) {
		t.Fatalf("published %s keyed %q (subject %q, dataschema %s)", ev.Type, m.Key, ev.Subject, ev.DataSchema)
	}
	registered, err := reg.Set(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := registered.Validate(scored, ev.Data); err != nil {
		t.Fatalf("the published event does not match its registered schema: %v", err)
	}
	if err := registered.Validate(scored, []byte(`{"invoice":"inv-7","score":3}`)); err == nil {
		t.Fatal("the registry holds no rule of the declared schema")
	}

	var reason *string
	for deadline := time.Now().Add(10 * time.Second); reason == nil; time.Sleep(20 * time.Millisecond) {
		if err := e.db.QueryRow(ctx, `SELECT dead_letter_reason FROM codexion_outbox WHERE aggregate_id = 'inv-9'`).Scan(&reason); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the undeclared event was not dead-lettered within 10 s")
		}
	}
	if !strings.Contains(*reason, "no domain declares") {
		t.Fatalf("dead-letter reason %q", *reason)
	}
}

// readOne waits for a message on any partition of topic.
func (e *env) readOne(ctx context.Context, topic string) kafkago.Message {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		for p := range topicPartitions {
			rd := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{e.broker.Addr}, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
			rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			m, err := rd.ReadMessage(rctx)
			cancel()
			rd.Close() //nolint:errcheck // a reader of one message
			if err == nil {
				return m
			}
		}
	}
	e.t.Fatalf("nothing on %s within 20 s", topic)
	return kafkago.Message{}
}
