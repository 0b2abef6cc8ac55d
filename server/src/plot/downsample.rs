//! Reading a metric history for a plot without loading it: a short history comes back
//! point by point, a long one as one row per pixel bucket (min, max, mean and count of
//! the values in it), grouped in SQL from the history's plot tiles (`store::tiles`). A
//! 1,000,000-point history thus costs a few thousand tile rows in the database and a few
//! hundred rows in memory.

use crate::db::Db;
use crate::error::Result;
use crate::store::tiles::{self, Axis};
use sqlx::Row;

/// Which column the x axis reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XColumn {
    Step,
    Timestamp,
}

impl XColumn {
    fn sql(self) -> &'static str {
        self.axis().column()
    }

    fn axis(self) -> Axis {
        match self {
            Self::Step => Axis::Step,
            Self::Timestamp => Axis::Timestamp,
        }
    }
}

/// One pixel bucket of a long history: the x range its points cover and their values.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub x_lo: i64,
    pub x_hi: i64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum History {
    /// Every finite point, `(x, value)` ordered by x.
    Points(Vec<(i64, f64)>),
    /// One entry per non-empty bucket, ordered by x.
    Buckets(Vec<Bucket>),
}

/// The width of each of `buckets` equal buckets covering `lo..=hi`: the smallest that
/// puts `hi` in the last bucket or before, so `(x - lo) / width` is always below
/// `buckets`.
pub fn bucket_width(lo: i64, hi: i64, buckets: usize) -> i64 {
    let span = (i128::from(hi) - i128::from(lo)).max(0);
    let width = span / (buckets.max(1) as i128) + 1;
    i64::try_from(width).unwrap_or(i64::MAX)
}

/// The bucket of `x`, as the SQL computes it (integer division, `x >= lo`).
pub fn bucket_of(x: i64, lo: i64, width: i64) -> i64 {
    (x - lo) / width
}

/// Exponential moving average with TensorBoard's debiasing (the first points are not
/// dragged towards zero); `weight` 0 returns the values unchanged.
pub fn smooth(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    if weight <= 0.0 {
        return points.to_vec();
    }
    let mut last = 0.0;
    let mut debias = 1.0;
    points
        .iter()
        .map(|&(x, y)| {
            last = last * weight + (1.0 - weight) * y;
            debias *= weight;
            (x, last / (1.0 - debias))
        })
        .collect()
}

/// Only finite values are drawn: NaN points are stored apart (`is_nan`), infinities are
/// left out by this range.
const FINITE: &str = "is_nan = 0 AND value >= $3 AND value <= $4";

