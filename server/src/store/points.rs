//! Writing metric points and keeping each (run, key) summary and its plot tiles
//! (`store::tiles`) in step with them.
//!
//! Points go in as multi-row inserts and summaries as multi-row upserts, so a write of
//! any number of points, for any number of runs, costs a handful of statements. That is
//! what lets group commit turn 20,000 single-point calls a second into a few hundred
//! transactions of a few statements each.

use crate::db::{Backend, Conn};
use crate::error::{ApiError, Result};
use crate::store::{IN_CHUNK, Params, build, statement_chunks, tiles};
use sea_query::{Alias, Expr, Query};
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

/// Most rows in one insert: 6 parameters a row stays far below both databases' limits.
const MAX_ROWS: usize = 1024;

/// Writes points of one or more runs (internal ids), skipping ones already stored (a
/// retry), and folds them into the per-key summaries in the same transaction.
pub async fn log(conn: &mut Conn, points: &[(i64, &Point)]) -> Result<()> {
    if points.is_empty() {
        return Ok(());
    }
    let mut inserted = 0;
    // Each chunk is padded to a power of two rows by repeating its last point: the copies
    // conflict with it and are skipped (and not counted), so any number of points up to
    // `MAX_ROWS` is one statement of one of 11 shapes, each in the statement cache.
    for chunk in points.chunks(MAX_ROWS) {
        let rows = chunk.len().next_power_of_two();
        let sql = format!(
            "INSERT INTO metrics (run_id, key, timestamp, step, value, is_nan) VALUES {} ON CONFLICT DO NOTHING",
            Params::on(conn).rows(rows, 6)
        );
        let mut q = sqlx::query(&sql);
        let last = chunk[chunk.len() - 1];
        let padding = std::iter::repeat_n(&last, rows - chunk.len());
        for (run_id, p) in chunk.iter().chain(padding) {
            let (value, is_nan) = stored_value(p.value);
            q = q
                .bind(*run_id)
                .bind(&p.key)
                .bind(p.timestamp)
                .bind(p.step)
                .bind(value)
                .bind(is_nan);
        }
        inserted += q.execute(&mut *conn).await?.rows_affected();
    }
    // A point that was already stored is identical to the stored one, so it changes
    // neither the latest point nor min/max; only the counts must then be taken afresh.
    let mut summaries: HashMap<(i64, &str), Summary> = HashMap::new();
    for (run_id, p) in points {
        summaries
            .entry((*run_id, p.key.as_str()))
            .or_default()
            .add(p);
    }
    let recount = inserted != points.len() as u64;
    let mut rows: Vec<((i64, &str), Summary)> = summaries.into_iter().collect();
    if recount {
        for ((run_id, key), s) in &mut rows {
            s.count =
                sqlx::query_scalar("SELECT COUNT(*) FROM metrics WHERE run_id = $1 AND key = $2")
                    .bind(*run_id)
                    .bind(*key)
                    .fetch_one(&mut *conn)
                    .await?;
        }
    }
    let mut after: HashMap<(i64, String), i64> = HashMap::new();
    for chunk in statement_chunks(&rows, IN_CHUNK / 2) {
        after.extend(upsert_summaries(conn, chunk, recount).await?);
    }
    // The plot tiles, likewise, for histories long enough to have them: added to when
    // every point was new, rebuilt where touched after a retry, built whole when a
    // history grows past `tiles::MIN_POINTS` (or had none).
    let mut grow: Vec<(i64, &str)> = Vec::new();
    let mut whole: Vec<(i64, &str)> = Vec::new();
    for ((run_id, key), s) in &rows {
        let count = after.get(&(*run_id, key.to_string())).copied().unwrap_or(0);
        if count <= tiles::MIN_POINTS {
            continue;
        }
        let had = if recount {
            tiles::exist(conn, *run_id, key).await?
        } else {
            count - s.count > tiles::MIN_POINTS
        };
        if had {
            grow.push((*run_id, key));
        } else {
            whole.push((*run_id, key));
        }
    }
    if !grow.is_empty() {
        let touched: Vec<_> = tiles::summarise(points)
            .into_iter()
            .filter(|(k, _)| grow.contains(&(k.0, k.1)))
            .collect();
        if recount {
            tiles::recompute(conn, &touched).await?;
        } else {
            tiles::add(conn, &touched).await?;
        }
    }
    for (run_id, key) in whole {
        tiles::build(conn, run_id, key).await?;
    }
    Ok(())
}

/// The summary of the points one write adds for one (run, key).
#[derive(Default)]
struct Summary {
    /// (step, timestamp, stored value, is_nan) of the latest point by MLflow's rule.
    latest: Option<(i64, i64, f64, i64)>,
    min: Option<f64>,
    max: Option<f64>,
    count: i64,
}

impl Summary {
    fn add(&mut self, p: &Point) {
        let (value, is_nan) = stored_value(p.value);
        self.count += 1;
        let newer = match self.latest {
            None => true,
            Some((s, t, v, _)) => (p.step, p.timestamp)
                .cmp(&(s, t))
                .then(value.total_cmp(&v))
                .is_gt(),
        };
        if newer {
            self.latest = Some((p.step, p.timestamp, value, is_nan));
        }
        if is_nan == 0 {
            self.min = Some(self.min.map_or(value, |m| m.min(value)));
            self.max = Some(self.max.map_or(value, |m| m.max(value)));
        }
    }
}

