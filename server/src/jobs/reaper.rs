//! The stuck-run reaper: a run still RUNNING that has taken no write for longer than the
//! threshold (its client crashed, or was killed before `end_run`) becomes FAILED, with
//! `end_time` set and the tag `ferroflow.reaped` saying why.
//!
//! A run's last write is `runs.last_write_time` (kept to the minute by the write path, see
//! `store::runs::touch`), or its start time for runs older than that column. The update
//! checks the condition again inside the writer, so a run that writes between the scan and
//! the update is spared.

use crate::db::Db;
use crate::error::Result;
use crate::store::{now_ms, run_data};
use app::models::KeyValue;
use sqlx::Row;
use std::time::Duration;

/// The tag a reaped run gets; its value says why.
pub const REAPED_TAG: &str = "ferroflow.reaped";

/// Runs marked per writer job.
const RUNS_PER_JOB: usize = 200;

/// The reaper refuses thresholds this short: `last_write_time` is only kept to the minute.
pub const MIN_THRESHOLD: Duration = Duration::from_secs(120);

const STALE: &str = "status = 'RUNNING' AND lifecycle_stage = 'active' \
                     AND COALESCE(last_write_time, start_time, 0) < $1";

/// Marks stale runs FAILED; returns how many. `keep_going` is asked between batches.
pub async fn run<F>(db: &Db, threshold: Duration, keep_going: F) -> Result<u64>
where
    F: Fn() -> Result<()>,
{
    let now = now_ms();
    let cutoff = now - threshold.as_millis() as i64;
    let ids: Vec<i64> = sqlx::query(&format!("SELECT id FROM runs WHERE {STALE} ORDER BY id"))
        .bind(cutoff)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let reason = format!(
        "marked FAILED by the stuck-run reaper: no write for more than {}",
        humantime::format_duration(threshold)
    );
    let mut reaped = 0;
    for chunk in ids.chunks(RUNS_PER_JOB) {
        keep_going()?;
        let chunk = chunk.to_vec();
        let reason = reason.clone();
        reaped += db
            .writer
            .run(move |conn| {
                let (chunk, reason) = (chunk.clone(), reason.clone());
                Box::pin(async move {
                    let mut n = 0;
                    for id in chunk {
                        let done = sqlx::query(&format!(
                            "UPDATE runs SET status = 'FAILED', end_time = $2 WHERE {STALE} AND id = $3"
                        ))
                        .bind(cutoff)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                        if done.rows_affected() == 1 {
                            let tag = KeyValue {
                                key: REAPED_TAG.into(),
                                value: reason.clone(),
                            };
                            run_data::set_tags(conn, id, &[tag]).await?;
                            n += 1;
                        }
                    }
                    Ok(n)
                })
            })
            .await?;
    }
    Ok(reaped)
}
