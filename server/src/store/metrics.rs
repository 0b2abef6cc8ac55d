//! Metric history reads: one key of one run in pages, and sampled or bulk reads across
//! runs for plots.

use crate::db::{Db, Reads, SqliteReads};
use crate::error::{ApiError, Result};
use crate::store::points::loaded_value;
use app::models::Metric;
use base64::Engine;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Where a history page ends: the last point's sort key. Seeking to it (rather than
/// skipping an offset) keeps every page as cheap as the first, however long the history.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryCursor {
    pub timestamp: i64,
    pub step: i64,
    #[serde(with = "app::models::json::f64_special")]
    pub value: f64,
    pub is_nan: i64,
}

impl HistoryCursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(token: &str) -> Result<Self> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| ApiError::invalid(format!("Invalid page token '{token}'.")))
    }
}

/// One page of a metric's history in MLflow's order (timestamp, step, value), and the
/// cursor of the next page if there is one.
pub async fn history(
    db: &Db,
    run_id: i64,
    key: &str,
    after: Option<HistoryCursor>,
    limit: Option<u64>,
) -> Result<(Vec<Metric>, Option<HistoryCursor>)> {
    // Without a limit, MLflow returns the whole history.
    let fetch = limit.map_or(i64::MAX, |l| l as i64 + 1);
    let points = page_points(db, run_id, key, after, fetch).await?;
    let more = limit.is_some_and(|l| points.len() as u64 > l);
    let mut page = Vec::with_capacity(points.len());
    let mut cursor = None;
    for (timestamp, step, value, is_nan) in points
        .into_iter()
        .take(limit.map_or(usize::MAX, |l| l as usize))
    {
        cursor = Some(HistoryCursor {
            timestamp,
            step,
            value,
            is_nan,
        });
        page.push(Metric {
            key: key.to_owned(),
            value: loaded_value(value, is_nan),
            timestamp,
            step,
            run_id: None,
        });
    }
    Ok((page, if more { cursor } else { None }))
}

/// A history's order (MLflow's: timestamp, step, value), which is also the points' key.
const HISTORY_ORDER: &str = "timestamp, step, value, is_nan";

/// The statement reading one page, valid on both backends: run `$1`, key `$2`, the
/// cursor's `$3`..`$6` when there is one, then the limit (`$7`, or `$3` without a cursor;
/// SQLite numbers `$n` parameters in order of appearance, which is the same here).
fn page_statement(after: Option<&HistoryCursor>) -> String {
    let (seek, limit) = match after {
        Some(_) => (
            "AND (timestamp, step, value, is_nan) > ($3, $4, $5, $6)",
            "$7",
        ),
        None => ("", "$3"),
    };
    format!(
        "SELECT {HISTORY_ORDER} FROM metrics WHERE run_id = $1 AND key = $2 {seek} \
         ORDER BY {HISTORY_ORDER} LIMIT {limit}"
    )
}

/// The points of one page as `(timestamp, step, stored value, is_nan)`, in history order.
async fn page_points(
    db: &Db,
    run_id: i64,
    key: &str,
    after: Option<HistoryCursor>,
    fetch: i64,
) -> Result<Vec<(i64, i64, f64, i64)>> {
    match &db.reads {
        Reads::Sqlite(reads) => sqlite_page(reads, run_id, key.to_owned(), after, fetch).await,
        Reads::Postgres(pool) => postgres_page(pool, run_id, key, after, fetch).await,
    }
}

/// On SQLite the page's rows are read directly, as typed columns (`db::SqliteReads`).
async fn sqlite_page(
    reads: &SqliteReads,
    run_id: i64,
    key: String,
    after: Option<HistoryCursor>,
    fetch: i64,
) -> Result<Vec<(i64, i64, f64, i64)>> {
    let sql = page_statement(after.as_ref());
    reads
        .run(move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            statement.raw_bind_parameter(1, run_id)?;
            statement.raw_bind_parameter(2, &key)?;
            let mut limit = 3;
            if let Some(c) = after {
                statement.raw_bind_parameter(3, c.timestamp)?;
                statement.raw_bind_parameter(4, c.step)?;
                statement.raw_bind_parameter(5, c.value)?;
                statement.raw_bind_parameter(6, c.is_nan)?;
                limit = 7;
            }
            statement.raw_bind_parameter(limit, fetch)?;
            let mut rows = statement.raw_query();
            let mut points = Vec::new();
            while let Some(row) = rows.next()? {
                points.push((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?));
            }
            Ok(points)
        })
        .await
}

