-- Training-set jobs run as Temporal workflows. A job keeps what it needs to be built by a
-- worker that did not accept it (the resolved plan, pinned at submit) and what it was built
-- from (its lineage), which the model registry reads as a model version's training data.
ALTER TABLE feature_jobs
    ADD COLUMN plan             jsonb,
    ADD COLUMN catalog_revision bigint,
    ADD COLUMN views            jsonb,
    ADD COLUMN service          jsonb,
    ADD COLUMN entity_time_from timestamptz,
    ADD COLUMN entity_time_to   timestamptz,
    ADD COLUMN sql              text,
    ADD COLUMN result_sha256    text;
