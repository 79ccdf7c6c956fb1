-- The stored response is kept as the bytes the server answered with: it is only ever sent
-- back as it is, so PostgreSQL need not parse it into jsonb on every write (a batch's
-- response holds every posted entry).
ALTER TABLE codexion_idempotency ALTER COLUMN response TYPE bytea USING convert_to(response::text, 'UTF8');

-- It is compressed with lz4 where the server has it: pglz, the default, cost 3% of all CPU on
-- a batch load (lz4 compresses several times faster). A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE codexion_idempotency ALTER COLUMN response SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available in this server: stored responses stay compressed with pglz';
END $$;
