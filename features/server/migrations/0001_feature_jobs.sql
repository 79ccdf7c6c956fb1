-- Historical retrieval (training-set) jobs: their request and where the result landed.
-- Until this migration the catalog kept this table; its rows move here.
CREATE TABLE feature_jobs (
    id           uuid        PRIMARY KEY,
    status       text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    request      jsonb       NOT NULL,
    format       text        NOT NULL,
    object_key   text,
    rows         bigint,
    error        text,
    created_by   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

DO $$
BEGIN
    IF to_regclass('feature_jobs_leaving_catalog') IS NOT NULL THEN
        INSERT INTO feature_jobs (id, status, request, format, object_key, rows, error, created_by, created_at, finished_at)
            SELECT id, status, request, format, object_key, rows, error, created_by, created_at, finished_at
            FROM feature_jobs_leaving_catalog;
        DROP TABLE feature_jobs_leaving_catalog;
    END IF;
END $$;
