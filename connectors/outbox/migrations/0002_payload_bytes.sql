-- The payload is kept as the bytes the domain marshalled, which the relay publishes as they
-- are: PostgreSQL need not parse it as json on every insert.
ALTER TABLE codexion_outbox ALTER COLUMN payload TYPE bytea USING convert_to(payload::text, 'UTF8');
