//! The admin pages' store: server facts, jobs and their runs, the gc preview and the
//! trash, over the database and the jobs handle.

use crate::api::write;
use crate::db::Backend;
use crate::jobs::gc::{self, GcRequest};
use crate::jobs::{JobKind, Jobs, history, lease};
use crate::store::{self, now_ms};
use app::pages::admin::ssr::AdminStore;
use app::pages::admin::{
    AdminOverview, GcPreview, JobRunView, JobView, ReplicaView, Trash, TrashItem,
};
use app::pages::ssr::BoxFuture;

/// Replicas that renewed their heartbeat within this are listed.
const RECENT_REPLICAS_MS: i64 = 10 * 60 * 1000;
/// Most entries of each kind the trash lists.
const TRASH_LIMIT: i64 = 500;

pub struct Store(pub Jobs);

fn run_view(r: history::JobRun) -> JobRunView {
    JobRunView {
        job: r.job,
        holder: r.holder,
        started_at: r.started_at,
        ended_at: r.ended_at,
        outcome: r.outcome,
        items: r.items,
        error: r.error,
        dry_run: r.dry_run,
    }
}

fn describe(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Gc => {
            "Deletes for good what was deleted longer ago than the retention, with its artifacts."
        }
        JobKind::Reaper => {
            "Marks RUNNING runs without a write for longer than the threshold as FAILED."
        }
        JobKind::Upkeep => {
            "Refreshes planner statistics and gives the database's spare space back."
        }
    }
}

fn item(e: gc::TrashEntry) -> TrashItem {
    TrashItem {
        id: e.id,
        name: e.name,
        experiment_id: e.experiment_id,
        deleted_at: e.deleted_at,
    }
}

/// What a non-admin sees on the admin pages.
const ADMIN_ONLY: &str = "Permission denied: only administrators may use the administration pages.";

impl Store {
    async fn overview(&self) -> crate::error::Result<AdminOverview> {
        let jobs = &self.0;
        let db = &jobs.db;
        let now = now_ms();
        let mut views = Vec::new();
        for kind in JobKind::ALL {
            let lease = lease::get(db, kind.name()).await?;
            let last = history::recent(db, Some(kind.name()), 1).await?.pop();
            let setting = match kind {
                JobKind::Gc => format!(
                    "retention {}",
                    humantime::format_duration(jobs.config.gc_retention)
                ),
                JobKind::Reaper => format!(
                    "threshold {}",
                    humantime::format_duration(jobs.config.reaper_threshold)
                ),
                JobKind::Upkeep => String::new(),
            };
            views.push(JobView {
                name: kind.name().into(),
                description: describe(kind).into(),
                every: humantime::format_duration(jobs.config.interval(kind)).to_string(),
                setting,
                next_run_at: lease.as_ref().map(|l| l.next_run_at),
                running_on: lease
                    .filter(|l| l.expires_at > now && !l.holder.is_empty())
                    .map(|l| l.holder),
                last_run: last.map(run_view),
            });
        }
        Ok(AdminOverview {
            version: env!("CARGO_PKG_VERSION").into(),
            database: match db.backend {
                Backend::Sqlite => "SQLite".into(),
                Backend::Postgres => "PostgreSQL".into(),
            },
            schema_version: db.schema_version().await?,
            this_replica: jobs.holder.clone(),
            replicas: lease::replicas(db, now - RECENT_REPLICAS_MS)
                .await?
                .into_iter()
                .map(|r| ReplicaView {
                    id: r.id,
                    host: r.host,
                    version: r.version,
                    last_seen: r.last_seen,
                })
                .collect(),
            jobs: views,
            recent_runs: history::recent(db, None, 20)
                .await?
                .into_iter()
                .map(run_view)
                .collect(),
        })
    }
}