/// On PostgreSQL the page comes through sqlx's own driver (`db::Reads`) as one row of four
/// binary arrays, one per column: no number is printed and parsed back, the values arrive
/// bit for bit, and a 10,000-point page is one row to send and decode instead of 10,000
/// (bench/PROFILE.md, "PostgreSQL history pages as arrays").
async fn postgres_page(
    pool: &sqlx::PgPool,
    run_id: i64,
    key: &str,
    after: Option<HistoryCursor>,
    fetch: i64,
) -> Result<Vec<(i64, i64, f64, i64)>> {
    // `array_agg` of an empty page is NULL, hence the empty arrays.
    let sql = format!(
        "SELECT COALESCE(array_agg(timestamp), '{{}}'), COALESCE(array_agg(step), '{{}}'), \
         COALESCE(array_agg(value), '{{}}'), COALESCE(array_agg(is_nan), '{{}}') FROM ({}) page",
        page_statement(after.as_ref())
    );
    let mut q = sqlx::query_as(&sql).bind(run_id).bind(key);
    if let Some(c) = after {
        q = q
            .bind(c.timestamp)
            .bind(c.step)
            .bind(c.value)
            .bind(c.is_nan);
    }
    let (timestamps, steps, values, nans): (Vec<i64>, Vec<i64>, Vec<f64>, Vec<i64>) =
        q.bind(fetch).fetch_one(pool).await?;
    let mut points: Vec<_> = timestamps
        .into_iter()
        .zip(steps)
        .zip(values)
        .zip(nans)
        .map(|(((t, s), v), n)| (t, s, v, n))
        .collect();
    in_history_order(&mut points);
    Ok(points)
}

/// PostgreSQL aggregates the page's rows in the order its subquery returns them, which is
/// the history's order in every plan it makes for this statement, but the order an
/// aggregate sees is not promised. So the order is checked, one pass, and restored if
/// ever it is not the history's.
fn in_history_order(points: &mut [(i64, i64, f64, i64)]) {
    let order = |a: &(i64, i64, f64, i64), b: &(i64, i64, f64, i64)| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.cmp(&b.3))
    };
    if !points.is_sorted_by(|a, b| order(a, b).is_le()) {
        points.sort_by(order);
    }
}

/// Up to `max` steps spread evenly over `steps`, always keeping the first and the last.
pub fn sample_steps(steps: &[i64], max: usize) -> Vec<i64> {
    if steps.len() <= max || max == 0 {
        return steps.to_vec();
    }
    if max == 1 {
        return vec![steps[0]];
    }
    let n = steps.len() - 1;
    let mut out: Vec<i64> = (0..max)
        .map(|i| steps[(i * n + (max - 1) / 2) / (max - 1)])
        .collect();
    out.dedup();
    out
}

