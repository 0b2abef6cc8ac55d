//! A run's data: params, tags and metrics (points plus the per-key summary), written in
//! bulk and read back for many runs at once.

use crate::db::{Backend, Conn, Db};
use crate::error::{ApiError, Result};
use crate::store::{IN_CHUNK, build, runs::RUN_NAME_TAG};
use app::models::{KeyValue, Metric, MetricSummary, RunData};
use sea_query::{Alias, Expr, OnConflict, Query, SelectStatement};
use sqlx::Row;
use std::collections::HashMap;

/// A metric point to write; `value` may be NaN or infinite.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

/// The stored form of a value: SQLite cannot store NaN, so it becomes 0 with a flag.
pub fn stored_value(v: f64) -> (f64, i64) {
    if v.is_nan() { (0.0, 1) } else { (v, 0) }
}

/// Reads a stored value back.
pub fn loaded_value(value: f64, is_nan: i64) -> f64 {
    if is_nan != 0 { f64::NAN } else { value }
}

/// Writes points, skipping ones already stored (a retry), and folds the new ones into the
/// per-key summary in the same transaction.
pub async fn log_metrics(
    conn: &mut Conn,
    backend: Backend,
    run_id: i64,
    points: &[Point],
) -> Result<()> {
    for chunk in points.chunks(1000) {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("metrics"))
            .columns(["run_id", "key", "timestamp", "step", "value", "is_nan"].map(Alias::new))
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .returning(
                Query::returning()
                    .columns(["key", "timestamp", "step", "value", "is_nan"].map(Alias::new)),
            );
        for p in chunk {
            let (value, is_nan) = stored_value(p.value);
            insert
                .values([
                    run_id.into(),
                    p.key.clone().into(),
                    p.timestamp.into(),
                    p.step.into(),
                    value.into(),
                    is_nan.into(),
                ])
                .map_err(|e| ApiError::internal(e.to_string()))?;
        }
        let (sql, values) = build(&insert, backend);
        let inserted = sqlx::query_with(&sql, values).fetch_all(&mut *conn).await?;
        let mut summaries: HashMap<String, Summary> = HashMap::new();
        for row in &inserted {
            let key: String = row.try_get(0)?;
            let point = (
                row.try_get::<i64, _>(2)?,
                row.try_get::<i64, _>(1)?,
                row.try_get::<f64, _>(3)?,
            );
            let is_nan: i64 = row.try_get(4)?;
            summaries
                .entry(key)
                .or_insert_with(Summary::default)
                .add(point, is_nan);
        }
        for (key, s) in summaries {
            upsert_summary(conn, run_id, &key, &s).await?;
        }
    }
    Ok(())
}

/// The summary of the points one write adds for one key.
#[derive(Default)]
struct Summary {
    /// (step, timestamp, stored value, is_nan) of the latest point by MLflow's rule.
    latest: Option<(i64, i64, f64, i64)>,
    min: Option<f64>,
    max: Option<f64>,
    count: i64,
}

impl Summary {
    fn add(&mut self, (step, timestamp, value): (i64, i64, f64), is_nan: i64) {
        self.count += 1;
        let newer = match self.latest {
            None => true,
            Some((s, t, v, _)) => (step, timestamp)
                .cmp(&(s, t))
                .then(value.total_cmp(&v))
                .is_gt(),
        };
        if newer {
            self.latest = Some((step, timestamp, value, is_nan));
        }
        if is_nan == 0 {
            self.min = Some(self.min.map_or(value, |m| m.min(value)));
            self.max = Some(self.max.map_or(value, |m| m.max(value)));
        }
    }
}

