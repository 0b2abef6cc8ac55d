//! The tracking store: one module per entity, plain async functions over a connection.
//! Reads take the pool; writes take the connection of a writer job (see `db::writer`),
//! so they always run inside a group-committed transaction.
//!
//! Fixed statements are SQL constants valid on both SQLite and PostgreSQL (`$n`
//! placeholders, `ON CONFLICT`, `RETURNING`); statements whose shape depends on the
//! request (multi-row inserts, searches) are built with sea-query for the backend.

pub mod experiments;
pub mod inputs;
pub mod logged_models;
pub mod metrics;
pub mod registry;
pub mod run_data;
pub mod runs;

use crate::db::Backend;
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_binder::{SqlxBinder, SqlxValues};

/// Milliseconds since the Unix epoch, MLflow's unit for every time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Renders a sea-query statement for the backend, with its values as bind parameters.
pub fn build<S: SqlxBinder>(statement: &S, backend: Backend) -> (String, SqlxValues) {
    match backend {
        Backend::Sqlite => statement.build_sqlx(SqliteQueryBuilder),
        Backend::Postgres => statement.build_sqlx(PostgresQueryBuilder),
    }
}

/// `IN ($a, $b, ...)` needs one bind parameter per value; large lists are split into
/// chunks of this size to stay far below both databases' parameter limits.
pub const IN_CHUNK: usize = 500;
