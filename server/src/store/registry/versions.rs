//! Model versions: numbered per model, never reused. A deleted version stays as a row in
//! the stage `Deleted_Internal`, with its details redacted, and every read skips it.

use super::models;
use crate::db::{Conn, Db};
use crate::error::{ApiError, Result};
use crate::search::{self, RegistryQuery, registry::DELETED_STAGE};
use crate::store::{IN_CHUNK, build, now_ms};
use app::models::{KeyValue, ModelVersion};
use sea_query::{Alias, Cond, Expr, JoinType, Order, Query, SelectStatement};
use sqlx::Row;
use std::collections::HashMap;

/// MLflow's stages, in their canonical spelling.
pub const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

const COLUMNS: &str = "mv.registered_model_id, rm.name, mv.version, mv.creation_time, mv.last_updated_time, \
                       mv.description, mv.user_id, mv.current_stage, mv.source, mv.run_id, mv.run_link, \
                       mv.status, mv.status_message, mv.logged_model_id";
const FROM: &str =
    "FROM model_versions mv JOIN registered_models rm ON rm.id = mv.registered_model_id";

/// A version number as MLflow reads it (`int(version)`).
pub fn parse_version(raw: &str) -> Result<i64> {
    raw.trim().parse::<i64>().map_err(|_| {
        ApiError::invalid(format!(
            "Parameter 'version' must be an integer, got '{raw}'."
        ))
    })
}

/// A stage in any case, as its canonical name.
pub fn canonical_stage(stage: &str) -> Result<&'static str> {
    STAGES
        .iter()
        .copied()
        .find(|s| s.eq_ignore_ascii_case(stage))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid Model Version stage: {stage}. Value must be one of {}.",
                STAGES.join(", ")
            ))
        })
}

/// `SELECT <COLUMNS> FROM model_versions mv JOIN registered_models rm`, for bulk reads
/// that add their conditions with sea-query.
fn select() -> SelectStatement {
    let (mv, rm) = (Alias::new("mv"), Alias::new("rm"));
    Query::select()
        .expr(Expr::cust(COLUMNS))
        .from_as(Alias::new("model_versions"), mv.clone())
        .join_as(
            JoinType::InnerJoin,
            Alias::new("registered_models"),
            rm.clone(),
            Expr::col((rm, Alias::new("id"))).equals((mv, Alias::new("registered_model_id"))),
        )
        .to_owned()
}

fn not_found(name: &str, version: i64) -> ApiError {
    ApiError::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

/// Fails unless the (not deleted) version exists, inside a write.
pub async fn require(conn: &mut Conn, model: i64, name: &str, version: i64) -> Result<()> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM model_versions WHERE registered_model_id = $1 AND version = $2 AND current_stage <> $3",
    )
    .bind(model)
    .bind(version)
    .bind(DELETED_STAGE)
    .fetch_optional(&mut *conn)
    .await?;
    found.map(|_| ()).ok_or_else(|| not_found(name, version))
}

/// What a new version is made of; `storage_location` is where its files are.
pub struct NewVersion {
    pub name: String,
    pub source: String,
    pub storage_location: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub logged_model_id: Option<String>,
    pub tags: Vec<KeyValue>,
}

/// Adds the next version of a model; returns its number.
pub async fn create(conn: &mut Conn, new: &NewVersion) -> Result<i64> {
    let model = models::id_in(conn, &new.name).await?;
    let now = now_ms();
    // Touching the model first locks its row on PostgreSQL, so concurrent writers number
    // their versions one after the other (SQLite has one writer anyway).
    models::touch(conn, model, now).await?;
    let version: i64 = sqlx::query_scalar(
        "INSERT INTO model_versions (registered_model_id, version, creation_time, last_updated_time, description, \
         current_stage, source, storage_location, run_id, run_link, status, logged_model_id) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $2, $3, 'None', $4, $5, $6, $7, 'READY', $8 \
         FROM model_versions WHERE registered_model_id = $1 RETURNING version",
    )
    .bind(model)
    .bind(now)
    .bind(new.description.as_deref())
    .bind(&new.source)
    .bind(&new.storage_location)
    .bind(new.run_id.as_deref())
    .bind(new.run_link.as_deref())
    .bind(new.logged_model_id.as_deref())
    .fetch_one(&mut *conn)
    .await?;
    for tag in &new.tags {
        set_tag_by_id(conn, model, version, &tag.key, &tag.value).await?;
    }
    Ok(version)
}

