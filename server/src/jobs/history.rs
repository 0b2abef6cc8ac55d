//! The record of every job run (`job_runs`): a row goes in as `running` when a run starts
//! and gets its end, outcome, items and error when it ends.

use crate::db::Db;
use crate::error::Result;
use sqlx::Row;

/// Records the start of a run of `job` by `holder`; returns the row's id. When the
/// caller holds the job's lease, any other run of the job still marked `running` belongs
/// to a holder that died: it is closed as failed first. (`ferroflow gc` holds no lease.)
pub async fn start(
    db: &Db,
    job: &str,
    holder: &str,
    now: i64,
    dry_run: bool,
    holds_lease: bool,
) -> Result<i64> {
    let (job, holder) = (job.to_owned(), holder.to_owned());
    db.writer
        .run(move |conn| {
            let (job, holder) = (job.clone(), holder.clone());
            Box::pin(async move {
                if holds_lease {
                    sqlx::query(
                        "UPDATE job_runs SET outcome = 'failed', ended_at = $1, \
                       error = 'abandoned: its replica stopped renewing the lease' \
                     WHERE job = $2 AND outcome = 'running' AND holder <> $3",
                    )
                    .bind(now)
                    .bind(&job)
                    .bind(&holder)
                    .execute(&mut *conn)
                    .await?;
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO job_runs (job, holder, started_at, outcome, dry_run) \
                     VALUES ($1, $2, $3, 'running', $4) RETURNING id",
                )
                .bind(&job)
                .bind(&holder)
                .bind(now)
                .bind(i64::from(dry_run))
                .fetch_one(&mut *conn)
                .await?;
                Ok(id)
            })
        })
        .await
}

/// Records the end of run `id`: `Ok(items)` or the error's message.
pub async fn end(
    db: &Db,
    id: i64,
    now: i64,
    outcome: &std::result::Result<u64, String>,
) -> Result<()> {
    let (result, items, error) = match outcome {
        Ok(items) => ("ok", *items as i64, None),
        Err(e) => ("failed", 0, Some(e.clone())),
    };
    db.writer
        .run(move |conn| {
            let error = error.clone();
            Box::pin(async move {
                sqlx::query(
                    "UPDATE job_runs SET ended_at = $1, outcome = $2, items = $3, error = $4 WHERE id = $5",
                )
                .bind(now)
                .bind(result)
                .bind(items)
                .bind(error)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
}

/// One recorded run.
#[derive(Clone, Debug)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub holder: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub outcome: String,
    pub items: i64,
    pub error: Option<String>,
    pub dry_run: bool,
}

/// The latest `limit` runs of `job` (all jobs when `None`), newest first.
pub async fn recent(db: &Db, job: Option<&str>, limit: i64) -> Result<Vec<JobRun>> {
    let rows = sqlx::query(
        "SELECT id, job, holder, started_at, ended_at, outcome, items, error, dry_run FROM job_runs \
         WHERE $1 = '' OR job = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
    )
    .bind(job.unwrap_or(""))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(JobRun {
                id: row.try_get(0)?,
                job: row.try_get(1)?,
                holder: row.try_get(2)?,
                started_at: row.try_get(3)?,
                ended_at: row.try_get(4)?,
                outcome: row.try_get(5)?,
                items: row.try_get(6)?,
                error: row.try_get(7)?,
                dry_run: row.try_get::<i64, _>(8)? != 0,
            })
        })
        .collect()
}

/// Forgets runs that started before `before` (upkeep); returns how many.
pub async fn forget(db: &Db, before: i64) -> Result<u64> {
    db.writer
        .run(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM job_runs WHERE started_at < $1 AND outcome <> 'running'",
                )
                .bind(before)
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected())
            })
        })
        .await
}
