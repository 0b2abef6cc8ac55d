//! Leases in the database (`job_leases`): how replicas agree that exactly one of them runs
//! a job, and how each replica says it is alive.
//!
//! A job's row is its lease and its schedule. A replica takes the lease only when the job
//! is due (`next_run_at` has passed) and nobody holds it (`expires_at` has passed), in one
//! `INSERT .. ON CONFLICT DO UPDATE .. WHERE .. RETURNING` that SQLite and PostgreSQL both
//! run atomically; the holder renews it while the job runs and, when done, releases it and
//! sets the next due time. A holder that dies stops renewing: once the lease expires the
//! job is still due, so another replica takes it and runs it again.
//!
//! Every statement that writes goes through the writer, so on SQLite it never competes
//! with the writer for the write lock. Times are the replica's clock, in milliseconds, so
//! replicas' clocks must agree (NTP): a clock that runs ahead takes leases early.

use crate::db::Db;
use crate::error::Result;
use sqlx::Row;

/// The row name of a replica's heartbeat.
pub fn replica_row(holder: &str) -> String {
    format!("replica/{holder}")
}

/// Whether `name` looks due and free, from a read (no write lock): the scheduler polls
/// with this and attempts `try_acquire` only when it says yes.
pub async fn looks_due(db: &Db, name: &str, now: i64) -> Result<bool> {
    let row = sqlx::query("SELECT next_run_at, expires_at FROM job_leases WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        None => true,
        Some(row) => row.try_get::<i64, _>(0)? <= now && row.try_get::<i64, _>(1)? <= now,
    })
}

/// Takes the lease of job `name` for `holder` until `now + ttl_ms` if the job is due and
/// the lease free. Returns whether this holder got it.
pub async fn try_acquire(db: &Db, name: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<bool> {
    let (name, holder) = (name.to_owned(), holder.to_owned());
    db.writer
        .run(move |conn| {
            let (name, holder) = (name.clone(), holder.clone());
            Box::pin(async move {
                let got = sqlx::query(
                    "INSERT INTO job_leases (name, holder, expires_at, next_run_at, renewed_at) \
                     VALUES ($1, $2, $3, 0, $4) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                       expires_at = excluded.expires_at, renewed_at = excluded.renewed_at \
                     WHERE job_leases.next_run_at <= $4 AND job_leases.expires_at <= $4 \
                     RETURNING holder",
                )
                .bind(&name)
                .bind(&holder)
                .bind(now + ttl_ms)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(got.is_some())
            })
        })
        .await
}

/// Extends a held lease to `now + ttl_ms`. False when the lease is no longer this
/// holder's (it expired and another replica took it): the job must then stop.
pub async fn renew(db: &Db, name: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<bool> {
    let (name, holder) = (name.to_owned(), holder.to_owned());
    db.writer
        .run(move |conn| {
            let (name, holder) = (name.clone(), holder.clone());
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE job_leases SET expires_at = $1, renewed_at = $2 \
                     WHERE name = $3 AND holder = $4",
                )
                .bind(now + ttl_ms)
                .bind(now)
                .bind(&name)
                .bind(&holder)
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
}

/// Releases a held lease and sets when the job is next due.
pub async fn finish(db: &Db, name: &str, holder: &str, next_run_at: i64) -> Result<()> {
    let (name, holder) = (name.to_owned(), holder.to_owned());
    db.writer
        .run(move |conn| {
            let (name, holder) = (name.clone(), holder.clone());
            Box::pin(async move {
                sqlx::query(
                    "UPDATE job_leases SET expires_at = 0, next_run_at = $1 \
                     WHERE name = $2 AND holder = $3",
                )
                .bind(next_run_at)
                .bind(&name)
                .bind(&holder)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
}

/// Makes job `name` due now ("run now"): whichever replica polls next runs it, unless a
/// run is already going on.
pub async fn request_now(db: &Db, name: &str) -> Result<()> {
    let name = name.to_owned();
    db.writer
        .run(move |conn| {
            let name = name.clone();
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO job_leases (name, next_run_at) VALUES ($1, 0) \
                     ON CONFLICT (name) DO UPDATE SET next_run_at = 0",
                )
                .bind(&name)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
}

/// Says this replica is alive: its row's `renewed_at` becomes `now`.
pub async fn heartbeat(db: &Db, holder: &str, host: &str, now: i64, ttl_ms: i64) -> Result<()> {
    let (name, holder, host) = (replica_row(holder), holder.to_owned(), host.to_owned());
    db.writer
        .run(move |conn| {
            let (name, holder, host) = (name.clone(), holder.clone(), host.clone());
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO job_leases (name, holder, expires_at, renewed_at, host, version) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (name) DO UPDATE SET expires_at = excluded.expires_at, \
                       renewed_at = excluded.renewed_at, host = excluded.host, version = excluded.version",
                )
                .bind(&name)
                .bind(&holder)
                .bind(now + ttl_ms)
                .bind(now)
                .bind(&host)
                .bind(env!("CARGO_PKG_VERSION"))
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
}

/// A job's lease and schedule as stored.
#[derive(Clone, Debug)]
pub struct JobLease {
    pub name: String,
    pub holder: String,
    pub expires_at: i64,
    pub next_run_at: i64,
}

/// The lease row of job `name`, if it has one yet.
pub async fn get(db: &Db, name: &str) -> Result<Option<JobLease>> {
    let row =
        sqlx::query("SELECT name, holder, expires_at, next_run_at FROM job_leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&db.pool)
            .await?;
    row.map(|row| {
        Ok(JobLease {
            name: row.try_get(0)?,
            holder: row.try_get(1)?,
            expires_at: row.try_get(2)?,
            next_run_at: row.try_get(3)?,
        })
    })
    .transpose()
}

/// A replica that renewed its heartbeat recently.
#[derive(Clone, Debug)]
pub struct Replica {
    pub id: String,
    pub host: String,
    pub version: String,
    pub last_seen: i64,
}

/// Replicas seen since `since`, most recently seen first.
pub async fn replicas(db: &Db, since: i64) -> Result<Vec<Replica>> {
    let rows = sqlx::query(
        "SELECT holder, host, version, renewed_at FROM job_leases \
         WHERE name LIKE 'replica/%' AND renewed_at >= $1 ORDER BY renewed_at DESC, holder",
    )
    .bind(since)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Replica {
                id: row.try_get(0)?,
                host: row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                version: row.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                last_seen: row.try_get(3)?,
            })
        })
        .collect()
}

/// Forgets replicas not seen since `before` (upkeep); returns how many.
pub async fn forget_replicas(db: &Db, before: i64) -> Result<u64> {
    db.writer
        .run(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM job_leases WHERE name LIKE 'replica/%' AND renewed_at < $1",
                )
                .bind(before)
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected())
            })
        })
        .await
}
