-- The schema registry: schemas by global id, subjects with numbered versions, and the
-- compatibility level per subject ('' is the global default).
CREATE TABLE schema_registry_schemas (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_type text    NOT NULL DEFAULT 'JSON',
    schema      text    NOT NULL,
    fingerprint text    NOT NULL UNIQUE   -- sha-256 of the canonical form
);

CREATE TABLE schema_registry_versions (
    subject    text        NOT NULL,
    version    integer     NOT NULL,
    schema_id  integer     NOT NULL REFERENCES schema_registry_schemas (id),
    deleted    boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, version)
);

CREATE TABLE schema_registry_config (
    subject       text PRIMARY KEY,   -- '' for the global default
    compatibility text NOT NULL CHECK (compatibility IN ('BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD',
                  'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE'))
);
INSERT INTO schema_registry_config (subject, compatibility) VALUES ('', 'BACKWARD');