/// The history of `key` in run `run` (internal id) along `x`: every point when there are
/// at most `raw_limit` (by the stored summary's count), else `buckets` buckets.
///
/// Buckets come from the coarsest level of plot tiles (`store::tiles`) whose tiles are no
/// wider than a bucket, so each bucket gathers one to sixteen tiles and at most about
/// 16 × `buckets` rows are read, however long the history. When even the finest tiles
/// are wider than a bucket (the history spans fewer than 256 × `buckets` steps or
/// milliseconds, so it holds at most that many points), the points themselves are
/// grouped. Either way the extent comes from the coarsest tiles: two index lookups.
pub async fn load(
    db: &Db,
    run: i64,
    key: &str,
    x: XColumn,
    total: i64,
    buckets: usize,
    raw_limit: i64,
) -> Result<History> {
    let col = x.sql();
    // Short histories have no tiles (`tiles::MIN_POINTS`): they come back point by point.
    if total <= raw_limit.max(tiles::MIN_POINTS) {
        let sql = format!(
            "SELECT {col}, value FROM metrics WHERE run_id = $1 AND key = $2 AND {FINITE} \
             ORDER BY {col}, timestamp, step, value"
        );
        let rows = sqlx::query(&sql)
            .bind(run)
            .bind(key)
            .bind(-f64::MAX)
            .bind(f64::MAX)
            .fetch_all(&db.pool)
            .await?;
        return Ok(History::Points(
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_>>()?,
        ));
    }
    let axis = x.axis();
    let top = tiles::LEVELS[tiles::LEVELS.len() - 1];
    let row = sqlx::query(
        "SELECT MIN(x_min), MAX(x_max) FROM metric_tiles \
         WHERE run_id = $1 AND key = $2 AND axis = $3 AND level = $4",
    )
    .bind(run)
    .bind(key)
    .bind(axis as i64)
    .bind(i64::from(top))
    .fetch_one(&db.pool)
    .await?;
    let (Some(lo), Some(hi)) = (
        row.try_get::<Option<i64>, _>(0)?,
        row.try_get::<Option<i64>, _>(1)?,
    ) else {
        return Ok(History::Buckets(Vec::new()));
    };
    let width = bucket_width(lo, hi, buckets);
    let level = tiles::LEVELS
        .iter()
        .rev()
        .find(|&&l| tiles::width(l) <= width);
    let rows = match level {
        Some(&level) => {
            sqlx::query(
                "SELECT (x_min - $5) / $6 AS bucket, MIN(x_min), MAX(x_max), MIN(v_min), \
                 MAX(v_max), SUM(v_sum), CAST(SUM(n) AS BIGINT) FROM metric_tiles \
                 WHERE run_id = $1 AND key = $2 AND axis = $3 AND level = $4 \
                 GROUP BY bucket ORDER BY bucket",
            )
            .bind(run)
            .bind(key)
            .bind(axis as i64)
            .bind(i64::from(level))
            .bind(lo)
            .bind(width)
            .fetch_all(&db.pool)
            .await?
        }
        None => {
            let sql = format!(
                "SELECT ({col} - $5) / $6 AS bucket, MIN({col}), MAX({col}), MIN(value), \
                 MAX(value), SUM(value), COUNT(*) FROM metrics \
                 WHERE run_id = $1 AND key = $2 AND {FINITE} GROUP BY bucket ORDER BY bucket"
            );
            sqlx::query(&sql)
                .bind(run)
                .bind(key)
                .bind(-f64::MAX)
                .bind(f64::MAX)
                .bind(lo)
                .bind(width)
                .fetch_all(&db.pool)
                .await?
        }
    };
    Ok(History::Buckets(
        rows.iter()
            .map(|r| {
                let (sum, count): (f64, i64) = (r.try_get(5)?, r.try_get(6)?);
                Ok(Bucket {
                    x_lo: r.try_get(1)?,
                    x_hi: r.try_get(2)?,
                    min: r.try_get(3)?,
                    max: r.try_get(4)?,
                    mean: sum / count as f64,
                    count,
                })
            })
            .collect::<Result<_>>()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_range_and_never_overflow_the_count() {
        for (lo, hi, n) in [
            (0, 999_999, 900),
            (0, 10, 900),
            (5, 5, 900),
            (-50, 50, 7),
            (1_700_000_000_000, 1_700_000_999_999, 870),
        ] {
            let w = bucket_width(lo, hi, n);
            assert!(w >= 1);
            assert_eq!(bucket_of(lo, lo, w), 0);
            assert!(bucket_of(hi, lo, w) < n as i64, "{lo}..{hi} in {n}");
        }
        // A million steps in 900 buckets: about 1,112 steps per bucket, all buckets used.
        let w = bucket_width(0, 999_999, 900);
        assert_eq!(w, 1112);
        assert_eq!(bucket_of(999_999, 0, w), 899);
        // Extreme ranges stay representable.
        assert!(bucket_width(i64::MIN, i64::MAX, 10) > 0);
    }

    #[test]
    fn short_ranges_get_one_bucket_per_value() {
        let w = bucket_width(0, 10, 900);
        assert_eq!(w, 1);
        let buckets: Vec<i64> = (0..=10).map(|x| bucket_of(x, 0, w)).collect();
        assert_eq!(buckets, (0..=10).collect::<Vec<_>>());
    }

    #[test]
    fn smoothing_is_a_debiased_moving_average() {
        let pts: Vec<(f64, f64)> = (0..5).map(|i| (f64::from(i), 1.0)).collect();
        // A constant stays constant (no pull towards zero at the start).
        for (_, y) in smooth(&pts, 0.9) {
            assert!((y - 1.0).abs() < 1e-12);
        }
        assert_eq!(smooth(&pts, 0.0), pts);
        let step = [(0.0, 0.0), (1.0, 10.0)];
        let s = smooth(&step, 0.5);
        // 0 then (0*0.5 + 10*0.5) / (1 - 0.25) = 6.67: between the two, nearer the new value.
        assert_eq!(s[0].1, 0.0);
        assert!((s[1].1 - 20.0 / 3.0).abs() < 1e-12);
        assert_eq!(s[1].0, 1.0);
    }
}
