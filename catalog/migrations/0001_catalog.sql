-- The catalog: every applied version of every declared object (pipelines, entities,
-- feature views, feature services). The latest version of each is in force.
CREATE TABLE catalog_objects (
    kind        text        NOT NULL,
    name        text        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    revision    bigint      NOT NULL,  -- the apply that wrote it
    spec        jsonb       NOT NULL,
    schema      jsonb,                 -- derived output columns, where the kind has them
    hash        text        NOT NULL,
    applied_by  text        NOT NULL DEFAULT '',
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name, version)
);
CREATE INDEX catalog_objects_revision ON catalog_objects (revision);

CREATE SEQUENCE catalog_revision;

-- Objects are history: never rewritten.
CREATE FUNCTION catalog_objects_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'catalog_objects rows are immutable; apply a new version instead';
END $$;
CREATE TRIGGER catalog_objects_immutable BEFORE UPDATE OR DELETE ON catalog_objects
    FOR EACH ROW EXECUTE FUNCTION catalog_objects_immutable();

-- Historical retrieval jobs: their request and where the result landed.
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
