//! Registered models with their tags, aliases and latest versions.

use super::{model_not_found, versions};
use crate::db::{Conn, Db};
use crate::error::{ApiError, Result};
use crate::search::{self, RegistryQuery};
use crate::store::{IN_CHUNK, build, now_ms};
use app::models::{KeyValue, RegisteredModel, RegisteredModelAlias};
use sea_query::{Alias, Expr, Order, Query};
use sqlx::Row;
use std::collections::HashMap;

const SELECT: &str =
    "SELECT id, name, creation_time, last_updated_time, description FROM registered_models";

/// The internal id of the model called `name`, inside a write.
pub async fn id_in(conn: &mut Conn, name: &str) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM registered_models WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| model_not_found(name))
}

pub async fn id_of(db: &Db, name: &str) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM registered_models WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| model_not_found(name))
}

/// Marks a model changed (MLflow bumps it on version changes too).
pub async fn touch(conn: &mut Conn, id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE registered_models SET last_updated_time = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn create(
    conn: &mut Conn,
    name: &str,
    description: Option<&str>,
    tags: &[KeyValue],
) -> Result<()> {
    let now = now_ms();
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) \
         VALUES ($1, $2, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(name)
    .bind(now)
    .bind(description)
    .fetch_optional(&mut *conn)
    .await?;
    let id = inserted.ok_or_else(|| {
        ApiError::already_exists(format!("Registered Model (name={name}) already exists."))
    })?;
    for tag in tags {
        set_tag(conn, id, &tag.key, &tag.value).await?;
    }
    Ok(())
}

pub async fn rename(conn: &mut Conn, name: &str, new_name: &str) -> Result<()> {
    let id = id_in(conn, name).await?;
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM registered_models WHERE name = $1")
        .bind(new_name)
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some_and(|other| other != id) {
        return Err(ApiError::already_exists(format!(
            "Registered Model (name={new_name}) already exists."
        )));
    }
    let now = now_ms();
    sqlx::query("UPDATE registered_models SET name = $1, last_updated_time = $2 WHERE id = $3")
        .bind(new_name)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    // MLflow touches every version of a renamed model.
    sqlx::query("UPDATE model_versions SET last_updated_time = $1 WHERE registered_model_id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn update(conn: &mut Conn, name: &str, description: Option<&str>) -> Result<()> {
    let id = id_in(conn, name).await?;
    sqlx::query(
        "UPDATE registered_models SET description = $1, last_updated_time = $2 WHERE id = $3",
    )
    .bind(description)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes a model for good, with its versions, tags and aliases (as MLflow does).
pub async fn delete(conn: &mut Conn, name: &str) -> Result<()> {
    let id = id_in(conn, name).await?;
    // Children first: SQLite enforces the cascades only with foreign_keys on, and the
    // order keeps the statement valid either way.
    for table in [
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
    ] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE registered_model_id = $1"
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM registered_models WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_tag(conn: &mut Conn, id: i64, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO registered_model_tags (registered_model_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (registered_model_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(id)
    .bind(key)
    .bind(value)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deleting a tag that is not there is not an error, as in MLflow.
pub async fn delete_tag(conn: &mut Conn, id: i64, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM registered_model_tags WHERE registered_model_id = $1 AND key = $2")
        .bind(id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_alias(conn: &mut Conn, name: &str, alias: &str, version: i64) -> Result<()> {
    let id = id_in(conn, name).await?;
    versions::require(conn, id, name, version).await?;
    sqlx::query(
        "INSERT INTO registered_model_aliases (registered_model_id, alias, version) VALUES ($1, $2, $3) \
         ON CONFLICT (registered_model_id, alias) DO UPDATE SET version = excluded.version",
    )
    .bind(id)
    .bind(alias)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_alias(conn: &mut Conn, name: &str, alias: &str) -> Result<()> {
    let id = id_in(conn, name).await?;
    sqlx::query(
        "DELETE FROM registered_model_aliases WHERE registered_model_id = $1 AND alias = $2",
    )
    .bind(id)
    .bind(alias)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The version an alias points at.
pub async fn alias_version(db: &Db, name: &str, alias: &str) -> Result<i64> {
    let id = id_of(db, name).await?;
    sqlx::query_scalar("SELECT version FROM registered_model_aliases WHERE registered_model_id = $1 AND alias = $2")
        .bind(id)
        .bind(alias)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| ApiError::invalid(format!("Registered model alias {alias} not found.")))
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<(i64, RegisteredModel)> {
    Ok((
        row.try_get(0)?,
        RegisteredModel {
            name: row.try_get(1)?,
            creation_timestamp: row.try_get(2)?,
            last_updated_timestamp: row.try_get(3)?,
            description: row.try_get(4)?,
            latest_versions: Vec::new(),
            tags: Vec::new(),
            aliases: Vec::new(),
        },
    ))
}

pub async fn get(db: &Db, name: &str) -> Result<RegisteredModel> {
    let row = sqlx::query(&format!("{SELECT} WHERE name = $1"))
        .bind(name)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| model_not_found(name))?;
    let mut models = assemble(db, vec![from_row(&row)?]).await?;
    models.pop().ok_or_else(|| model_not_found(name))
}

/// One page of a search, plus whether more follow.
pub async fn search(
    db: &Db,
    query: &RegistryQuery<'_>,
    visible: Option<sea_query::SimpleExpr>,
) -> Result<(Vec<RegisteredModel>, bool)> {
    let probe = RegistryQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let mut statement = search::registered_models_page(&probe, db.backend);
    // The caller's read permission (`auth::permissions::readable`), in the statement.
    if let Some(visible) = visible {
        statement.and_where(visible);
    }
    let (sql, values) = build(&statement, db.backend);
    let ids: Vec<i64> = sqlx::query_scalar_with(&sql, values)
        .fetch_all(&db.pool)
        .await?;
    let more = ids.len() as u64 > query.limit;
    let ids = &ids[..ids.len().min(query.limit as usize)];
    let mut by_id: HashMap<i64, RegisteredModel> = HashMap::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut q = Query::select();
        q.columns(
            [
                "id",
                "name",
                "creation_time",
                "last_updated_time",
                "description",
            ]
            .map(Alias::new),
        )
        .from(Alias::new("registered_models"))
        .and_where(Expr::col(Alias::new("id")).is_in(chunk.iter().copied()));
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            let (id, model) = from_row(&row)?;
            by_id.insert(id, model);
        }
    }
    let rows = ids
        .iter()
        .filter_map(|id| by_id.remove(id).map(|m| (*id, m)))
        .collect();
    Ok((assemble(db, rows).await?, more))
}

/// Attaches tags, aliases and the latest version of each stage.
async fn assemble(db: &Db, rows: Vec<(i64, RegisteredModel)>) -> Result<Vec<RegisteredModel>> {
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    let mut tags = key_values(db, "registered_model_tags", "key", "value", &ids).await?;
    let mut aliases = key_values(db, "registered_model_aliases", "alias", "version", &ids).await?;
    let mut latest = versions::latest_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|(id, mut model)| {
            model.tags = tags.remove(&id).unwrap_or_default();
            model.aliases = aliases
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|kv| RegisteredModelAlias {
                    alias: kv.key,
                    version: kv.value,
                })
                .collect();
            model.latest_versions = latest.remove(&id).unwrap_or_default();
            model
        })
        .collect())
}

/// `(registered_model_id, key, value)` rows of a child table, by model, ordered by key;
/// integer values (alias versions) come back as text.
async fn key_values(
    db: &Db,
    table: &str,
    key: &str,
    value: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<KeyValue>>> {
    let mut out: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut q = Query::select();
        q.columns(["registered_model_id", key, value].map(Alias::new))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("registered_model_id")).is_in(chunk.iter().copied()))
            .order_by(Alias::new(key), Order::Asc);
        let (sql, values) = build(&q, db.backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
            let value = match row.try_get::<String, _>(2) {
                Ok(text) => text,
                Err(_) => row.try_get::<i64, _>(2)?.to_string(),
            };
            out.entry(row.try_get(0)?).or_default().push(KeyValue {
                key: row.try_get(1)?,
                value,
            });
        }
    }
    Ok(out)
}
