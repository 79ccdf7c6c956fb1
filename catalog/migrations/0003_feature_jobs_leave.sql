-- Training-set jobs belong to the feature store, which now keeps them in its own
-- migrations. The table is renamed here and its rows moved by the feature store's first
-- migration (which runs after this one), so no job is lost.
ALTER TABLE IF EXISTS feature_jobs RENAME TO feature_jobs_leaving_catalog;
