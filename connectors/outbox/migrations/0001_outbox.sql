-- The transactional outbox: domains append a row in the same transaction as the change it
-- describes; the relay publishes rows to Kafka in id order and marks them published.
CREATE TABLE codexion_outbox (
    id             uuid        PRIMARY KEY,          -- UUIDv7: time ordered, the CloudEvents id
    aggregate_type text        NOT NULL,             -- e.g. ledger.entry
    aggregate_id   text        NOT NULL,             -- the Kafka key: order is kept per aggregate
    event_type     text        NOT NULL,             -- e.g. codexion.ledger.entry.posted.v1
    source         text        NOT NULL,             -- CloudEvents source, e.g. codexion/ledger/acme
    payload        json        NOT NULL,  -- kept as sent: the relay publishes these bytes
    traceparent    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);
CREATE INDEX codexion_outbox_unpublished ON codexion_outbox (id) WHERE published_at IS NULL;
