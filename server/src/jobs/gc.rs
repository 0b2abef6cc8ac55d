//! Garbage collection: permanently deletes runs and experiments that have been in the
//! deleted state longer than the retention, with all their rows and artifacts. The server's
//! `gc` job and the `ferroflow gc` command run this same code.
//!
//! What goes follows `mlflow gc`: runs whose `deleted_time` is older than the cut-off,
//! experiments in the deleted state whose `last_update_time` (the time of the deletion) is
//! older, and with an experiment every run in it and its logged models. Explicit
//! `--experiment-ids` / `--run-ids` must name deleted things (and old enough ones, with an
//! age), else nothing is deleted and the error says which. Unlike `mlflow gc`, explicit
//! ids narrow the collection to what they name. Model versions keep their `run_id` text,
//! as in MLflow (it is a reference by value, not a foreign key).
//!
//! Work is done in small writer jobs, so a huge trash never becomes one huge transaction
//! and SQLite's single writer is never held for long: a run's points go a few thousand at
//! a time, then the run row (its params, tags, summaries and inputs go with it by
//! cascade), then per experiment its logged models and the experiment row. Every job
//! checks again that what it deletes is still deleted, so a restore that comes in
//! between stops the deletion of that run or experiment. Artifacts (only those this
//! server stores, `mlflow-artifacts:/` locations) are deleted before the rows, so a failed
//! artifact deletion leaves the rows for the next run to retry.

use crate::artifacts::{ArtifactPath, Artifacts};
use crate::db::Db;
use crate::error::{ApiError, Result};
use crate::store::{experiments, now_ms};
use sqlx::Row;
use std::collections::BTreeSet;
use std::time::Duration;

/// Points deleted per writer job.
const POINTS_PER_JOB: i64 = 5_000;

/// What to collect.
#[derive(Clone, Debug, Default)]
pub struct GcRequest {
    /// Only what was deleted longer ago than this; `None` is everything deleted.
    pub older_than: Option<Duration>,
    /// Only these experiments (with all their runs); they must be deleted.
    pub experiment_ids: Vec<String>,
    /// Only these runs; they must be deleted.
    pub run_ids: Vec<String>,
}

/// A run to delete.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DoomedRun {
    pub run_uuid: String,
    pub id: i64,
    pub experiment_id: i64,
    pub artifact_uri: String,
}

/// An experiment to delete (its runs are in the plan's runs).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DoomedExperiment {
    pub id: i64,
    pub name: String,
    pub artifact_location: String,
    /// Its logged models: (model id, artifact location).
    pub logged_models: Vec<(String, String)>,
}

/// Everything one collection deletes (or, dry, would delete).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcPlan {
    pub experiments: Vec<DoomedExperiment>,
    pub runs: Vec<DoomedRun>,
}

impl GcPlan {
    /// Runs plus experiments: the job's "items affected".
    pub fn items(&self) -> u64 {
        (self.experiments.len() + self.runs.len()) as u64
    }

    /// One line per experiment and run, as `ferroflow gc` prints them.
    pub fn lines(&self, verb: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .experiments
            .iter()
            .map(|e| {
                format!(
                    "{verb} experiment {} ({}) and its {} logged model(s)",
                    e.id,
                    e.name,
                    e.logged_models.len()
                )
            })
            .collect();
        out.extend(
            self.runs
                .iter()
                .map(|r| format!("{verb} run {} (experiment {})", r.run_uuid, r.experiment_id)),
        );
        out
    }
}

