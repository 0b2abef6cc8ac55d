//! Database upkeep: fresh planner statistics, space given back, and old bookkeeping
//! forgotten.
//!
//! - SQLite: `ANALYZE` with `analysis_limit` (a sample per index, so it takes milliseconds
//!   on any size) then `PRAGMA optimize`, inside a writer job so it never fights the writer
//!   for the lock; then a `TRUNCATE` checkpoint, which copies what is left in the WAL (the
//!   background checkpoint keeps that small) and shrinks the file to nothing. No `VACUUM`:
//!   it rewrites the whole database holding the write lock, which stalls every write for
//!   as long as copying the file takes (minutes on a large store). Pages freed by deletes
//!   are reused by new rows; to shrink the file, run `VACUUM` with the server stopped.
//! - PostgreSQL: `VACUUM (ANALYZE)` of the big tables, outside any transaction (VACUUM
//!   cannot run in one); it takes no lock that blocks reads or writes.
//! - Both: job runs older than `HISTORY` and replicas not seen for `REPLICAS` are
//!   forgotten.
//! - Browser sessions past their expiry are deleted (`auth::session::delete_expired`).

use crate::db::{Backend, Db};
use crate::error::Result;
use crate::jobs::{history, lease};
use crate::store::now_ms;
use sqlx::Executor;

/// How long job runs are remembered.
pub const HISTORY: i64 = 90 * 24 * 3600 * 1000;
/// How long a replica that stopped renewing its heartbeat is listed.
pub const REPLICAS: i64 = 24 * 3600 * 1000;

/// Runs the upkeep; returns the number of rows forgotten plus the tables maintained.
pub async fn run(db: &Db) -> Result<u64> {
    let maintained = match db.backend {
        Backend::Sqlite => {
            db.writer
                .run(|conn| {
                    Box::pin(async move {
                        conn.execute("PRAGMA analysis_limit = 1000").await?;
                        conn.execute("ANALYZE").await?;
                        conn.execute("PRAGMA optimize").await?;
                        Ok(())
                    })
                })
                .await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_all(&db.pool)
                .await?;
            1
        }
        Backend::Postgres => {
            // A plain string runs as a simple query: no implicit transaction around it.
            let mut conn = db.pool.acquire().await?;
            // The tables that grow with use, and the job history.
            let tables = [super::statistics::TABLES, &["job_runs"]].concat();
            conn.execute(format!("VACUUM (ANALYZE) {}", tables.join(", ")).as_str())
                .await?;
            tables.len() as u64
        }
    };
    let now = now_ms();
    let forgotten = history::forget(db, now - HISTORY).await?
        + lease::forget_replicas(db, now - REPLICAS).await?
        + crate::auth::session::delete_expired(db).await?;
    Ok(maintained + forgotten)
}
