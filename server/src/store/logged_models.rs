//! Logged models (MLflow 3.x `log_model`): the model, its tags and params, and the runs
//! that output or used it.

use crate::db::{Conn, Db};
use crate::error::{ApiError, Result};
use crate::search::{self, LoggedModelQuery};
use crate::store::{IN_CHUNK, build, experiments, now_ms};
use app::models::{
    KeyValue, LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelStatus, ModelInput,
    ModelOutput,
};
use sea_query::{Alias, Expr, Order, Query};
use sqlx::Row;
use std::collections::HashMap;

/// The logged-model tag listing the registry versions made from a model.
pub const MODEL_VERSIONS_TAG: &str = "mlflow.modelVersions";

const COLUMNS: [&str; 11] = [
    "model_id",
    "experiment_id",
    "name",
    "artifact_location",
    "creation_time",
    "last_updated_time",
    "status",
    "status_message",
    "model_type",
    "source_run_id",
    "lifecycle_stage",
];

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Logged model with ID '{id}' not found."))
}

/// What a new logged model is made of; the id is chosen by the caller so a retried
/// write creates the same model.
pub struct NewLoggedModel {
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

/// Creates a pending model under its experiment's artifact location:
/// `<location>/models/<model_id>/artifacts`, as MLflow lays it out.
pub async fn create(conn: &mut Conn, new: &NewLoggedModel) -> Result<()> {
    let stage = experiments::stage(conn, new.experiment_id).await?;
    if stage != "active" {
        return Err(ApiError::invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is {stage}.",
            new.experiment_id
        )));
    }
    let location: String =
        sqlx::query_scalar("SELECT artifact_location FROM experiments WHERE experiment_id = $1")
            .bind(new.experiment_id)
            .fetch_one(&mut *conn)
            .await?;
    let artifact_location = format!(
        "{}/models/{}/artifacts",
        location.trim_end_matches('/'),
        new.model_id
    );
    let now = now_ms();
    sqlx::query(
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_time, \
         last_updated_time, status, model_type, source_run_id) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
    )
    .bind(&new.model_id)
    .bind(new.experiment_id)
    .bind(&new.name)
    .bind(artifact_location)
    .bind(now)
    .bind(LoggedModelStatus::Pending.as_str())
    .bind(new.model_type.as_deref())
    .bind(new.source_run_id.as_deref())
    .execute(&mut *conn)
    .await?;
    log_params(conn, &new.model_id, &new.params).await?;
    set_tags(conn, &new.model_id, &new.tags).await
}

/// Fails unless the model exists (deleted or not), inside a write.
async fn require(conn: &mut Conn, id: &str) -> Result<()> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT model_id FROM logged_models WHERE model_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    found.map(|_| ()).ok_or_else(|| not_found(id))
}

