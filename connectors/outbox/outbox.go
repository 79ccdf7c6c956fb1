// Package outbox is the transactional outbox: a domain appends an event row in the same
// SQL transaction as the change it describes, so an event exists if and only if its change
// committed. The relay (which publishes rows to Kafka in id order) reads the same table.
// It knows no domain: event types, their topics and schemas come from the domains'
// declarations (schemas.Declarations), and domains reach it through ports of their own.
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/propagation"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/schemas"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the outbox table's migration source.
func Migrations() postgres.Source { return postgres.Embedded("outbox", migrations) }

// Event is one outbox row before it is written.
type Event struct {
	AggregateType string // e.g. "ledger.entry"
	AggregateID   string // the Kafka partition key
	Type          string // e.g. "codexion.ledger.entry.posted.v1"
	Source        string // e.g. "codexion/ledger/acme"
	Payload       any    // marshalled to JSON
}

// newID returns an event's id: time ordered (UUIDv7), so rows sort in creation order.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Writer queues declared events; it is what a domain's outbox port is given.
type Writer struct{ events *schemas.Declarations }

// NewWriter returns a writer of the declared event types.
func NewWriter(events *schemas.Declarations) *Writer { return &Writer{events: events} }

// Queue adds the insert of events to b, to run inside the caller's transaction. An event
// type nobody declared is refused here, so its change does not commit without its event.
func (w *Writer) Queue(ctx context.Context, b *pgx.Batch, events ...schemas.Outgoing) error {
	rows := make([]Event, len(events))
	for i, e := range events {
		et, ok := w.events.Lookup(e.Type)
		if !ok {
			return fmt.Errorf("outbox: event type %s is not declared by any domain", e.Type)
		}
		rows[i] = Event{AggregateType: et.Aggregate, AggregateID: e.Key, Type: e.Type, Source: e.Source, Payload: e.Payload}
	}
	return QueueMany(ctx, b, rows)
}

// QueueMany adds one insert of all events to batch b, to run inside the caller's
// transaction. The W3C traceparent of ctx rides along so a trace continues through the relay.
func QueueMany(ctx context.Context, b *pgx.Batch, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	var traceparent *string
	if tp := carrier.Get("traceparent"); tp != "" {
		traceparent = &tp
	}
	n := len(events)
	ids := make([]uuid.UUID, n)
	aggTypes, aggIDs, types, sources, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
	for i, e := range events {
		payload, err := json.Marshal(e.Payload)
		if err != nil {
			return fmt.Errorf("outbox payload of %s: %w", e.Type, err)
		}
		ids[i], aggTypes[i], aggIDs[i], types[i], sources[i], payloads[i] = newID(), e.AggregateType, e.AggregateID, e.Type, e.Source, payload
	}
	b.Queue(`INSERT INTO codexion_outbox (id, aggregate_type, aggregate_id, event_type, source, payload, traceparent)
		SELECT t.id, t.at, t.ai, t.et, t.src, t.p, $7
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[]) WITH ORDINALITY AS t(id, at, ai, et, src, p, o)
		ORDER BY t.o`, ids, aggTypes, aggIDs, types, sources, payloads, traceparent)
	return nil
}

// Replay marks the events with ids from from to to (inclusive; UUIDv7, so time ordered;
// to empty means every later one) for publishing again, dead-lettered ones included; the
// running relay sends them and consumers dedupe by id. It returns how many were marked.
func Replay(ctx context.Context, db *pgxpool.Pool, from, to string) (int64, error) {
	if _, err := uuid.Parse(from); err != nil {
		return 0, platform.Invalid("--from %q is not an outbox event id (a UUID)", from)
	}
	var toArg any
	if to != "" {
		if _, err := uuid.Parse(to); err != nil {
			return 0, platform.Invalid("--to %q is not an outbox event id (a UUID)", to)
		}
		toArg = to
	}
	tag, err := db.Exec(ctx, `UPDATE codexion_outbox SET published_at = NULL, dead_letter_reason = NULL
		WHERE id >= $1::uuid AND ($2::uuid IS NULL OR id <= $2::uuid)`, from, toArg)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