pub async fn update(
    conn: &mut Conn,
    name: &str,
    version: i64,
    description: Option<&str>,
) -> Result<()> {
    let model = models::id_in(conn, name).await?;
    require(conn, model, name, version).await?;
    sqlx::query(
        "UPDATE model_versions SET description = $1, last_updated_time = $2 \
         WHERE registered_model_id = $3 AND version = $4",
    )
    .bind(description)
    .bind(now_ms())
    .bind(model)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves a version to `stage`; with `archive_existing`, the model's other versions in
/// that stage move to Archived.
pub async fn transition(
    conn: &mut Conn,
    name: &str,
    version: i64,
    stage: &str,
    archive_existing: bool,
) -> Result<()> {
    let model = models::id_in(conn, name).await?;
    require(conn, model, name, version).await?;
    let now = now_ms();
    if archive_existing {
        sqlx::query(
            "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $1 \
             WHERE registered_model_id = $2 AND version <> $3 AND current_stage = $4",
        )
        .bind(now)
        .bind(model)
        .bind(version)
        .bind(stage)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE model_versions SET current_stage = $1, last_updated_time = $2 \
         WHERE registered_model_id = $3 AND version = $4",
    )
    .bind(stage)
    .bind(now)
    .bind(model)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    models::touch(conn, model, now).await
}

/// Soft delete, as MLflow: the row stays (so its number is never given again) with its
/// details redacted; its aliases go. Its tags stay, as in MLflow.
pub async fn delete(conn: &mut Conn, name: &str, version: i64) -> Result<()> {
    let model = models::id_in(conn, name).await?;
    require(conn, model, name, version).await?;
    let now = now_ms();
    sqlx::query(
        "DELETE FROM registered_model_aliases WHERE registered_model_id = $1 AND version = $2",
    )
    .bind(model)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE model_versions SET current_stage = $1, last_updated_time = $2, description = NULL, user_id = NULL, \
         source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', run_link = 'REDACTED-RUN-LINK', \
         status_message = NULL WHERE registered_model_id = $3 AND version = $4",
    )
    .bind(DELETED_STAGE)
    .bind(now)
    .bind(model)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    models::touch(conn, model, now).await
}

pub async fn set_tag(
    conn: &mut Conn,
    name: &str,
    version: i64,
    key: &str,
    value: &str,
) -> Result<()> {
    let model = models::id_in(conn, name).await?;
    require(conn, model, name, version).await?;
    set_tag_by_id(conn, model, version, key, value).await
}

async fn set_tag_by_id(
    conn: &mut Conn,
    model: i64,
    version: i64,
    key: &str,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO model_version_tags (registered_model_id, version, key, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (registered_model_id, version, key) DO UPDATE SET value = excluded.value",
    )
    .bind(model)
    .bind(version)
    .bind(key)
    .bind(value)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deleting a tag that is not there is not an error, as in MLflow.
pub async fn delete_tag(conn: &mut Conn, name: &str, version: i64, key: &str) -> Result<()> {
    let model = models::id_in(conn, name).await?;
    require(conn, model, name, version).await?;
    sqlx::query("DELETE FROM model_version_tags WHERE registered_model_id = $1 AND version = $2 AND key = $3")
        .bind(model)
        .bind(version)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A version row: the model's internal id and the version, tags and aliases not yet
/// attached.
struct Row_ {
    model: i64,
    version: ModelVersion,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Row_> {
    Ok(Row_ {
        model: row.try_get(0)?,
        version: ModelVersion {
            name: row.try_get(1)?,
            version: row.try_get::<i64, _>(2)?.to_string(),
            creation_timestamp: row.try_get(3)?,
            last_updated_timestamp: row.try_get(4)?,
            description: row.try_get(5)?,
            user_id: row.try_get(6)?,
            current_stage: row.try_get(7)?,
            source: row.try_get(8)?,
            run_id: row.try_get(9)?,
            run_link: row.try_get(10)?,
            status: row.try_get(11)?,
            status_message: row.try_get(12)?,
            model_id: row.try_get(13)?,
            tags: Vec::new(),
            aliases: Vec::new(),
        },
    })
}

/// One version that is not deleted.
pub async fn get(db: &Db, name: &str, version: i64) -> Result<ModelVersion> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE rm.name = $1 AND mv.version = $2 AND mv.current_stage <> $3"
    ))
    .bind(name)
    .bind(version)
    .bind(DELETED_STAGE)
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(|| not_found(name, version))?;
    let mut versions = assemble(db, vec![from_row(&row)?]).await?;
    versions.pop().ok_or_else(|| not_found(name, version))
}

/// Where a version's files are: its storage location, else its source.
pub async fn download_uri(db: &Db, name: &str, version: i64) -> Result<String> {
    let row = sqlx::query(&format!(
        "SELECT mv.storage_location, mv.source {FROM} WHERE rm.name = $1 AND mv.version = $2 AND mv.current_stage <> $3"
    ))
    .bind(name)
    .bind(version)
    .bind(DELETED_STAGE)
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(|| not_found(name, version))?;
    let location: Option<String> = row.try_get(0)?;
    Ok(location
        .filter(|l| !l.is_empty())
        .map_or_else(|| row.try_get(1), Ok)?)
}