async fn touch(conn: &mut Conn, id: &str) -> Result<()> {
    sqlx::query("UPDATE logged_models SET last_updated_time = $1 WHERE model_id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn finalize(conn: &mut Conn, id: &str, status: LoggedModelStatus) -> Result<()> {
    require(conn, id).await?;
    sqlx::query("UPDATE logged_models SET status = $1, last_updated_time = $2 WHERE model_id = $3")
        .bind(status.as_str())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Soft delete: reads then treat the model as missing.
pub async fn delete(conn: &mut Conn, id: &str) -> Result<()> {
    require(conn, id).await?;
    sqlx::query("UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = $1 WHERE model_id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_tags(conn: &mut Conn, id: &str, tags: &[KeyValue]) -> Result<()> {
    require(conn, id).await?;
    for tag in tags {
        sqlx::query(
            "INSERT INTO logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(id)
        .bind(&tag.key)
        .bind(&tag.value)
        .execute(&mut *conn)
        .await?;
    }
    touch(conn, id).await
}

pub async fn delete_tag(conn: &mut Conn, id: &str, key: &str) -> Result<()> {
    require(conn, id).await?;
    let done = sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2")
        .bind(id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found(format!(
            "No tag with key '{key}' found for model with ID '{id}'."
        )));
    }
    Ok(())
}

/// Params are set once; logging the same key again keeps the first value, as MLflow's
/// insert-only store does.
pub async fn log_params(conn: &mut Conn, id: &str, params: &[KeyValue]) -> Result<()> {
    require(conn, id).await?;
    for p in params {
        sqlx::query("INSERT INTO logged_model_params (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(&p.key)
            .bind(&p.value)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Records that registry version `name`/`version` was made from the model, in the tag
/// `mlflow.modelVersions` (a JSON list of `{"name", "version"}`), as MLflow's server does.
pub async fn add_model_version(conn: &mut Conn, id: &str, name: &str, version: i64) -> Result<()> {
    let existing: Option<String> =
        sqlx::query_scalar("SELECT value FROM logged_model_tags WHERE model_id = $1 AND key = $2")
            .bind(id)
            .bind(MODEL_VERSIONS_TAG)
            .fetch_optional(&mut *conn)
            .await?;
    let mut list: Vec<serde_json::Value> = existing
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    let entry = serde_json::json!({ "name": name, "version": version.to_string() });
    if !list.contains(&entry) {
        list.push(entry);
    }
    let tag = KeyValue {
        key: MODEL_VERSIONS_TAG.to_owned(),
        value: serde_json::Value::Array(list).to_string(),
    };
    set_tags(conn, id, std::slice::from_ref(&tag)).await
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<(LoggedModel, String)> {
    let status: String = row.try_get(6)?;
    let info = LoggedModelInfo {
        model_id: row.try_get(0)?,
        experiment_id: row.try_get::<i64, _>(1)?.to_string(),
        name: row.try_get(2)?,
        artifact_uri: row.try_get(3)?,
        creation_timestamp_ms: row.try_get(4)?,
        last_updated_timestamp_ms: row.try_get(5)?,
        status: LoggedModelStatus::parse(&status).unwrap_or(LoggedModelStatus::Unspecified),
        status_message: row.try_get(7)?,
        model_type: row.try_get(8)?,
        source_run_id: row.try_get(9)?,
        tags: Vec::new(),
    };
    Ok((
        LoggedModel {
            info,
            data: LoggedModelData::default(),
        },
        row.try_get(10)?,
    ))
}

/// One model; a deleted one only with `allow_deleted`.
pub async fn get(db: &Db, id: &str, allow_deleted: bool) -> Result<LoggedModel> {
    let mut q = Query::select();
    q.columns(COLUMNS.map(Alias::new))
        .from(Alias::new("logged_models"))
        .and_where(Expr::col(Alias::new("model_id")).eq(id));
    let (sql, values) = build(&q, db.backend);
    let row = sqlx::query_with(&sql, values)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| not_found(id))?;
    let (model, stage) = from_row(&row)?;
    if stage == "deleted" && !allow_deleted {
        return Err(not_found(id));
    }
    assemble(db, vec![model])
        .await?
        .pop()
        .ok_or_else(|| not_found(id))
}

/// One page of a search, plus whether more follow.
pub async fn search(db: &Db, query: &LoggedModelQuery<'_>) -> Result<(Vec<LoggedModel>, bool)> {
    let probe = LoggedModelQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let (sql, values) = build(&search::logged_models_page(&probe, db.backend), db.backend);
    let ids: Vec<String> = sqlx::query_scalar_with(&sql, values)
        .fetch_all(&db.pool)
        .await?;
    let more = ids.len() as u64 > query.limit;
    let ids = &ids[..ids.len().min(query.limit as usize)];
    let mut by_id: HashMap<String, LoggedModel> = HashMap::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut q = Query::select();
        q.columns(COLUMNS.map(Alias::new))
            .from(Alias::new("logged_models"))
            .and_where(Expr::col(Alias::new("model_id")).is_in(chunk.iter().cloned()));
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            let (model, _) = from_row(&row)?;
            by_id.insert(model.info.model_id.clone(), model);
        }
    }
    let models = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    Ok((assemble(db, models).await?, more))
}

/// Attaches tags and params.
async fn assemble(db: &Db, mut models: Vec<LoggedModel>) -> Result<Vec<LoggedModel>> {
    let ids: Vec<String> = models.iter().map(|m| m.info.model_id.clone()).collect();
    let mut tags = key_values(db, "logged_model_tags", &ids).await?;
    let mut params = key_values(db, "logged_model_params", &ids).await?;
    for m in &mut models {
        m.info.tags = tags.remove(&m.info.model_id).unwrap_or_default();
        m.data.params = params.remove(&m.info.model_id).unwrap_or_default();
    }
    Ok(models)
}

async fn key_values(
    db: &Db,
    table: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<KeyValue>>> {
    let mut out: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut q = Query::select();
        q.columns(["model_id", "key", "value"].map(Alias::new))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("model_id")).is_in(chunk.iter().cloned()))
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

/// `runs/outputs`: the run produced these models. Repeats are no-ops.
pub async fn log_outputs(conn: &mut Conn, run: i64, outputs: &[ModelOutput]) -> Result<()> {
    for o in outputs {
        sqlx::query("INSERT INTO run_model_outputs (run_id, model_id, step) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(run)
            .bind(&o.model_id)
            .bind(o.step.unwrap_or(0))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The model side of `runs/log-inputs`. Repeats are no-ops.
pub async fn log_inputs(conn: &mut Conn, run: i64, inputs: &[ModelInput]) -> Result<()> {
    for i in inputs {
        sqlx::query("INSERT INTO run_model_inputs (run_id, model_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(run)
            .bind(&i.model_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Model outputs and inputs of runs, by run.
pub async fn of_runs(
    db: &Db,
    runs: &[i64],
) -> Result<HashMap<i64, (Vec<ModelOutput>, Vec<ModelInput>)>> {
    let mut out: HashMap<i64, (Vec<ModelOutput>, Vec<ModelInput>)> = HashMap::new();
    for chunk in runs.chunks(IN_CHUNK) {
        let mut q = Query::select();
        q.columns(["run_id", "model_id", "step"].map(Alias::new))
            .from(Alias::new("run_model_outputs"))
            .and_where(Expr::col(Alias::new("run_id")).is_in(chunk.iter().copied()))
            .order_by(Alias::new("step"), Order::Asc)
            .order_by(Alias::new("model_id"), Order::Asc);
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            out.entry(row.try_get(0)?).or_default().0.push(ModelOutput {
                model_id: row.try_get(1)?,
                step: Some(row.try_get(2)?),
            });
        }
        let mut q = Query::select();
        q.columns(["run_id", "model_id"].map(Alias::new))
            .from(Alias::new("run_model_inputs"))
            .and_where(Expr::col(Alias::new("run_id")).is_in(chunk.iter().copied()))
            .order_by(Alias::new("model_id"), Order::Asc);
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            out.entry(row.try_get(0)?).or_default().1.push(ModelInput {
                model_id: row.try_get(1)?,
            });
        }
    }
    Ok(out)
}
