-- Runs are listed newest first with runs that have no start time last (MLflow's order).
-- PostgreSQL sorts NULLs first in a DESC order, so the search asks for `start_time DESC
-- NULLS LAST`; an index declared the same way gives that order without sorting every run
-- of the experiment (a page of a 50,000-run experiment: 11 ms instead of 68 ms).
DROP INDEX runs_by_experiment;
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time DESC NULLS LAST, run_uuid);
