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

-- What the relay remembers: the Kafka cluster it last published to. A different cluster id
-- (an in-memory broker restarted, or a new cluster) means everything is published again.
CREATE TABLE codexion_relay_state (
    name        text        PRIMARY KEY,
    cluster_id  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Wake the relay when rows arrive; polling covers a missed notification.
CREATE FUNCTION codexion_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('codexion_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER codexion_outbox_notify AFTER INSERT ON codexion_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION codexion_outbox_notify();

-- Rows that failed their schema go to the dead-letter topic and are marked here.
ALTER TABLE codexion_outbox ADD COLUMN dead_letter_reason text;

-- Event ids each Postgres-backed consumer has applied: the dedupe record, written in the
-- same transaction as the consumer's work.
CREATE TABLE codexion_consumed (
    consumer    text        NOT NULL,
    event_id    text        NOT NULL,
    consumed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