/// Merges summaries into the stored ones: the latest point is replaced only by a
/// greater (step, timestamp, value), min/max ignore NaN, counts add up (or, after a
/// recount, are replaced). Each (run, key) appears once, as a multi-row upsert requires.
///
/// min/max are always bound as numbers with a flag saying whether they exist: sqlx 0.8's
/// Any driver sends a NULL double as a float4, and PostgreSQL would then keep float4 as
/// the parameter's type for the cached statement.
async fn upsert_summaries(
    conn: &mut Conn,
    rows: &[((i64, &str), Summary)],
    recount: bool,
) -> Result<Vec<((i64, String), i64)>> {
    const NEWER: &str = "(excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND \
        (excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = latest_metrics.timestamp \
        AND excluded.value > latest_metrics.value))))";
    let count = if recount {
        "excluded.count"
    } else {
        "latest_metrics.count + excluded.count"
    };
    // Bound per row, in this order: run_id, key, value, timestamp, step, is_nan, has_min,
    // min, has_min, max, count, run_id (again, for its experiment: a primary-key probe of a
    // row the write has just read, kept only when the summary is new).
    let mut p = Params::on(conn);
    let values: Vec<String> = (0..rows.len())
        .map(|_| {
            let plain = p.rows(1, 6);
            let plain = &plain[..plain.len() - 1];
            let (has_min, min, has_max, max, count, run) = (p.placeholder(), p.placeholder(), p.placeholder(), p.placeholder(), p.placeholder(), p.placeholder());
            format!(
                "{plain}, CASE WHEN {has_min} <> 0 THEN {min} END, CASE WHEN {has_max} <> 0 THEN {max} END, {count}, \
                 (SELECT experiment_id FROM runs WHERE id = {run}))"
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO latest_metrics (run_id, key, value, timestamp, step, is_nan, min_value, max_value, count, experiment_id) \
         VALUES {} \
         ON CONFLICT (run_id, key) DO UPDATE SET \
           value = CASE WHEN {NEWER} THEN excluded.value ELSE latest_metrics.value END, \
           timestamp = CASE WHEN {NEWER} THEN excluded.timestamp ELSE latest_metrics.timestamp END, \
           is_nan = CASE WHEN {NEWER} THEN excluded.is_nan ELSE latest_metrics.is_nan END, \
           step = CASE WHEN {NEWER} THEN excluded.step ELSE latest_metrics.step END, \
           min_value = CASE WHEN latest_metrics.min_value IS NULL OR excluded.min_value < latest_metrics.min_value \
                       THEN COALESCE(excluded.min_value, latest_metrics.min_value) ELSE latest_metrics.min_value END, \
           max_value = CASE WHEN latest_metrics.max_value IS NULL OR excluded.max_value > latest_metrics.max_value \
                       THEN COALESCE(excluded.max_value, latest_metrics.max_value) ELSE latest_metrics.max_value END, \
           count = {count} \
         RETURNING run_id, key, count",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for ((run_id, key), s) in rows {
        let Some((step, timestamp, value, is_nan)) = s.latest else {
            return Err(ApiError::internal("a metric summary without points"));
        };
        q = q
            .bind(*run_id)
            .bind(*key)
            .bind(value)
            .bind(timestamp)
            .bind(step)
            .bind(is_nan)
            .bind(i64::from(s.min.is_some()))
            .bind(s.min.unwrap_or(0.0))
            .bind(i64::from(s.min.is_some()))
            .bind(s.max.unwrap_or(0.0))
            .bind(s.count)
            .bind(*run_id);
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
        .collect()
}

/// The internal ids of runs that may be written to, by uuid, in one query per chunk: a
/// run that is missing or not active gets MLflow's error for it instead. Like
/// `runs::active_id`, it records the write for the reaper, one update for the runs whose
/// record is more than a minute old (usually none).
pub async fn active_ids(
    conn: &mut Conn,
    backend: Backend,
    uuids: &[&str],
) -> Result<HashMap<String, Result<i64>>> {
    let mut out = HashMap::new();
    let now = crate::store::now_ms();
    let mut stale = Vec::new();
    let mut distinct: Vec<&str> = uuids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for chunk in distinct.chunks(IN_CHUNK) {
        let mut q = Query::select();
        q.columns(["run_uuid", "id", "lifecycle_stage", "last_write_time"].map(Alias::new))
            .from(Alias::new("runs"))
            .and_where(
                Expr::col(Alias::new("run_uuid")).is_in(chunk.iter().map(|s| s.to_string())),
            );
        let (sql, values) = build(&q, backend);
        for row in sqlx::query_with(&sql, values).fetch_all(&mut *conn).await? {
            let uuid: String = row.try_get(0)?;
            let stage: String = row.try_get(2)?;
            let id = if stage == "active" {
                let id: i64 = row.try_get(1)?;
                if crate::store::runs::write_is_stale(row.try_get(3)?, now) {
                    stale.push(id);
                }
                Ok(id)
            } else {
                Err(crate::store::runs::not_active(&uuid, &stage))
            };
            out.insert(uuid, id);
        }
        for uuid in chunk {
            out.entry(uuid.to_string())
                .or_insert_with(|| Err(crate::store::runs::not_found(uuid)));
        }
    }
    if !stale.is_empty() {
        crate::store::runs::touch(conn, &stale, now).await?;
    }
    Ok(out)
}
