-- Idempotency keys: a write that a client may retry stores its response here in the same
-- transaction as the write, so a retry with the same key replays it and never applies twice.
CREATE TABLE codexion_idempotency (
    scope         text        NOT NULL,  -- the operation, e.g. "POST /v1/ledger/entries"
    key           text        NOT NULL,
    request_hash  bytea       NOT NULL,  -- sha-256 of the canonical request
    status        integer     NOT NULL,
    response      jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
