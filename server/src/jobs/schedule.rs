//! Each replica's scheduler: every poll it says it is alive (the `replica/<id>` row) and
//! tries to take the lease of every due job that it is not already running. A job it
//! takes runs in its own task, with a second task renewing the lease every third of its
//! time to live; if renewal fails for a whole time to live the job stops at its next step,
//! since another replica may by then have taken it over. Every `statistics::EVERY` it
//! also refreshes PostgreSQL's planner statistics where they went stale (`statistics`).

use super::{JobKind, Jobs, lease, lease_lost};
use crate::store::now_ms;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub(super) async fn run(jobs: Jobs) {
    let ttl = jobs.config.lease_ttl;
    let ttl_ms = ttl.as_millis() as i64;
    // Polls are reads unless a job looks due; a few per time to live keeps the takeover
    // of a dead holder's job close to the lease's expiry.
    let poll = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut running: HashMap<JobKind, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut last_beat = i64::MIN;
    let mut statistics: Option<tokio::task::JoinHandle<()>> = None;
    let mut last_statistics = tokio::time::Instant::now();
    loop {
        if jobs.stopping() || jobs.db.pool.is_closed() {
            break;
        }
        let now = now_ms();
        if now.saturating_sub(last_beat) >= ttl_ms / 3 {
            match lease::heartbeat(&jobs.db, &jobs.holder, &jobs.host, now, ttl_ms).await {
                Ok(()) => last_beat = now,
                Err(e) => tracing::warn!(error = %e.message, "replica heartbeat failed"),
            }
        }
        running.retain(|_, task| !task.is_finished());
        // In its own task: an ANALYZE of a large table must not hold up heartbeats.
        if statistics.as_ref().is_none_or(|t| t.is_finished())
            && last_statistics.elapsed() >= super::statistics::EVERY
        {
            last_statistics = tokio::time::Instant::now();
            let db = jobs.db.clone();
            statistics = Some(tokio::spawn(async move {
                if let Err(e) = super::statistics::refresh(&db).await {
                    tracing::warn!(error = %e.message, "refreshing planner statistics failed");
                }
            }));
        }
        for kind in JobKind::ALL {
            if running.contains_key(&kind) {
                continue;
            }
            let now = now_ms();
            match lease::looks_due(&jobs.db, kind.name(), now).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(job = kind.name(), error = %e.message, "cannot read job lease");
                    continue;
                }
            }
            match lease::try_acquire(&jobs.db, kind.name(), &jobs.holder, now, ttl_ms).await {
                Ok(true) => {
                    running.insert(kind, tokio::spawn(run_leased(jobs.clone(), kind, now)));
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(job = kind.name(), error = %e.message, "cannot take job lease")
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            () = jobs.stopping.cancelled() => {}
        }
    }
    // Shutting down: running jobs stop at their next step; wait for them to hand back
    // their leases.
    for (_, task) in running {
        let _ = task.await;
    }
    if let Some(task) = statistics {
        let _ = task.await;
    }
}

/// Runs a job whose lease this replica took at `started`, renewing the lease meanwhile;
/// then releases it and makes the job due again one interval after `started`.
async fn run_leased(jobs: Jobs, kind: JobKind, started: i64) {
    let name = kind.name();
    let ttl_ms = jobs.config.lease_ttl.as_millis() as i64;
    let renewed = Arc::new(AtomicI64::new(started));
    let renewer = {
        let (jobs, renewed) = (jobs.clone(), renewed.clone());
        tokio::spawn(async move {
            let every = jobs.config.lease_ttl / 3;
            loop {
                tokio::time::sleep(every).await;
                let now = now_ms();
                match lease::renew(&jobs.db, name, &jobs.holder, now, ttl_ms).await {
                    Ok(true) => renewed.store(now, Ordering::SeqCst),
                    Ok(false) => {
                        renewed.store(i64::MIN, Ordering::SeqCst);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(job = name, error = %e.message, "lease renewal failed")
                    }
                }
            }
        })
    };
    let still_held = || {
        // Held until its last renewal's time to live has passed.
        let last = renewed.load(Ordering::SeqCst);
        if last == i64::MIN || now_ms() >= last.saturating_add(ttl_ms) {
            Err(lease_lost(name))
        } else {
            Ok(())
        }
    };
    let keep_going = || {
        if jobs.stopping() {
            return Err(crate::error::ApiError::unavailable(
                "the server is shutting down; another replica finishes the job",
            ));
        }
        still_held()
    };
    let _ = jobs.run_recorded(kind, started, keep_going).await;
    renewer.abort();
    if still_held().is_ok() {
        // Cut short by a shutdown: due again at once, for whichever replica polls first.
        let next = if jobs.stopping() {
            now_ms()
        } else {
            started + jobs.config.interval(kind).as_millis() as i64
        };
        if let Err(e) = lease::finish(&jobs.db, name, &jobs.holder, next).await {
            tracing::warn!(job = name, error = %e.message, "cannot release job lease");
        }
    }
}
