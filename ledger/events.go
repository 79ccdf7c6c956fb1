package ledger

import (
	"context"
	"embed"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/schemas"
)

// Event types the ledger publishes.
const (
	EventEntryPosted    = "codexion.ledger.entry.posted.v1"
	EventEntryReversed  = "codexion.ledger.entry.reversed.v1"
	EventPeriodClosed   = "codexion.ledger.period.closed.v1"
	EventPeriodReopened = "codexion.ledger.period.reopened.v1"
	EventAccountCreated = "codexion.ledger.account.created.v1"
	EventAccountClosed  = "codexion.ledger.account.closed.v1"
	EventBookCreated    = "codexion.ledger.book.created.v1"
)

// Aggregates: the Kafka key of an event is its aggregate's id, so one aggregate's events
// keep their order on one partition. Entry events are keyed by entry id.
const (
	aggregateEntry   = "ledger.entry"
	aggregateAccount = "ledger.account"
	aggregatePeriod  = "ledger.period"
	aggregateBook    = "ledger.book"
)

// Topics the ledger publishes to, one per aggregate.
const (
	TopicEntries  = "codexion.ledger.entries.v1"
	TopicAccounts = "codexion.ledger.accounts.v1"
	TopicPeriods  = "codexion.ledger.periods.v1"
	TopicBooks    = "codexion.ledger.books.v1"
)

//go:embed events/*.json
var eventSchemas embed.FS

// Events declares everything the ledger publishes: each event type with its aggregate (the
// Kafka key), its topic and its JSON Schema (events/<type>.json). The relay, the schema
// registry and the pipelines read this declaration; nothing else names the ledger's topics.
func Events() schemas.Domain {
	declare := func(typ, aggregate, topic string) schemas.EventType {
		body, err := eventSchemas.ReadFile("events/" + typ + ".json")
		if err != nil {
			panic("ledger: no embedded schema for " + typ) // a build without its own schema files
		}
		return schemas.EventType{Type: typ, Aggregate: aggregate, Topic: topic, Schema: body}
	}
	return schemas.Domain{Name: "ledger", Events: []schemas.EventType{
		declare(EventEntryPosted, aggregateEntry, TopicEntries),
		declare(EventEntryReversed, aggregateEntry, TopicEntries),
		declare(EventAccountCreated, aggregateAccount, TopicAccounts),
		declare(EventAccountClosed, aggregateAccount, TopicAccounts),
		declare(EventPeriodClosed, aggregatePeriod, TopicPeriods),
		declare(EventPeriodReopened, aggregatePeriod, TopicPeriods),
		declare(EventBookCreated, aggregateBook, TopicBooks),
	}}
}

// Outbox is where the ledger's events go: it queues them on the batch of the transaction
// that makes the change, so an event exists if and only if its change committed. The
// ledger does not know how events leave the database; app/ passes the transactional outbox.
type Outbox interface {
	Queue(ctx context.Context, b *pgx.Batch, events ...schemas.Outgoing) error
}

func source(book string) string { return "codexion/ledger/" + book }
