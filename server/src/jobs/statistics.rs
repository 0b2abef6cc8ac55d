//! Fresh planner statistics on PostgreSQL between upkeeps.
//!
//! PostgreSQL plans from statistics that autovacuum's ANALYZE keeps current. Where
//! autovacuum is off, or has not yet caught up with a store that grew from empty in
//! minutes, plans made for empty tables stay, and cached ones with them: a foreign-key
//! check that scans all of `runs` for every inserted point (300 ms per 512-point insert at
//! 8,000 runs), a search that nests a loop over every matching param (2.4 s). So every
//! [`EVERY`] the scheduler of each replica looks for the tables changed by more than
//! autovacuum's own threshold since their last ANALYZE and analyzes them. An advisory lock
//! keeps two replicas from doing it at once. ANALYZE reads a sample (30,000 rows at the
//! default target), blocks neither reads nor writes, and makes every connection re-plan.
//! SQLite needs none of this: its planner does well without statistics here, and upkeep's
//! `ANALYZE` keeps what it has.

use crate::db::{Backend, Db};
use crate::error::Result;
use sqlx::{Acquire, Executor};
use std::time::Duration;

/// How often a replica checks.
pub const EVERY: Duration = Duration::from_secs(20);

/// The tables whose statistics steer the plans: the ones that grow with use.
pub const TABLES: &[&str] = &[
    "runs",
    "metrics",
    "latest_metrics",
    "metric_tiles",
    "params",
    "tags",
    "experiments",
    "experiment_tags",
    "run_inputs",
    "datasets",
];

/// The advisory lock key ("ferrostat").
const LOCK: i64 = 0x6665_7272_6f73_7461;

/// Analyzes the tables (of [`TABLES`]) changed by more than 50 rows plus a tenth of their
/// size since their last ANALYZE, autovacuum's default rule; returns their names. Nothing
/// on SQLite, or while another replica is at it.
pub async fn refresh(db: &Db) -> Result<Vec<String>> {
    if db.backend != Backend::Postgres {
        return Ok(Vec::new());
    }
    let mut conn = db.pool.acquire().await?;
    // The lock goes with the transaction, so it cannot outlive this call on a pooled
    // connection.
    let mut tx = conn.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(Vec::new());
    }
    let names = TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let stale: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT s.relname::text FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname = current_schema() AND s.relname IN ({names}) \
         AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0) \
         ORDER BY s.relname"
    ))
    .fetch_all(&mut *tx)
    .await?;
    for table in &stale {
        // `table` is one of the names above, as the catalogue spells it.
        tx.execute(format!("ANALYZE {table}").as_str()).await?;
    }
    tx.commit().await?;
    if !stale.is_empty() {
        tracing::debug!(tables = ?stale, "planner statistics refreshed");
    }
    Ok(stale)
}
