-- A run's latest metric values carry the run's experiment, so that a search ordered by a metric
-- walks that experiment's values in order and stops after a page, instead of joining every run
-- of the registry: PostgreSQL cannot estimate filters on several key-value tables together, and
-- underestimates that pushed it to join everything (tens of milliseconds at 10,000 runs).
-- Runs never move between experiments.
ALTER TABLE models_latest_metrics ADD COLUMN experiment_id bigint;
UPDATE models_latest_metrics m SET experiment_id = r.experiment_id FROM models_runs r WHERE r.run_id = m.run_id;
ALTER TABLE models_latest_metrics ALTER COLUMN experiment_id SET NOT NULL;
CREATE INDEX models_latest_metrics_experiment_order ON models_latest_metrics (experiment_id, key, value);