impl AdminStore for Store {
    fn overview(&self) -> BoxFuture<'_, Result<AdminOverview, String>> {
        let admin = super::caller().is_admin;
        Box::pin(async move {
            if !admin {
                return Err(ADMIN_ONLY.to_owned());
            }
            Store::overview(self).await.map_err(|e| e.message)
        })
    }

    fn gc_preview(&self) -> BoxFuture<'_, Result<GcPreview, String>> {
        let admin = super::caller().is_admin;
        Box::pin(async move {
            if !admin {
                return Err(ADMIN_ONLY.to_owned());
            }
            let retention = self.0.config.gc_retention;
            let request = GcRequest {
                older_than: Some(retention),
                ..Default::default()
            };
            let plan = gc::plan(&self.0.db, &request)
                .await
                .map_err(|e| e.message)?;
            Ok(GcPreview {
                retention: humantime::format_duration(retention).to_string(),
                experiments: plan
                    .experiments
                    .into_iter()
                    .map(|e| (e.id.to_string(), e.name))
                    .collect(),
                runs: plan
                    .runs
                    .into_iter()
                    .map(|r| (r.run_uuid, r.experiment_id.to_string()))
                    .collect(),
            })
        })
    }

    fn run_now(&self, job: String) -> BoxFuture<'_, Result<(), String>> {
        let admin = super::caller().is_admin;
        Box::pin(async move {
            if !admin {
                return Err(ADMIN_ONLY.to_owned());
            }
            let kind = JobKind::parse(&job).ok_or_else(|| format!("There is no job '{job}'."))?;
            self.0.request_now(kind).await.map_err(|e| e.message)
        })
    }

    fn trash(&self) -> BoxFuture<'_, Result<Trash, String>> {
        let admin = super::caller().is_admin;
        Box::pin(async move {
            if !admin {
                return Err(ADMIN_ONLY.to_owned());
            }
            let (experiments, runs) = gc::trash(&self.0.db, TRASH_LIMIT)
                .await
                .map_err(|e| e.message)?;
            Ok(Trash {
                experiments: experiments.into_iter().map(item).collect(),
                runs: runs.into_iter().map(item).collect(),
            })
        })
    }

    fn restore(&self, kind: String, id: String) -> BoxFuture<'_, Result<(), String>> {
        let admin = super::caller().is_admin;
        Box::pin(async move {
            if !admin {
                return Err(ADMIN_ONLY.to_owned());
            }
            let db = &self.0.db;
            match kind.as_str() {
                "experiment" => {
                    let id = store::experiments::parse_id(&id).map_err(|e| e.message)?;
                    write(db, id, |conn, id| {
                        Box::pin(store::experiments::restore(conn, *id))
                    })
                    .await
                }
                "run" => write(db, id, |conn, id| Box::pin(store::runs::restore(conn, id))).await,
                other => return Err(format!("Cannot restore a '{other}'.")),
            }
            .map_err(|e| e.message)
        })
    }

    fn delete_now(&self, kind: String, id: String) -> BoxFuture<'_, Result<(), String>> {
        let admin = super::caller().is_admin;
        Box::pin(async move {
            if !admin {
                return Err(ADMIN_ONLY.to_owned());
            }
            let request = match kind.as_str() {
                "experiment" => GcRequest {
                    experiment_ids: vec![id],
                    ..Default::default()
                },
                "run" => GcRequest {
                    run_ids: vec![id],
                    ..Default::default()
                },
                other => return Err(format!("Cannot delete a '{other}'.")),
            };
            let jobs = &self.0;
            let plan = gc::plan(&jobs.db, &request).await.map_err(|e| e.message)?;
            let holder = format!("admin@{}", jobs.holder);
            let run = history::start(&jobs.db, "gc", &holder, now_ms(), false, false)
                .await
                .map_err(|e| e.message)?;
            let outcome = gc::execute(&jobs.db, &jobs.artifacts, &plan, || Ok(()))
                .await
                .map_err(|e| e.message);
            history::end(&jobs.db, run, now_ms(), &outcome)
                .await
                .map_err(|e| e.message)?;
            outcome.map(|_| ())
        })
    }
}