/// Merges a write's summary into the stored one: the latest point is replaced only by a
/// greater (step, timestamp, value), min/max ignore NaN, counts add up.
///
/// min/max are always bound as numbers with a flag saying whether they exist: sqlx 0.8's
/// Any driver sends a NULL double as a float4, and PostgreSQL would then keep float4 as
/// the parameter's type for the cached statement.
async fn upsert_summary(conn: &mut Conn, run_id: i64, key: &str, s: &Summary) -> Result<()> {
    let Some((step, timestamp, value, is_nan)) = s.latest else {
        return Ok(());
    };
    const NEWER: &str = "(excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND \
        (excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = latest_metrics.timestamp \
        AND excluded.value > latest_metrics.value))))";
    let sql = format!(
        "INSERT INTO latest_metrics (run_id, key, value, timestamp, step, is_nan, min_value, max_value, count) \
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $10 <> 0 THEN $7 END, CASE WHEN $10 <> 0 THEN $8 END, $9) \
         ON CONFLICT (run_id, key) DO UPDATE SET \
           value = CASE WHEN {NEWER} THEN excluded.value ELSE latest_metrics.value END, \
           timestamp = CASE WHEN {NEWER} THEN excluded.timestamp ELSE latest_metrics.timestamp END, \
           is_nan = CASE WHEN {NEWER} THEN excluded.is_nan ELSE latest_metrics.is_nan END, \
           step = CASE WHEN {NEWER} THEN excluded.step ELSE latest_metrics.step END, \
           min_value = CASE WHEN latest_metrics.min_value IS NULL OR excluded.min_value < latest_metrics.min_value \
                       THEN COALESCE(excluded.min_value, latest_metrics.min_value) ELSE latest_metrics.min_value END, \
           max_value = CASE WHEN latest_metrics.max_value IS NULL OR excluded.max_value > latest_metrics.max_value \
                       THEN COALESCE(excluded.max_value, latest_metrics.max_value) ELSE latest_metrics.max_value END, \
           count = latest_metrics.count + excluded.count"
    );
    sqlx::query(&sql)
        .bind(run_id)
        .bind(key)
        .bind(value)
        .bind(timestamp)
        .bind(step)
        .bind(is_nan)
        .bind(s.min.unwrap_or(0.0))
        .bind(s.max.unwrap_or(0.0))
        .bind(s.count)
        .bind(i64::from(s.min.is_some()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

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
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .returning(Query::returning().column(Alias::new("key")));
        for p in chunk {
            insert
                .values([run_id.into(), p.key.clone().into(), p.value.clone().into()])
                .map_err(|e| ApiError::internal(e.to_string()))?;
        }
        let (sql, values) = build(&insert, backend);
        let inserted: Vec<String> = sqlx::query_scalar_with(&sql, values)
            .fetch_all(&mut *conn)
            .await?;
        if inserted.len() == chunk.len() {
            continue;
        }
        let existing: Vec<&KeyValue> = chunk
            .iter()
            .filter(|p| !inserted.contains(&p.key))
            .collect();
        let keys: Vec<String> = existing.iter().map(|p| p.key.clone()).collect();
        let (sql, values) = build(
            &key_values(Alias::new("params"), &[run_id], Some(&keys)),
            backend,
        );
        let stored: HashMap<String, String> = sqlx::query_with(&sql, values)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_>>()?;
        for p in existing {
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
    // One statement per tag: a multi-row upsert may not touch a row twice on PostgreSQL,
    // and tag writes are few.
    for tag in tags {
        sqlx::query(
            "INSERT INTO tags (run_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(run_id)
        .bind(&tag.key)
        .bind(&tag.value)
        .execute(&mut *conn)
        .await?;
        if tag.key == RUN_NAME_TAG {
            sqlx::query("UPDATE runs SET name = $1 WHERE id = $2")
                .bind(&tag.value)
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
        }
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

/// `SELECT run_id, key, value FROM <table> WHERE run_id IN (...) [AND key IN (...)]`.
fn key_values(table: Alias, run_ids: &[i64], keys: Option<&[String]>) -> SelectStatement {
    let mut q = Query::select();
    q.columns(["run_id", "key", "value"].map(Alias::new))
        .from(table)
        .and_where(Expr::col(Alias::new("run_id")).is_in(run_ids.iter().copied()));
    if let Some(keys) = keys {
        q.and_where(Expr::col(Alias::new("key")).is_in(keys.iter().cloned()));
    }
    q.order_by(Alias::new("key"), sea_query::Order::Asc);
    q
}

fn keys_of(selection: Option<&Selection>) -> Option<Option<&[String]>> {
    match selection {
        None | Some(Selection::All) => Some(None),
        Some(Selection::None) => None,
        Some(Selection::Keys(keys)) => Some(Some(keys.as_slice())),
    }
}

/// Loads params, tags and latest metrics for many runs, a few queries per chunk of runs
/// whatever their number. `columns` restricts what is read.
pub async fn load(
    db: &Db,
    run_ids: &[i64],
    columns: Option<&Columns>,
) -> Result<HashMap<i64, RunData>> {
    let mut out: HashMap<i64, RunData> =
        run_ids.iter().map(|id| (*id, RunData::default())).collect();
    for chunk in run_ids.chunks(IN_CHUNK) {
        for (table, selection) in [
            ("params", columns.map(|c| &c.params)),
            ("tags", columns.map(|c| &c.tags)),
        ] {
            let Some(keys) = keys_of(selection) else {
                continue;
            };
            let (sql, values) = build(&key_values(Alias::new(table), chunk, keys), db.backend);
            for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
                let kv = KeyValue {
                    key: row.try_get(1)?,
                    value: row.try_get(2)?,
                };
                if let Some(data) = out.get_mut(&row.try_get::<i64, _>(0)?) {
                    if table == "params" {
                        data.params.push(kv)
                    } else {
                        data.tags.push(kv)
                    }
                }
            }
        }
        let Some(keys) = keys_of(columns.map(|c| &c.metrics)) else {
            continue;
        };
        for (run_id, summary) in summaries(db, chunk, keys).await? {
            if let Some(data) = out.get_mut(&run_id) {
                let value = summary.last;
                data.metrics.push(Metric {
                    key: summary.key,
                    value,
                    timestamp: summary.timestamp,
                    step: summary.step,
                    run_id: None,
                });
            }
        }
    }
    Ok(out)
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
        q.and_where(Expr::col(Alias::new("key")).is_in(keys.iter().cloned()));
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