/// Works out what a collection deletes, refusing explicit ids that are not deleted (or
/// not old enough) as `mlflow gc` does.
pub async fn plan(db: &Db, request: &GcRequest) -> Result<GcPlan> {
    let now = now_ms();
    let cutoff = request
        .older_than
        .map_or(i64::MAX, |d| now.saturating_sub(d.as_millis() as i64));
    let age = request
        .older_than
        .map(|d| humantime::format_duration(d).to_string());
    let explicit = !request.experiment_ids.is_empty() || !request.run_ids.is_empty();

    // Experiments.
    let mut experiment_rows = Vec::new();
    if explicit {
        let mut not_deleted = Vec::new();
        let mut too_new = Vec::new();
        for raw in &request.experiment_ids {
            let id = experiments::parse_id(raw)?;
            let row = sqlx::query(
                "SELECT experiment_id, name, artifact_location, lifecycle_stage, last_update_time \
                 FROM experiments WHERE experiment_id = $1",
            )
            .bind(id)
            .fetch_optional(&db.pool)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("No Experiment with id={id} exists")))?;
            let stage: String = row.try_get(3)?;
            let updated: i64 = row.try_get(4)?;
            if stage != "deleted" {
                not_deleted.push(id.to_string());
            } else if updated >= cutoff {
                too_new.push(id.to_string());
            }
            experiment_rows.push(row);
        }
        if !not_deleted.is_empty() {
            return Err(ApiError::invalid(format!(
                "Experiments [{}] are not in the deleted lifecycle stage. Only experiments in \
                 the deleted lifecycle stage can be hard-deleted.",
                not_deleted.join(", ")
            )));
        }
        if let (false, Some(age)) = (too_new.is_empty(), &age) {
            return Err(ApiError::invalid(format!(
                "Experiments [{}] are not older than the required age. Only experiments older \
                 than {age} can be deleted.",
                too_new.join(", ")
            )));
        }
    } else {
        experiment_rows = sqlx::query(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, last_update_time \
             FROM experiments WHERE lifecycle_stage = 'deleted' AND last_update_time < $1 \
             ORDER BY experiment_id",
        )
        .bind(cutoff)
        .fetch_all(&db.pool)
        .await?;
    }
    let mut plan = GcPlan::default();
    let mut runs: BTreeSet<DoomedRun> = BTreeSet::new();
    for row in &experiment_rows {
        let id: i64 = row.try_get(0)?;
        let logged_models = sqlx::query(
            "SELECT model_id, artifact_location FROM logged_models WHERE experiment_id = $1 ORDER BY model_id",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<Vec<_>>>()?;
        plan.experiments.push(DoomedExperiment {
            id,
            name: row.try_get(1)?,
            artifact_location: row.try_get(2)?,
            logged_models,
        });
        // Every run of a collected experiment goes with it, whatever its own state.
        for r in sqlx::query(
            "SELECT run_uuid, id, experiment_id, artifact_uri FROM runs WHERE experiment_id = $1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await?
        {
            runs.insert(doomed_run(&r)?);
        }
    }

    // Runs.
    if explicit {
        let mut not_deleted = Vec::new();
        let mut too_new = Vec::new();
        for uuid in &request.run_ids {
            let row = sqlx::query(
                "SELECT run_uuid, id, experiment_id, artifact_uri, lifecycle_stage, deleted_time \
                 FROM runs WHERE run_uuid = $1",
            )
            .bind(uuid)
            .fetch_optional(&db.pool)
            .await?
            .ok_or_else(|| crate::store::runs::not_found(uuid))?;
            let stage: String = row.try_get(4)?;
            let deleted: Option<i64> = row.try_get(5)?;
            if stage != "deleted" {
                not_deleted.push(uuid.clone());
            } else if deleted.unwrap_or(i64::MAX) >= cutoff {
                too_new.push(uuid.clone());
            }
            runs.insert(doomed_run(&row)?);
        }
        if !not_deleted.is_empty() {
            return Err(ApiError::invalid(format!(
                "Runs [{}] are not in the deleted lifecycle stage. Only runs in the deleted \
                 lifecycle stage can be deleted.",
                not_deleted.join(", ")
            )));
        }
        if let (false, Some(age)) = (too_new.is_empty(), &age) {
            return Err(ApiError::invalid(format!(
                "Runs [{}] are not older than the required age. Only runs older than {age} \
                 can be deleted.",
                too_new.join(", ")
            )));
        }
    } else {
        for r in sqlx::query(
            "SELECT run_uuid, id, experiment_id, artifact_uri FROM runs \
             WHERE lifecycle_stage = 'deleted' AND deleted_time < $1",
        )
        .bind(cutoff)
        .fetch_all(&db.pool)
        .await?
        {
            runs.insert(doomed_run(&r)?);
        }
    }
    plan.runs = runs.into_iter().collect();
    Ok(plan)
}

fn doomed_run(row: &sqlx::any::AnyRow) -> Result<DoomedRun> {
    Ok(DoomedRun {
        run_uuid: row.try_get(0)?,
        id: row.try_get(1)?,
        experiment_id: row.try_get(2)?,
        artifact_uri: row.try_get(3)?,
    })
}

/// Carries out a plan; `keep_going` is asked between steps and stops the work when it
/// errs (the job lost its lease). Returns the items deleted: runs and experiments that
/// were still deleted when their turn came.
pub async fn execute<F>(db: &Db, artifacts: &Artifacts, plan: &GcPlan, keep_going: F) -> Result<u64>
where
    F: Fn() -> Result<()>,
{
    let mut deleted = 0;
    for run in &plan.runs {
        keep_going()?;
        if delete_run(db, artifacts, run, &keep_going).await? {
            deleted += 1;
        }
    }
    for experiment in &plan.experiments {
        keep_going()?;
        if delete_experiment(db, artifacts, experiment).await? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Whether run `id` may still be purged: it, or its experiment, is deleted.
const STILL_DELETED: &str = "EXISTS (SELECT 1 FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id \
     WHERE r.id = $1 AND (r.lifecycle_stage = 'deleted' OR e.lifecycle_stage = 'deleted'))";

async fn still_deleted(db: &Db, id: i64) -> Result<bool> {
    Ok(sqlx::query(&format!("SELECT 1 WHERE {STILL_DELETED}"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .is_some())
}

async fn delete_run<F>(
    db: &Db,
    artifacts: &Artifacts,
    run: &DoomedRun,
    keep_going: &F,
) -> Result<bool>
where
    F: Fn() -> Result<()>,
{
    if !still_deleted(db, run.id).await? {
        return Ok(false);
    }
    delete_artifacts(artifacts, &run.artifact_uri).await?;
    // The points, a bounded number per transaction, from the front of the run's range
    // of the primary key: every statement is an index range scan.
    loop {
        keep_going()?;
        let id = run.id;
        let removed = db
            .writer
            .run(move |conn| Box::pin(delete_points(conn, id)))
            .await?;
        if removed < POINTS_PER_JOB as u64 {
            break;
        }
    }
    // The run row; params, tags, summaries, inputs and model links go by cascade.
    let id = run.id;
    let gone = db
        .writer
        .run(move |conn| {
            Box::pin(async move {
                let sql = format!("DELETE FROM runs WHERE id = $1 AND {STILL_DELETED}");
                let done = sqlx::query(&sql).bind(id).execute(&mut *conn).await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await?;
    Ok(gone)
}

/// Deletes the first `POINTS_PER_JOB` or so points of run `id` in key order (or all of
/// them when fewer are left) if the run may still be purged; returns how many went.
async fn delete_points(conn: &mut crate::db::Conn, id: i64) -> Result<u64> {
    let deleted = sqlx::query(&format!("SELECT 1 WHERE {STILL_DELETED}"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    if deleted.is_none() {
        return Ok(0);
    }
    // The last point of this batch: the one POINTS_PER_JOB in, in key order.
    let bound = sqlx::query(
        "SELECT key, timestamp, step FROM metrics WHERE run_id = $1 \
         ORDER BY key, timestamp, step LIMIT 1 OFFSET $2",
    )
    .bind(id)
    .bind(POINTS_PER_JOB - 1)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(bound) = bound else {
        let done = sqlx::query("DELETE FROM metrics WHERE run_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        return Ok(done.rows_affected());
    };
    let (key, timestamp, step): (String, i64, i64) =
        (bound.try_get(0)?, bound.try_get(1)?, bound.try_get(2)?);
    let before = sqlx::query("DELETE FROM metrics WHERE run_id = $1 AND key < $2")
        .bind(id)
        .bind(&key)
        .execute(&mut *conn)
        .await?;
    let within = sqlx::query(
        "DELETE FROM metrics WHERE run_id = $1 AND key = $2 AND timestamp <= $3 \
         AND (timestamp < $3 OR step <= $4)",
    )
    .bind(id)
    .bind(&key)
    .bind(timestamp)
    .bind(step)
    .execute(&mut *conn)
    .await?;
    Ok(before.rows_affected() + within.rows_affected())
}

async fn delete_experiment(
    db: &Db,
    artifacts: &Artifacts,
    experiment: &DoomedExperiment,
) -> Result<bool> {
    let id = experiment.id;
    let stage: Option<String> =
        sqlx::query_scalar("SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    if stage.as_deref() != Some("deleted") {
        return Ok(false);
    }
    for (_, location) in &experiment.logged_models {
        delete_artifacts(artifacts, location).await?;
    }
    // The experiment's own folder, when it is the one this server gave it
    // (`mlflow-artifacts:/<id>`): never a location shared with anything else.
    if let Some(Ok(path)) = ArtifactPath::of_served_uri(&experiment.artifact_location)
        && path.segments().last().is_some_and(|s| *s == id.to_string())
    {
        artifacts.delete(&path).await?;
    }
    db.writer
        .run(move |conn| {
            Box::pin(async move {
                let stage: Option<String> = sqlx::query_scalar(
                    "SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                if stage.as_deref() != Some("deleted") {
                    return Ok(false);
                }
                // A run restored on its own after the plan was made holds the experiment
                // back; the next collection takes it (a deleted experiment's runs all go,
                // as in MLflow).
                let left: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE experiment_id = $1")
                        .bind(id)
                        .fetch_one(&mut *conn)
                        .await?;
                if left > 0 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM logged_models WHERE experiment_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                let done = sqlx::query("DELETE FROM experiments WHERE experiment_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
}

/// Deletes what lies under a location this server stores; other locations (`s3://…`
/// given by a client) are the client's, and the root itself is never deleted.
async fn delete_artifacts(artifacts: &Artifacts, location: &str) -> Result<()> {
    match ArtifactPath::of_served_uri(location) {
        Some(Ok(path)) if !path.is_root() => artifacts.delete(&path).await,
        Some(Ok(_)) | None => Ok(()),
        Some(Err(e)) => {
            tracing::warn!(location, error = %e.message, "gc: artifact location not deleted");
            Ok(())
        }
    }
}

/// A deleted experiment or run, for the trash view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrashEntry {
    pub id: String,
    pub name: String,
    /// The run's experiment; empty for an experiment.
    pub experiment_id: String,
    pub deleted_at: Option<i64>,
}

/// The deleted experiments and runs, most recently deleted first, at most `limit` of each.
pub async fn trash(db: &Db, limit: i64) -> Result<(Vec<TrashEntry>, Vec<TrashEntry>)> {
    let experiments = sqlx::query(
        "SELECT experiment_id, name, last_update_time FROM experiments \
         WHERE lifecycle_stage = 'deleted' ORDER BY last_update_time DESC, experiment_id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(TrashEntry {
            id: r.try_get::<i64, _>(0)?.to_string(),
            name: r.try_get(1)?,
            experiment_id: String::new(),
            deleted_at: r.try_get(2)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let runs = sqlx::query(
        "SELECT run_uuid, name, experiment_id, deleted_time FROM runs \
         WHERE lifecycle_stage = 'deleted' ORDER BY deleted_time DESC, run_uuid LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(TrashEntry {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            experiment_id: r.try_get::<i64, _>(2)?.to_string(),
            deleted_at: r.try_get(3)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    Ok((experiments, runs))
}
