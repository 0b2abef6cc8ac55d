-- Maintenance jobs (server/src/jobs) for SQLite: the leases that let exactly one replica
-- at a time run a job, the record of every job run, and each run's last write (what the
-- stuck-run reaper looks at).

-- One row per job (name = the job's name) and one per replica (name = 'replica/<id>').
-- A job's row is its lease and its schedule: whoever holds an unexpired lease runs it, and
-- nobody takes it before next_run_at. A replica's row is its heartbeat: renewed_at is when
-- it was last seen, host and version what it is. Times are milliseconds since the epoch.
CREATE TABLE job_leases (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL DEFAULT '',
    expires_at  INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER NOT NULL DEFAULT 0,
    renewed_at  INTEGER NOT NULL DEFAULT 0,
    host        TEXT,
    version     TEXT
);

-- Every job run: who ran it, when, how it ended, how many things it changed.
CREATE TABLE job_runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job        TEXT    NOT NULL,
    holder     TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('running', 'ok', 'failed')),
    items      INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    dry_run    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX job_runs_by_job ON job_runs (job, started_at DESC);

-- When the server last took a write for the run (ms). Written at most once a minute per
-- run, by the statement that already checks the run is active, so the write path pays
-- nothing per point. NULL on runs older than this migration: the reaper then uses
-- start_time.
ALTER TABLE runs ADD COLUMN last_write_time INTEGER;
