-- Model registry and logged models (MLflow 3.x) for SQLite.
-- Registered models get an integer surrogate key: versions, tags and aliases hang off it,
-- so a rename touches one row and carries everything along.

CREATE TABLE registered_models (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT    NOT NULL UNIQUE,
    creation_time     INTEGER NOT NULL,
    last_updated_time INTEGER NOT NULL,
    description       TEXT
);
CREATE INDEX registered_models_by_update ON registered_models (last_updated_time);

CREATE TABLE registered_model_tags (
    registered_model_id INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    key                 TEXT    NOT NULL,
    value               TEXT    NOT NULL,
    PRIMARY KEY (registered_model_id, key)
) WITHOUT ROWID;

-- Deleted versions stay as 'Deleted_Internal' rows, so MAX(version) + 1 never reuses a number.
CREATE TABLE model_versions (
    registered_model_id INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    version             INTEGER NOT NULL,
    creation_time       INTEGER NOT NULL,
    last_updated_time   INTEGER NOT NULL,
    description         TEXT,
    user_id             TEXT,
    current_stage       TEXT    NOT NULL DEFAULT 'None',
    source              TEXT    NOT NULL,
    storage_location    TEXT,
    run_id              TEXT,
    run_link            TEXT,
    status              TEXT    NOT NULL DEFAULT 'READY',
    status_message      TEXT,
    logged_model_id     TEXT,
    PRIMARY KEY (registered_model_id, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_update ON model_versions (last_updated_time);
CREATE INDEX model_versions_by_run ON model_versions (run_id);

CREATE TABLE model_version_tags (
    registered_model_id INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    key                 TEXT    NOT NULL,
    value               TEXT    NOT NULL,
    PRIMARY KEY (registered_model_id, version, key),
    FOREIGN KEY (registered_model_id, version) REFERENCES model_versions (registered_model_id, version) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE registered_model_aliases (
    registered_model_id INTEGER NOT NULL,
    alias               TEXT    NOT NULL,
    version             INTEGER NOT NULL,
    PRIMARY KEY (registered_model_id, alias),
    FOREIGN KEY (registered_model_id, version) REFERENCES model_versions (registered_model_id, version) ON DELETE CASCADE
) WITHOUT ROWID;

-- Models logged by MLflow 3.x clients (`log_model`); artifacts live under artifact_location.
CREATE TABLE logged_models (
    model_id          TEXT    PRIMARY KEY,
    experiment_id     INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name              TEXT    NOT NULL,
    artifact_location TEXT    NOT NULL,
    creation_time     INTEGER NOT NULL,
    last_updated_time INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    status_message    TEXT,
    lifecycle_stage   TEXT    NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
    model_type        TEXT,
    source_run_id     TEXT
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_time);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

-- `runs/outputs` and the model side of `runs/log-inputs`.
CREATE TABLE run_model_outputs (
    run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model_id TEXT    NOT NULL,
    step     INTEGER NOT NULL,
    PRIMARY KEY (run_id, model_id, step)
) WITHOUT ROWID;

CREATE TABLE run_model_inputs (
    run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model_id TEXT    NOT NULL,
    PRIMARY KEY (run_id, model_id)
) WITHOUT ROWID;
