//! Experiments and their tags.

use crate::db::{Conn, Db};
use crate::error::{ApiError, Result};
use crate::search::{self, ExperimentQuery};
use crate::store::{build, now_ms};
use app::models::{Experiment, KeyValue};
use sea_query::{Alias, Expr, Order, Query};
use sqlx::Row;
use std::collections::HashMap;

/// The experiment every run without one lands in; created at start-up.
pub const DEFAULT_EXPERIMENT_ID: i64 = 0;

const SELECT: &str = "SELECT experiment_id, name, artifact_location, lifecycle_stage, \
                      creation_time, last_update_time FROM experiments";

/// Parses an experiment id as MLflow's SQL store does (it must be an integer).
pub fn parse_id(id: &str) -> Result<i64> {
    id.trim().parse::<i64>().map_err(|_| {
        ApiError::invalid(format!(
            "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
        ))
    })
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Experiment> {
    Ok(Experiment {
        experiment_id: row.try_get::<i64, _>(0)?.to_string(),
        name: row.try_get(1)?,
        artifact_location: row.try_get(2)?,
        lifecycle_stage: row.try_get(3)?,
        creation_time: row.try_get(4)?,
        last_update_time: row.try_get(5)?,
        tags: Vec::new(),
    })
}

/// The artifact location of a new experiment under `root`.
pub fn artifact_location(root: &str, id: i64) -> String {
    format!("{}/{id}", root.trim_end_matches('/'))
}

/// Creates the Default experiment ("0") if it is missing.
pub async fn ensure_default(db: &Db, artifact_root: &str) -> Result<()> {
    let location = artifact_location(artifact_root, DEFAULT_EXPERIMENT_ID);
    db.writer
        .run(move |conn| {
            let location = location.clone();
            Box::pin(async move {
                let now = now_ms();
                sqlx::query(
                    "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
                     creation_time, last_update_time) VALUES ($1, 'Default', $2, 'active', $3, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(DEFAULT_EXPERIMENT_ID)
                .bind(location)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
}

/// Inserts an experiment; its location is `artifact_location` or one under the root.
pub async fn create(
    conn: &mut Conn,
    name: &str,
    artifact_location_given: Option<&str>,
    tags: &[KeyValue],
    artifact_root: &str,
) -> Result<i64> {
    if let Some(row) = sqlx::query("SELECT lifecycle_stage FROM experiments WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
    {
        let stage: String = row.try_get(0)?;
        return Err(ApiError::already_exists(if stage == "deleted" {
            format!(
                "Experiment(name={name}) already exists in the deleted state. \
                 Restore it, or permanently delete it, before creating a new one with that name."
            )
        } else {
            format!("Experiment(name={name}) already exists.")
        }));
    }
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
         VALUES ($1, '', 'active', $2, $2) RETURNING experiment_id",
    )
    .bind(name)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let location = match artifact_location_given {
        Some(l) if !l.is_empty() => l.to_owned(),
        _ => artifact_location(artifact_root, id),
    };
    sqlx::query("UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2")
        .bind(location)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for tag in tags {
        set_tag(conn, id, &tag.key, &tag.value).await?;
    }
    Ok(id)
}

/// One experiment with its tags.
pub async fn get(db: &Db, id: i64) -> Result<Experiment> {
    let row = sqlx::query(&format!("{SELECT} WHERE experiment_id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No Experiment with id={id} exists")))?;
    let mut experiment = from_row(&row)?;
    experiment.tags = tags_of(db, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(experiment)
}

pub async fn get_by_name(db: &Db, name: &str) -> Result<Experiment> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT experiment_id FROM experiments WHERE name = $1")
            .bind(name)
            .fetch_optional(&db.pool)
            .await?;
    match id {
        Some(id) => get(db, id).await,
        None => Err(ApiError::not_found(format!(
            "Could not find experiment with name '{name}'"
        ))),
    }
}

/// The lifecycle stage of an experiment, inside a write.
pub async fn stage(conn: &mut Conn, id: i64) -> Result<String> {
    sqlx::query_scalar("SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No Experiment with id={id} exists")))
}

/// Searches with MLflow's experiment filter and ordering; one page plus a flag telling
/// whether more follow. `visible` (from `auth::permissions::readable`) keeps only the
/// experiments the caller may read, in the statement itself, so pages stay exact.
pub async fn search(
    db: &Db,
    query: &ExperimentQuery<'_>,
    visible: Option<sea_query::SimpleExpr>,
) -> Result<(Vec<Experiment>, bool)> {
    let page_size = query.limit as usize;
    let probe = ExperimentQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let mut statement = search::experiments_page(&probe, db.backend);
    if let Some(visible) = visible {
        statement.and_where(visible);
    }
    let (sql, values) = build(&statement, db.backend);
    let rows = sqlx::query_with(&sql, values).fetch_all(&db.pool).await?;
    let more = rows.len() > page_size;
    let mut experiments = rows
        .iter()
        .take(page_size)
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<i64> = experiments
        .iter()
        .filter_map(|e| e.experiment_id.parse().ok())
        .collect();
    let mut tags = tags_of(db, &ids).await?;
    for e in &mut experiments {
        if let Ok(id) = e.experiment_id.parse::<i64>() {
            e.tags = tags.remove(&id).unwrap_or_default();
        }
    }
    Ok((experiments, more))
}

async fn tags_of(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Vec<KeyValue>>> {
    let mut out: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    for chunk in ids.chunks(super::IN_CHUNK) {
        let mut q = Query::select();
        q.columns(["experiment_id", "key", "value"].map(Alias::new))
            .from(Alias::new("experiment_tags"))
            .and_where(Expr::col(Alias::new("experiment_id")).is_in(chunk.iter().copied()))
            .order_by(Alias::new("key"), Order::Asc);
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            out.entry(row.try_get(0)?).or_default().push(KeyValue {
                key: row.try_get(1)?,
                value: row.try_get(2)?,
            });
        }
    }
    Ok(out)
}

pub async fn rename(conn: &mut Conn, id: i64, new_name: &str) -> Result<()> {
    if stage(conn, id).await? != "active" {
        return Err(ApiError::new(
            app::models::ErrorCode::InvalidState,
            "Cannot rename a non-active experiment.",
        ));
    }
    let taken: Option<i64> =
        sqlx::query_scalar("SELECT experiment_id FROM experiments WHERE name = $1")
            .bind(new_name)
            .fetch_optional(&mut *conn)
            .await?;
    match taken {
        // MLflow answers BAD_REQUEST here (not RESOURCE_ALREADY_EXISTS, as on create).
        Some(other) if other != id => {
            return Err(ApiError::new(
                app::models::ErrorCode::BadRequest,
                format!("Experiment(name={new_name}) already exists."),
            ));
        }
        _ => {}
    }
    sqlx::query("UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3")
        .bind(new_name)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Soft-deletes an experiment and its active runs. The runs get the experiment's
/// deletion time, which is how a restore finds exactly them again.
/// MLflow looks the experiment up among the active ones and reports a deleted one as
/// missing; the code is the same here, the message says why.
fn not_in_stage(id: i64, stage: &str) -> ApiError {
    ApiError::not_found(format!(
        "No Experiment with id={id} exists in the {stage} state."
    ))
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<()> {
    if stage(conn, id).await? != "active" {
        return Err(not_in_stage(id, "active"));
    }
    let now = now_ms();
    sqlx::query("UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = $1 WHERE experiment_id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $1 \
         WHERE experiment_id = $2 AND lifecycle_stage = 'active'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Restores an experiment and the runs that were deleted with it; runs deleted on their
/// own before stay deleted.
pub async fn restore(conn: &mut Conn, id: i64) -> Result<()> {
    if stage(conn, id).await? != "deleted" {
        return Err(not_in_stage(id, "deleted"));
    }
    let deleted_at: i64 =
        sqlx::query_scalar("SELECT last_update_time FROM experiments WHERE experiment_id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query(
        "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL \
         WHERE experiment_id = $1 AND lifecycle_stage = 'deleted' AND deleted_time = $2",
    )
    .bind(id)
    .bind(deleted_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE experiments SET lifecycle_stage = 'active', last_update_time = $1 WHERE experiment_id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_tag(conn: &mut Conn, id: i64, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(id)
    .bind(key)
    .bind(value)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_tag(conn: &mut Conn, id: i64, key: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2")
        .bind(id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found(format!(
            "No tag with name: {key} in experiment with id {id}"
        )));
    }
    Ok(())
}

/// Per experiment: its number of active runs and the latest time one of them started or
/// ended (the experiment list's "runs" and "last activity").
pub async fn run_stats(db: &Db, ids: &[i64]) -> Result<HashMap<i64, (i64, Option<i64>)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(super::IN_CHUNK) {
        let mut q = Query::select();
        q.column(Alias::new("experiment_id"))
            .expr(Expr::col(Alias::new("id")).count())
            .expr(Expr::col(Alias::new("start_time")).max())
            .expr(Expr::col(Alias::new("end_time")).max())
            .from(Alias::new("runs"))
            .and_where(Expr::col(Alias::new("experiment_id")).is_in(chunk.iter().copied()))
            .and_where(Expr::col(Alias::new("lifecycle_stage")).eq("active"))
            .group_by_col(Alias::new("experiment_id"));
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            let started: Option<i64> = row.try_get(2)?;
            let ended: Option<i64> = row.try_get(3)?;
            out.insert(row.try_get(0)?, (row.try_get(1)?, started.max(ended)));
        }
    }
    Ok(out)
}
