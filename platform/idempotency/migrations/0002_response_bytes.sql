-- The stored response is kept as the bytes the server answered with: it is only ever sent
-- back as it is, so PostgreSQL need not parse it into jsonb on every write (a batch's
-- response holds every posted entry).
ALTER TABLE codexion_idempotency ALTER COLUMN response TYPE bytea USING convert_to(response::text, 'UTF8');
