//! Maintenance jobs: garbage collection (`gc`), the stuck-run reaper (`reaper`) and
//! database upkeep (`upkeep`), each on its own schedule and run by exactly one replica at
//! a time through a lease in the database (`lease`); every run is recorded (`history`).
//! `schedule` is the loop each replica runs to take due jobs; it also keeps PostgreSQL's
//! planner statistics fresh (`statistics`).

pub mod gc;
pub mod history;
pub mod lease;
pub mod reaper;
mod schedule;
pub mod statistics;
pub mod upkeep;

use crate::artifacts::Artifacts;
use crate::db::Db;
use crate::error::{ApiError, Result};
use crate::store::now_ms;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The maintenance jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    Gc,
    Reaper,
    Upkeep,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [JobKind::Gc, JobKind::Reaper, JobKind::Upkeep];

    /// The job's name: its lease row, its `job_runs.job` and its metrics label.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Gc => "gc",
            JobKind::Reaper => "reaper",
            JobKind::Upkeep => "upkeep",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Schedules and limits of the jobs (`ferroflow server --gc-interval ...`).
#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// Whether this replica takes jobs at all.
    pub enabled: bool,
    pub gc_interval: Duration,
    /// Deleted runs and experiments are kept this long before gc removes them.
    pub gc_retention: Duration,
    pub reaper_interval: Duration,
    /// A RUNNING run without a write for this long is marked FAILED.
    pub reaper_threshold: Duration,
    pub upkeep_interval: Duration,
    /// How long a lease lasts without renewal: a dead holder's job is taken over after it.
    pub lease_ttl: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            gc_interval: Duration::from_secs(3600),
            gc_retention: Duration::from_secs(30 * 24 * 3600),
            reaper_interval: Duration::from_secs(600),
            reaper_threshold: Duration::from_secs(24 * 3600),
            upkeep_interval: Duration::from_secs(24 * 3600),
            lease_ttl: Duration::from_secs(60),
        }
    }
}

impl JobsConfig {
    /// The same settings with no jobs taken by this process (tests, one-off commands).
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    pub fn interval(&self, kind: JobKind) -> Duration {
        match kind {
            JobKind::Gc => self.gc_interval,
            JobKind::Reaper => self.reaper_interval,
            JobKind::Upkeep => self.upkeep_interval,
        }
    }

    /// Refuses settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        for kind in JobKind::ALL {
            if self.interval(kind).is_zero() {
                return Err(format!("--{}-interval must be more than 0", kind.name()));
            }
        }
        if self.lease_ttl < Duration::from_millis(300) {
            return Err("--lease-ttl must be at least 300ms".into());
        }
        if self.reaper_threshold < reaper::MIN_THRESHOLD {
            return Err(format!(
                "--reaper-threshold must be at least {} (a run's last write is kept to the minute)",
                humantime::format_duration(reaper::MIN_THRESHOLD)
            ));
        }
        Ok(())
    }
}

/// What running jobs needs; cloning is cheap.
#[derive(Clone)]
pub struct Jobs {
    pub db: Db,
    pub artifacts: Artifacts,
    pub config: Arc<JobsConfig>,
    /// This replica's id in leases and job runs: `<pid>-<random>`, unique per process.
    pub holder: String,
    /// Where this replica serves (`hostname:port`), for the list of replicas.
    pub host: String,
    /// Cancelled at shutdown: the scheduler takes no new job and a running job stops at
    /// its next step (see `stop`).
    stopping: CancellationToken,
    scheduler: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Jobs {
    pub fn new(db: Db, artifacts: Artifacts, config: JobsConfig, host: String) -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self {
            db,
            artifacts,
            config: Arc::new(config),
            holder: format!("{}-{}", std::process::id(), &random[..8]),
            host,
            stopping: CancellationToken::new(),
            scheduler: Arc::default(),
        }
    }

    /// Starts this replica's scheduler (if jobs are enabled): its heartbeat and the loop
    /// that takes due jobs.
    pub fn start(&self) {
        if self.config.enabled {
            let handle = tokio::spawn(schedule::run(self.clone()));
            *self.scheduler.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        }
    }

    /// Stops this replica's scheduler at shutdown, before the writer drains: no new job is
    /// taken, a running job stops at its next step and hands its lease back due at once,
    /// so another replica finishes it. Returns once the scheduler and its jobs are done.
    pub async fn stop(&self) {
        self.stopping.cancel();
        let handle = self
            .scheduler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, "the job scheduler failed");
        }
    }

    /// Whether `stop` was called.
    pub fn stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Makes `kind` due now; some replica (maybe this one) runs it within a poll.
    pub async fn request_now(&self, kind: JobKind) -> Result<()> {
        lease::request_now(&self.db, kind.name()).await
    }

    /// Runs `kind` once and records it in `job_runs` (started at `started`, when the
    /// lease was taken) and the metrics. The caller holds the lease; `keep_going` errs once
    /// it no longer does, and the job then stops.
    pub async fn run_recorded<F>(
        &self,
        kind: JobKind,
        started: i64,
        keep_going: F,
    ) -> Result<u64, String>
    where
        F: Fn() -> Result<()>,
    {
        let clock = std::time::Instant::now();
        let name = kind.name();
        let id = history::start(&self.db, name, &self.holder, started, false, true)
            .await
            .map_err(|e| e.message)?;
        let outcome = self.execute(kind, keep_going).await.map_err(|e| e.message);
        if let Err(e) = &outcome {
            tracing::warn!(job = name, error = %e, "maintenance job failed");
        } else {
            tracing::info!(
                job = name,
                items = outcome.as_ref().ok(),
                "maintenance job done"
            );
        }
        record_metrics(name, &outcome, clock.elapsed());
        history::end(&self.db, id, now_ms(), &outcome)
            .await
            .map_err(|e| e.message)?;
        outcome
    }

    async fn execute<F>(&self, kind: JobKind, keep_going: F) -> Result<u64>
    where
        F: Fn() -> Result<()>,
    {
        match kind {
            JobKind::Gc => {
                let request = gc::GcRequest {
                    older_than: Some(self.config.gc_retention),
                    ..Default::default()
                };
                let plan = gc::plan(&self.db, &request).await?;
                gc::execute(&self.db, &self.artifacts, &plan, keep_going).await
            }
            JobKind::Reaper => {
                reaper::run(&self.db, self.config.reaper_threshold, keep_going).await
            }
            JobKind::Upkeep => upkeep::run(&self.db).await,
        }
    }
}

/// Emits a job run's metrics through the `metrics` facade (the exporter is installed by
/// the server's `/metrics` set-up; without one these are no-ops).
pub fn record_metrics(name: &'static str, outcome: &Result<u64, String>, took: Duration) {
    let result = if outcome.is_ok() { "ok" } else { "failed" };
    metrics::counter!("ferroflow_job_runs_total", "job" => name, "outcome" => result).increment(1);
    metrics::histogram!("ferroflow_job_duration_seconds", "job" => name).record(took.as_secs_f64());
    if let Ok(items) = outcome {
        metrics::counter!("ferroflow_job_items_total", "job" => name).increment(*items);
    }
}

/// The error a job stops with once its lease is gone.
pub fn lease_lost(name: &str) -> ApiError {
    ApiError::internal(format!(
        "lost the lease of job {name} (it was not renewed in time); another replica takes the job over"
    ))
}
