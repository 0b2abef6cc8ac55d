-- Who is who (server/src/auth): users as the identity provider names them, their browser
-- sessions, their API tokens, and the permissions granted on experiments and registered
-- models. Times are milliseconds since the epoch; flags are 0/1 INTEGERs (the Any driver).

-- A person (from an OIDC login) or a service account (created by an admin; no subject).
-- `username` is what runs carry as user_id: the email or preferred username at first login.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT   NOT NULL UNIQUE,
    subject         TEXT   UNIQUE,
    email           TEXT,
    display_name    TEXT,
    groups          TEXT   NOT NULL DEFAULT '[]',
    is_admin        INTEGER NOT NULL DEFAULT 0,
    kind            TEXT   NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service')),
    created_time    INTEGER NOT NULL,
    last_login_time INTEGER
);

-- tower-sessions records, shared by every replica.
CREATE TABLE sessions (
    id          TEXT   PRIMARY KEY,
    data        BLOB   NOT NULL,
    expiry_date INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry_date);

-- Personal and service-account tokens. Only a hash of the secret is kept; `prefix` is the
-- token's first characters, shown in lists so a user can tell tokens apart.
CREATE TABLE api_tokens (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT   NOT NULL,
    prefix         TEXT   NOT NULL,
    token_hash     TEXT   NOT NULL UNIQUE,
    created_time   INTEGER NOT NULL,
    expiry_time    INTEGER,
    revoked_time   INTEGER,
    last_used_time INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Grants: a permission (READ, EDIT, MANAGE, NO_PERMISSIONS) for a user (by username) or a
-- group (by the identity provider's group name) on one experiment or registered model.
CREATE TABLE experiment_permissions (
    experiment_id  INTEGER NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    principal_kind TEXT   NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal      TEXT   NOT NULL,
    permission     TEXT   NOT NULL CHECK (permission IN ('READ', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')),
    PRIMARY KEY (experiment_id, principal_kind, principal)
);
CREATE INDEX experiment_permissions_principal ON experiment_permissions (principal_kind, principal);

CREATE TABLE registered_model_permissions (
    model_id       INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    principal_kind TEXT   NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal      TEXT   NOT NULL,
    permission     TEXT   NOT NULL CHECK (permission IN ('READ', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')),
    PRIMARY KEY (model_id, principal_kind, principal)
);
CREATE INDEX registered_model_permissions_principal ON registered_model_permissions (principal_kind, principal);