/// The newest version in each stage, for each model (registered-model reads), ordered
/// by version.
pub async fn latest_of(db: &Db, models: &[i64]) -> Result<HashMap<i64, Vec<ModelVersion>>> {
    let mut rows = Vec::new();
    let mv = Alias::new("mv");
    for chunk in models.chunks(IN_CHUNK) {
        let mut q = select();
        q.and_where(Expr::col((mv.clone(), Alias::new("registered_model_id"))).is_in(chunk.iter().copied()))
            .and_where(Expr::col((mv.clone(), Alias::new("current_stage"))).ne(DELETED_STAGE))
            .and_where(Expr::col((mv.clone(), Alias::new("version"))).eq(Expr::cust(
                "(SELECT MAX(m2.version) FROM model_versions m2 \
                 WHERE m2.registered_model_id = mv.registered_model_id AND m2.current_stage = mv.current_stage)",
            )))
            .order_by((mv.clone(), Alias::new("registered_model_id")), Order::Asc)
            .order_by((mv.clone(), Alias::new("version")), Order::Asc);
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            rows.push(from_row(&row)?);
        }
    }
    let models: Vec<i64> = rows.iter().map(|r| r.model).collect();
    let versions = assemble(db, rows).await?;
    let mut out: HashMap<i64, Vec<ModelVersion>> = HashMap::new();
    for (model, version) in models.into_iter().zip(versions) {
        out.entry(model).or_default().push(version);
    }
    Ok(out)
}

/// `get-latest-versions`: the newest version of each requested stage (all stages when
/// none are named).
pub async fn latest(db: &Db, name: &str, stages: &[String]) -> Result<Vec<ModelVersion>> {
    let wanted: Vec<&str> = if stages.is_empty() {
        STAGES.to_vec()
    } else {
        stages
            .iter()
            .map(|s| canonical_stage(s))
            .collect::<Result<_>>()?
    };
    let model = models::id_of(db, name).await?;
    let mut all = latest_of(db, &[model])
        .await?
        .remove(&model)
        .unwrap_or_default();
    all.retain(|v| wanted.contains(&v.current_stage.as_str()));
    Ok(all)
}

/// One page of `search_model_versions`, plus whether more follow.
pub async fn search(
    db: &Db,
    query: &RegistryQuery<'_>,
    visible: Option<sea_query::SimpleExpr>,
) -> Result<(Vec<ModelVersion>, bool)> {
    let probe = RegistryQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let mut statement = search::model_versions_page(&probe, db.backend);
    // The caller's read permission (`auth::permissions::readable`), in the statement.
    if let Some(visible) = visible {
        statement.and_where(visible);
    }
    let (sql, values) = build(&statement, db.backend);
    let keys: Vec<(i64, i64)> = sqlx::query_with(&sql, values)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_>>()?;
    let more = keys.len() as u64 > query.limit;
    let keys = &keys[..keys.len().min(query.limit as usize)];
    let mut found: HashMap<(i64, i64), Row_> = HashMap::new();
    let mv = Alias::new("mv");
    // Two bound values per key: half a chunk keeps a statement within the usual size.
    for chunk in keys.chunks(IN_CHUNK / 2) {
        let cond = chunk.iter().fold(Cond::any(), |c, (m, v)| {
            c.add(
                Expr::col((mv.clone(), Alias::new("registered_model_id")))
                    .eq(*m)
                    .and(Expr::col((mv.clone(), Alias::new("version"))).eq(*v)),
            )
        });
        let (sql, values) = build(&select().cond_where(cond).to_owned(), db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            let r = from_row(&row)?;
            let version: i64 = r.version.version.parse().unwrap_or_default();
            found.insert((r.model, version), r);
        }
    }
    let rows = keys.iter().filter_map(|k| found.remove(k)).collect();
    Ok((assemble(db, rows).await?, more))
}

/// Attaches tags and aliases to version rows.
async fn assemble(db: &Db, rows: Vec<Row_>) -> Result<Vec<ModelVersion>> {
    let models: Vec<i64> = {
        let mut m: Vec<i64> = rows.iter().map(|r| r.model).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let mut tags: HashMap<(i64, i64), Vec<KeyValue>> = HashMap::new();
    let mut aliases: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    for chunk in models.chunks(IN_CHUNK) {
        let mut q = Query::select();
        q.columns(["registered_model_id", "version", "key", "value"].map(Alias::new))
            .from(Alias::new("model_version_tags"))
            .and_where(Expr::col(Alias::new("registered_model_id")).is_in(chunk.iter().copied()))
            .order_by(Alias::new("key"), Order::Asc);
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            tags.entry((row.try_get(0)?, row.try_get(1)?))
                .or_default()
                .push(KeyValue {
                    key: row.try_get(2)?,
                    value: row.try_get(3)?,
                });
        }
        let mut q = Query::select();
        q.columns(["registered_model_id", "version", "alias"].map(Alias::new))
            .from(Alias::new("registered_model_aliases"))
            .and_where(Expr::col(Alias::new("registered_model_id")).is_in(chunk.iter().copied()))
            .order_by(Alias::new("alias"), Order::Asc);
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            aliases
                .entry((row.try_get(0)?, row.try_get(1)?))
                .or_default()
                .push(row.try_get(2)?);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut v = r.version;
            let key = (r.model, v.version.parse::<i64>().unwrap_or_default());
            v.tags = tags.remove(&key).unwrap_or_default();
            v.aliases = aliases.remove(&key).unwrap_or_default();
            v
        })
        .collect())
}
