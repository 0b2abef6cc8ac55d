-- Each metric summary carries its run's experiment, so a search ordered by a metric walks
-- the index `(experiment_id, key, is_nan, value)` in order and stops after one page,
-- instead of probing every run of the experiment and sorting the matches (see
-- `search::sql`, "metric-driven pages"). Runs never change experiment, so the column is
-- written once, with the summary's first point. The `(key, value)` index served no query.
ALTER TABLE latest_metrics ADD COLUMN experiment_id BIGINT;
UPDATE latest_metrics SET experiment_id = runs.experiment_id FROM runs WHERE runs.id = latest_metrics.run_id;
ALTER TABLE latest_metrics ALTER COLUMN experiment_id SET NOT NULL;
DROP INDEX latest_metrics_by_key_value;
CREATE INDEX latest_metrics_by_experiment_key ON latest_metrics (experiment_id, key, is_nan, value);
