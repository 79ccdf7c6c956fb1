-- Stored responses are compressed with lz4 where the server has it: a batch's response
-- holds every posted entry, and pglz, the default, cost 3% of all CPU on a batch load (lz4
-- compresses several times faster). A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE codexion_idempotency ALTER COLUMN response SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available in this server: stored responses stay compressed with pglz';
END $$;