/// `get-history-bulk-interval`: for each run, given as (internal id, uuid) and in the order
/// given, the points of `key` at up to `max` steps spread evenly over those it has within
/// `range`, ordered by step, then timestamp and value.
///
/// Each run's distinct steps are read (and sampled) one run at a time, so that memory holds
/// one run's steps, never all runs'; then one statement streams all the runs' points in the
/// range, and those at the chosen steps are kept. The points' key has no index by step, so
/// reading a run's points at a few steps would walk its whole history anyway.
pub async fn sampled(
    db: &Db,
    runs: &[(i64, &str)],
    key: &str,
    range: Option<(i64, i64)>,
    max: usize,
) -> Result<Vec<Metric>> {
    let (start, end) = range.unwrap_or((i64::MIN, i64::MAX));
    let mut ids: Vec<i64> = runs.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let in_range = "key = $2 AND step >= $3 AND step <= $4";
    let mut points = match &db.reads {
        Reads::Sqlite(reads) => {
            let key = key.to_owned();
            reads
                .run(move |conn| {
                    // Both statements take the runs ($1), then the key and the range.
                    let bind = |statement: &mut rusqlite::CachedStatement<'_>,
                                runs: &dyn rusqlite::ToSql| {
                        statement.raw_bind_parameter(1, runs)?;
                        statement.raw_bind_parameter(2, &key)?;
                        statement.raw_bind_parameter(3, start)?;
                        statement.raw_bind_parameter(4, end)
                    };
                    let mut wanted = HashSet::new();
                    let mut statement = conn.prepare_cached(&format!(
                        "SELECT DISTINCT step FROM metrics WHERE run_id = $1 AND {in_range} ORDER BY step"
                    ))?;
                    for &id in &ids {
                        bind(&mut statement, &id)?;
                        let mut steps = Vec::new();
                        let mut rows = statement.raw_query();
                        while let Some(row) = rows.next()? {
                            steps.push(row.get(0)?);
                        }
                        choose(id, &steps, max, &mut wanted);
                    }
                    let mut statement = conn.prepare_cached(&format!(
                        "SELECT run_id, timestamp, step, value, is_nan FROM metrics \
                         WHERE run_id IN (SELECT value FROM json_each($1)) AND {in_range}"
                    ))?;
                    let ids = serde_json::to_string(&ids)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                    bind(&mut statement, &ids)?;
                    let mut points = Points::new();
                    let mut rows = statement.raw_query();
                    while let Some(row) = rows.next()? {
                        let (run_id, step) = (row.get(0)?, row.get(2)?);
                        if wanted.contains(&(run_id, step)) {
                            let point = (row.get(1)?, step, row.get(3)?, row.get(4)?);
                            points.entry(run_id).or_default().push(point);
                        }
                    }
                    Ok(points)
                })
                .await?
        }
        Reads::Postgres(pool) => {
            // One statement, ordered by run, streamed: one run's steps at a time here.
            let mut wanted = HashSet::new();
            let sql = format!(
                "SELECT DISTINCT run_id, step FROM metrics WHERE run_id = ANY($1) AND {in_range} \
                 ORDER BY run_id, step"
            );
            let mut rows = postgres_in_range::<(i64, i64)>(&sql, &ids, key, start, end).fetch(pool);
            let mut run: Option<(i64, Vec<i64>)> = None;
            while let Some((run_id, step)) = rows.try_next().await? {
                match &mut run {
                    Some((id, steps)) if *id == run_id => steps.push(step),
                    _ => {
                        if let Some((id, steps)) = run.replace((run_id, vec![step])) {
                            choose(id, &steps, max, &mut wanted);
                        }
                    }
                }
            }
            drop(rows); // gives its connection back before the next statement
            if let Some((id, steps)) = run {
                choose(id, &steps, max, &mut wanted);
            }
            let sql = format!(
                "SELECT run_id, timestamp, step, value, is_nan FROM metrics \
                 WHERE run_id = ANY($1) AND {in_range}"
            );
            let mut rows =
                postgres_in_range::<(i64, i64, i64, f64, i64)>(&sql, &ids, key, start, end)
                    .fetch(pool);
            let mut points = Points::new();
            while let Some((run_id, timestamp, step, value, is_nan)) = rows.try_next().await? {
                if wanted.contains(&(run_id, step)) {
                    let point = (timestamp, step, value, is_nan);
                    points.entry(run_id).or_default().push(point);
                }
            }
            points
        }
    };
    for run_points in points.values_mut() {
        run_points.sort_unstable_by(|a, b| {
            (a.1, a.0)
                .cmp(&(b.1, b.0))
                .then(a.2.total_cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
    }
    let mut out = Vec::new();
    for (run_id, uuid) in runs {
        let run_points = points.get(run_id).map_or(&[][..], Vec::as_slice);
        out.extend(
            run_points
                .iter()
                .map(|&(timestamp, step, value, is_nan)| Metric {
                    key: key.to_owned(),
                    value: loaded_value(value, is_nan),
                    timestamp,
                    step,
                    run_id: Some((*uuid).to_owned()),
                }),
        );
    }
    Ok(out)
}

/// A statement of `sampled` on PostgreSQL with its parameters bound: the runs ($1), then
/// the key and the range.
fn postgres_in_range<'q, O>(
    sql: &'q str,
    ids: &'q [i64],
    key: &'q str,
    start: i64,
    end: i64,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    sqlx::query_as(sql)
        .bind(ids)
        .bind(key)
        .bind(start)
        .bind(end)
}

/// Points by run, each as `(timestamp, step, stored value, is_nan)`.
type Points = HashMap<i64, Vec<(i64, i64, f64, i64)>>;

/// Adds the steps sampled from one run's `steps` (ascending) to `wanted`.
fn choose(run_id: i64, steps: &[i64], max: usize, wanted: &mut HashSet<(i64, i64)>) {
    wanted.extend(
        sample_steps(steps, max)
            .into_iter()
            .map(|step| (run_id, step)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_first_and_last_and_spreads_evenly() {
        let steps: Vec<i64> = (0..100).collect();
        let s = sample_steps(&steps, 5);
        assert_eq!(s.first(), Some(&0));
        assert_eq!(s.last(), Some(&99));
        assert_eq!(s.len(), 5);
        assert_eq!(sample_steps(&steps[..3], 5), vec![0, 1, 2]);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = HistoryCursor {
            timestamp: 5,
            step: 2,
            value: 1.5,
            is_nan: 0,
        };
        assert_eq!(HistoryCursor::decode(&c.encode()).unwrap(), c);
        assert!(HistoryCursor::decode("not a token").is_err());
    }

    #[test]
    fn a_page_out_of_order_is_put_back_in_history_order() {
        let sorted = vec![
            (1, 0, -1.0, 0),
            (1, 0, 0.5, 0),
            (1, 1, 0.0, 1),
            (2, 0, 3.0, 0),
        ];
        let mut page = vec![sorted[3], sorted[1], sorted[0], sorted[2]];
        in_history_order(&mut page);
        assert_eq!(page, sorted);
        let mut already = sorted.clone();
        in_history_order(&mut already);
        assert_eq!(already, sorted);
    }
}
