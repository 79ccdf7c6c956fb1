-- Schema references (Confluent's): the registered subject versions a schema's $ref may
-- reach, as a JSON array of {name, subject, version}. Nothing else resolves.
ALTER TABLE schema_registry_schemas ADD COLUMN schema_refs jsonb NOT NULL DEFAULT '[]';
