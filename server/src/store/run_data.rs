//! A run's params and tags, written in bulk; params, tags and metric summaries read back
//! for many runs at once. Metric points are written by `store::points`.

use crate::db::{Backend, Conn, Db, Reads};
use crate::error::{ApiError, Result};
use crate::store::points::loaded_value;
use crate::store::{IN_CHUNK, Params, build, runs::RUN_NAME_TAG, statement_chunks};
use app::models::{KeyValue, Metric, MetricSummary, RunData};
use sea_query::{Alias, Expr, OnConflict, Query, SelectStatement};
use sqlx::Row;
use std::collections::HashMap;

/// Logs params. Re-logging a param with the same value is a no-op (a retry); a different
/// value is refused, since params are immutable.
pub async fn log_params(
    conn: &mut Conn,
    backend: Backend,
    run_id: i64,
    run_uuid: &str,
    params: &[KeyValue],
) -> Result<()> {
    for chunk in params.chunks(IN_CHUNK) {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("params"))
            .columns(["run_id", "key", "value"].map(Alias::new))
            .on_conflict(OnConflict::new().do_nothing().to_owned());
        for p in chunk {
            insert
                .values([run_id.into(), p.key.clone().into(), p.value.clone().into()])
                .map_err(|e| ApiError::internal(e.to_string()))?;
        }
        let (sql, values) = build(&insert, backend);
        // A count, not `RETURNING key`: on SQLite every returned row is one more hand-off
        // from sqlx's connection thread.
        let inserted = sqlx::query_with(&sql, values)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if inserted == chunk.len() as u64 {
            continue;
        }
        // Some were stored before: each stored value must be the one sent.
        let keys: Vec<String> = chunk.iter().map(|p| p.key.clone()).collect();
        let (sql, values) = build(&stored_params(run_id, &keys), backend);
        let stored: HashMap<String, String> = sqlx::query_with(&sql, values)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        for p in chunk {
            match stored.get(&p.key) {
                Some(old) if *old != p.value => {
                    return Err(ApiError::invalid(format!(
                        "Changing param values is not allowed. Param with key='{}' was already logged \
                         with value='{}' for run ID='{run_uuid}'. Attempted logging new value '{}'.",
                        p.key, old, p.value
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Sets tags (last value wins). Setting `mlflow.runName` renames the run.
pub async fn set_tags(conn: &mut Conn, run_id: i64, tags: &[KeyValue]) -> Result<()> {
    upsert_tags(conn, run_id, tags).await?;
    // The last value of the name tag, as `upsert_tags` stored it.
    if let Some(name) = tags.iter().rev().find(|t| t.key == RUN_NAME_TAG) {
        sqlx::query("UPDATE runs SET name = $1 WHERE id = $2")
            .bind(&name.value)
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Stores tags (last value of a key wins) and nothing else: the run keeps its name.
pub(crate) async fn upsert_tags(conn: &mut Conn, run_id: i64, tags: &[KeyValue]) -> Result<()> {
    // A multi-row upsert may not touch a row twice (PostgreSQL), so each key once, with
    // its last value.
    let mut last: HashMap<&str, &str> = HashMap::new();
    for tag in tags {
        last.insert(&tag.key, &tag.value);
    }
    let rows: Vec<(&str, &str)> = last.into_iter().collect();
    for chunk in statement_chunks(&rows, IN_CHUNK / 2) {
        let sql = format!(
            "INSERT INTO tags (run_id, key, value) VALUES {} ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            Params::on(conn).rows(chunk.len(), 3)
        );
        let mut q = sqlx::query(&sql);
        for (key, value) in chunk {
            q = q.bind(run_id).bind(*key).bind(*value);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// MLflow 2.x records logged models in the run tag `mlflow.log-model.history`, a JSON
/// list; this appends to it, once per model (a retried call adds nothing).
pub async fn append_model_history(
    conn: &mut Conn,
    run_id: i64,
    model: &serde_json::Value,
) -> Result<()> {
    const HISTORY_TAG: &str = "mlflow.log-model.history";
    let current: Option<String> =
        sqlx::query_scalar("SELECT value FROM tags WHERE run_id = $1 AND key = $2")
            .bind(run_id)
            .bind(HISTORY_TAG)
            .fetch_optional(&mut *conn)
            .await?;
    let mut history: Vec<serde_json::Value> = current
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    if !history.contains(model) {
        history.push(model.clone());
    }
    let value = serde_json::to_string(&history).map_err(|e| ApiError::internal(e.to_string()))?;
    set_tags(
        conn,
        run_id,
        &[KeyValue {
            key: HISTORY_TAG.into(),
            value,
        }],
    )
    .await
}

pub async fn delete_tag(conn: &mut Conn, run_id: i64, run_uuid: &str, key: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM tags WHERE run_id = $1 AND key = $2")
        .bind(run_id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found(format!(
            "No tag with name: {key} in run with id {run_uuid}"
        )));
    }
    Ok(())
}

/// Which data columns a search returns: all of a kind, or only some keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    pub metrics: Selection,
    pub params: Selection,
    pub tags: Selection,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Selection {
    #[default]
    None,
    All,
    Keys(Vec<String>),
}

impl Selection {
    fn add(&mut self, key: &str) {
        if key == "*" {
            *self = Selection::All;
            return;
        }
        match self {
            Selection::All => {}
            Selection::None => *self = Selection::Keys(vec![key.to_owned()]),
            Selection::Keys(keys) => keys.push(key.to_owned()),
        }
    }
}

impl Columns {
    /// Parses the `columns` extension of search: `metrics.loss`, ``params.`a b` ``,
    /// `tags.*`. Attribute columns are accepted and need nothing: run info always comes.
    pub fn parse(columns: &[String]) -> Result<Self> {
        let mut out = Columns::default();
        for column in columns {
            let (kind, key) = column.split_once('.').ok_or_else(|| bad_column(column))?;
            let key = strip_quotes(key.trim());
            if key.is_empty() {
                return Err(bad_column(column));
            }
            match kind.trim().to_ascii_lowercase().as_str() {
                "metrics" | "metric" => out.metrics.add(key),
                "params" | "param" | "parameter" | "parameters" => out.params.add(key),
                "tags" | "tag" => out.tags.add(key),
                "attributes" | "attribute" | "attr" | "run" => {}
                _ => return Err(bad_column(column)),
            }
        }
        Ok(out)
    }
}

fn strip_quotes(key: &str) -> &str {
    for q in ['`', '"', '\''] {
        if key.len() >= 2 && key.starts_with(q) && key.ends_with(q) {
            return &key[1..key.len() - 1];
        }
    }
    key
}

fn bad_column(column: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid column '{column}' in 'columns': expected metrics.<key>, params.<key>, tags.<key> \
         (or metrics.*, params.*, tags.*)"
    ))
}

/// `SELECT key, value FROM params WHERE run_id = ? AND key IN (...)`: a run's stored
/// values of some params.
fn stored_params(run_id: i64, keys: &[String]) -> SelectStatement {
    let mut q = Query::select();
    q.columns(["key", "value"].map(Alias::new))
        .from(Alias::new("params"))
        .and_where(Expr::col(Alias::new("run_id")).eq(run_id))
        .and_where(Expr::expr(Expr::cust(KEY_ON_PRIMARY_KEY)).is_in(keys.iter().cloned()));
    q
}

/// The key column, written so that SQLite stays on the primary key (run_id, key): given a
/// list of runs and a bare `key IN`, it picked the (key, value) index and read every run's
/// rows of each key (a 10-key read over a page of a 50,000-run experiment took 0.5 s).
const KEY_ON_PRIMARY_KEY: &str = "(key || '')";

fn keys_of(selection: Option<&Selection>) -> Selected<&[String]> {
    match selection {
        None | Some(Selection::All) => Some(None),
        Some(Selection::None) => None,
        Some(Selection::Keys(keys)) => Some(Some(keys.as_slice())),
    }
}

/// Loads params, tags and latest metrics for many runs. `columns` restricts what is read.
/// Each run's pairs come back sorted by key.
pub async fn load(
    db: &Db,
    run_ids: &[i64],
    columns: Option<&Columns>,
) -> Result<HashMap<i64, RunData>> {
    let mut out: HashMap<i64, RunData> =
        run_ids.iter().map(|id| (*id, RunData::default())).collect();
    let selected = [
        keys_of(columns.map(|c| &c.params)),
        keys_of(columns.map(|c| &c.tags)),
        keys_of(columns.map(|c| &c.metrics)),
    ];
    if selected.iter().all(Option::is_none) {
        return Ok(out);
    }
    match &db.reads {
        Reads::Sqlite(reads) => {
            let selected = selected.map(|s| s.map(|keys| keys.map(<[String]>::to_vec)));
            let ids = run_ids.to_vec();
            let rows = reads
                .run(move |conn| sqlite_load(conn, &ids, &selected))
                .await?;
            for (run_id, data) in rows {
                out.insert(run_id, data);
            }
        }
        Reads::Postgres(pool) => postgres_load(pool, run_ids, &selected, &mut out).await?,
    }
    for data in out.values_mut() {
        data.params.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        data.tags.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        data.metrics.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(out)
}

/// The keys one kind reads: `None` none of them, `Some(None)` all, `Some(Some(keys))` those.
type Selected<K> = Option<Option<K>>;

/// The kinds read as key-value pairs: their table, and where a run's data keeps them.
const PAIR_KINDS: [(&str, fn(&mut RunData) -> &mut Vec<KeyValue>); 2] =
    [("params", |d| &mut d.params), ("tags", |d| &mut d.tags)];

/// On SQLite the rows are read directly as typed columns (`db::SqliteReads`): a statement
/// per kind, the runs (and keys) bound as one JSON array each so that every page size
/// shares one prepared statement.
fn sqlite_load(
    conn: &rusqlite::Connection,
    run_ids: &[i64],
    selected: &[Selected<Vec<String>>; 3],
) -> rusqlite::Result<HashMap<i64, RunData>> {
    let mut out: HashMap<i64, RunData> = HashMap::with_capacity(run_ids.len());
    let ids = serde_json::to_string(run_ids).map_err(json_bind)?;
    let [params, tags, metrics] = selected;
    for ((table, pairs), kind_keys) in PAIR_KINDS.into_iter().zip([params, tags]) {
        let Some(keys) = kind_keys else { continue };
        let mut statement = conn.prepare_cached(&sqlite_rows_sql(table, "key, value", keys))?;
        bind_ids_and_keys(&mut statement, &ids, keys)?;
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next()? {
            pairs(out.entry(row.get(0)?).or_default()).push(KeyValue {
                key: row.get(1)?,
                value: row.get(2)?,
            });
        }
    }
    if let Some(keys) = metrics {
        let sql = sqlite_rows_sql(
            "latest_metrics",
            "key, value, is_nan, timestamp, step",
            keys,
        );
        let mut statement = conn.prepare_cached(&sql)?;
        bind_ids_and_keys(&mut statement, &ids, keys)?;
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next()? {
            out.entry(row.get(0)?).or_default().metrics.push(Metric {
                key: row.get(1)?,
                value: loaded_value(row.get(2)?, row.get(3)?),
                timestamp: row.get(4)?,
                step: row.get(5)?,
                run_id: None,
            });
        }
    }
    Ok(out)
}

/// `SELECT run_id, <columns> FROM <table>` for the runs of a JSON array, and the keys of
/// another where some are selected. Both lists are walked on the primary key (run_id, key).
fn sqlite_rows_sql(table: &str, columns: &str, keys: &Option<Vec<String>>) -> String {
    let mut sql = format!(
        "SELECT run_id, {columns} FROM {table} WHERE run_id IN (SELECT value FROM json_each(?1))"
    );
    if keys.is_some() {
        sql += &format!(" AND {KEY_ON_PRIMARY_KEY} IN (SELECT value FROM json_each(?2))");
    }
    sql
}

fn bind_ids_and_keys(
    statement: &mut rusqlite::Statement<'_>,
    ids: &str,
    keys: &Option<Vec<String>>,
) -> rusqlite::Result<()> {
    statement.raw_bind_parameter(1, ids)?;
    if let Some(keys) = keys {
        statement.raw_bind_parameter(2, serde_json::to_string(keys).map_err(json_bind)?)?;
    }
    Ok(())
}

fn json_bind(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// On PostgreSQL the rows come through sqlx's own driver (`db::Reads`) as typed binary
/// columns, a statement per kind with the runs (and keys) bound as arrays, so every page
/// size shares one prepared statement.
async fn postgres_load(
    pool: &sqlx::PgPool,
    run_ids: &[i64],
    selected: &[Selected<&[String]>; 3],
    out: &mut HashMap<i64, RunData>,
) -> Result<()> {
    let [params, tags, metrics] = *selected;
    for ((table, pairs), kind_keys) in PAIR_KINDS.into_iter().zip([params, tags]) {
        let Some(keys) = kind_keys else { continue };
        let sql = postgres_rows_sql(table, "key, value", keys);
        let rows: Vec<(i64, String, String)> = bind_keys(sqlx::query_as(&sql).bind(run_ids), keys)
            .fetch_all(pool)
            .await?;
        for (run_id, key, value) in rows {
            if let Some(data) = out.get_mut(&run_id) {
                pairs(data).push(KeyValue { key, value });
            }
        }
    }
    if let Some(keys) = metrics {
        let sql = postgres_rows_sql(
            "latest_metrics",
            "key, value, is_nan, timestamp, step",
            keys,
        );
        let rows: Vec<(i64, String, f64, i64, i64, i64)> =
            bind_keys(sqlx::query_as(&sql).bind(run_ids), keys)
                .fetch_all(pool)
                .await?;
        for (run_id, key, value, is_nan, timestamp, step) in rows {
            if let Some(data) = out.get_mut(&run_id) {
                data.metrics.push(Metric {
                    key,
                    value: loaded_value(value, is_nan),
                    timestamp,
                    step,
                    run_id: None,
                });
            }
        }
    }
    Ok(())
}

/// `SELECT run_id, <columns> FROM <table>` for an array of runs, and of keys where some
/// are selected: both probe the primary key (run_id, key).
fn postgres_rows_sql(table: &str, columns: &str, keys: Option<&[String]>) -> String {
    let mut sql = format!("SELECT run_id, {columns} FROM {table} WHERE run_id = ANY($1)");
    if keys.is_some() {
        sql += " AND key = ANY($2)";
    }
    sql
}

fn bind_keys<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    keys: Option<&'q [String]>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    match keys {
        Some(keys) => query.bind(keys),
        None => query,
    }
}

/// The metric summaries (latest point, min, max, count) of some runs, optionally only
/// for some keys.
pub async fn summaries(
    db: &Db,
    run_ids: &[i64],
    keys: Option<&[String]>,
) -> Result<Vec<(i64, MetricSummary)>> {
    let mut q = Query::select();
    q.columns(
        [
            "run_id",
            "key",
            "value",
            "is_nan",
            "timestamp",
            "step",
            "min_value",
            "max_value",
            "count",
        ]
        .map(Alias::new),
    )
    .from(Alias::new("latest_metrics"))
    .and_where(Expr::col(Alias::new("run_id")).is_in(run_ids.iter().copied()));
    if let Some(keys) = keys {
        q.and_where(Expr::expr(Expr::cust(KEY_ON_PRIMARY_KEY)).is_in(keys.iter().cloned()));
    }
    q.order_by(Alias::new("key"), sea_query::Order::Asc);
    let (sql, values) = build(&q, db.backend);
    sqlx::query_with(&sql, values)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get(0)?,
                MetricSummary {
                    key: row.try_get(1)?,
                    last: loaded_value(row.try_get(2)?, row.try_get(3)?),
                    timestamp: row.try_get(4)?,
                    step: row.try_get(5)?,
                    min: row.try_get(6)?,
                    max: row.try_get(7)?,
                    count: row.try_get(8)?,
                },
            ))
        })
        .collect()
}
