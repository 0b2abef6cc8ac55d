//! Metric tiles: a multi-resolution summary of each history, kept in step with the points.
//!
//! For each (run, key), each x axis (step, timestamp) and each level `k` in [`LEVELS`],
//! a tile covers the x range `[t * 16^k, (t + 1) * 16^k)` and holds the x extent, min,
//! max, sum and count of the finite values logged in it. Tiles are written in the same
//! transaction as the points (so they always agree with the history, also after a
//! `kill -9`), as one multi-row upsert per write; they go with the run (`ON DELETE
//! CASCADE`). A plot of a 1,000,000-point history then reads a few thousand tiles instead
//! of sorting a million points (`plot::downsample`).

use crate::db::Conn;
use crate::error::Result;
use crate::store::{Params, statement_chunks};
use std::collections::HashMap;

/// The levels kept: tile widths 16^2 = 256 up to 16^7 = 268,435,456 (steps, or
/// milliseconds: about three days). A plot reads the coarsest level whose tiles fit in
/// a pixel bucket: at most 16 tiles a bucket for spans up to 16^8 buckets' worth (4e12
/// over 900 buckets: 120 years of milliseconds). The migration that created the table
/// back-fills these same levels.
pub const LEVELS: [u32; 6] = [2, 3, 4, 5, 6, 7];

/// Histories of at most this many points have no tiles: a plot draws them point by
/// point (`plot::RAW_LIMIT` is above it), and most histories are that short, so their
/// writes skip the tiles. A history's tiles are built from its points when it grows past.
pub const MIN_POINTS: i64 = 1024;

/// The axis a tile is cut along; its number is the `axis` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    Step = 0,
    Timestamp = 1,
}

impl Axis {
    pub const BOTH: [Axis; 2] = [Axis::Step, Axis::Timestamp];

    /// The `metrics` column this axis reads.
    pub fn column(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::Timestamp => "timestamp",
        }
    }
}

/// The width of a tile at `level`.
pub fn width(level: u32) -> i64 {
    1 << (4 * level)
}

/// The index of the tile of `x` at `level`: `x / 16^level` rounded down (an arithmetic
/// shift, so also for negative x).
pub fn tile_of(x: i64, level: u32) -> i64 {
    x >> (4 * level)
}

/// `floor(x / w)` in SQL (both databases truncate integer division towards zero),
/// without overflow at the ends of the i64 range.
pub fn tile_sql(x: &str, w: i64) -> String {
    format!("(CASE WHEN {x} >= 0 THEN {x} / {w} ELSE ({x} + 1) / {w} - 1 END)")
}

/// Only finite values are summarised (plots draw only those).
pub const FINITE_SQL: &str =
    "is_nan = 0 AND value >= -1.7976931348623157e308 AND value <= 1.7976931348623157e308";

/// The summary of the points of one tile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tile {
    pub x_min: i64,
    pub x_max: i64,
    pub v_min: f64,
    pub v_max: f64,
    pub v_sum: f64,
    pub n: i64,
}

impl Tile {
    fn of(x: i64, v: f64) -> Self {
        Self {
            x_min: x,
            x_max: x,
            v_min: v,
            v_max: v,
            v_sum: v,
            n: 1,
        }
    }

    fn add(&mut self, x: i64, v: f64) {
        self.merge(&Self::of(x, v));
    }

    fn merge(&mut self, o: &Tile) {
        self.x_min = self.x_min.min(o.x_min);
        self.x_max = self.x_max.max(o.x_max);
        self.v_min = self.v_min.min(o.v_min);
        self.v_max = self.v_max.max(o.v_max);
        self.v_sum += o.v_sum;
        self.n += o.n;
    }
}

/// (run, key, axis, level, tile index).
type TileKey<'a> = (i64, &'a str, Axis, u32, i64);

/// The tiles a set of new points adds to, with their contribution.
///
/// This runs in the writer for every write, so it avoids a hash lookup per point and
/// level: consecutive points of a history usually fall in the same tile, and each (axis,
/// level) keeps its current tile open until a point falls elsewhere.
pub fn summarise<'a>(points: &[(i64, &'a super::points::Point)]) -> Vec<(TileKey<'a>, Tile)> {
    type Open<'a> = Option<(TileKey<'a>, Tile)>;
    let mut tiles: HashMap<TileKey<'a>, Tile> = HashMap::new();
    let mut open: [[Open<'a>; LEVELS.len()]; 2] = Default::default();
    let close = |tiles: &mut HashMap<TileKey<'a>, Tile>, (key, t): (TileKey<'a>, Tile)| {
        tiles.entry(key).and_modify(|s| s.merge(&t)).or_insert(t);
    };
    for (run, p) in points {
        if !p.value.is_finite() {
            continue;
        }
        for (a, axis) in Axis::BOTH.into_iter().enumerate() {
            let x = match axis {
                Axis::Step => p.step,
                Axis::Timestamp => p.timestamp,
            };
            for (l, level) in LEVELS.into_iter().enumerate() {
                let tile = tile_of(x, level);
                match &mut open[a][l] {
                    Some((k, t)) if k.4 == tile && k.0 == *run && k.1 == p.key => t.add(x, p.value),
                    slot => {
                        let fresh = (
                            (*run, p.key.as_str(), axis, level, tile),
                            Tile::of(x, p.value),
                        );
                        if let Some(done) = slot.replace(fresh) {
                            close(&mut tiles, done);
                        }
                    }
                }
            }
        }
    }
    for slot in open.iter_mut().flatten() {
        if let Some(done) = slot.take() {
            close(&mut tiles, done);
        }
    }
    let mut out: Vec<_> = tiles.into_iter().collect();
    // A stable order: concurrent writers (PostgreSQL) lock tiles in the same order.
    out.sort_unstable_by(|a, b| {
        (a.0.0, a.0.1, a.0.2 as u8, a.0.3, a.0.4).cmp(&(b.0.0, b.0.1, b.0.2 as u8, b.0.3, b.0.4))
    });
    out
}

/// Folds the tiles of points that were all newly stored into the stored tiles.
pub async fn add(conn: &mut Conn, tiles: &[(TileKey<'_>, Tile)]) -> Result<()> {
    const MERGE: &str = "x_min = CASE WHEN excluded.x_min < metric_tiles.x_min THEN excluded.x_min ELSE metric_tiles.x_min END, \
         x_max = CASE WHEN excluded.x_max > metric_tiles.x_max THEN excluded.x_max ELSE metric_tiles.x_max END, \
         v_min = CASE WHEN excluded.v_min < metric_tiles.v_min THEN excluded.v_min ELSE metric_tiles.v_min END, \
         v_max = CASE WHEN excluded.v_max > metric_tiles.v_max THEN excluded.v_max ELSE metric_tiles.v_max END, \
         v_sum = metric_tiles.v_sum + excluded.v_sum, \
         n = metric_tiles.n + excluded.n";
    // 11 parameters a row: 512 rows stay far below both databases' limits.
    for chunk in statement_chunks(tiles, 512) {
        let sql = format!(
            "INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n) \
             VALUES {} ON CONFLICT (run_id, key, axis, level, tile) DO UPDATE SET {MERGE}",
            Params::on(conn).rows(chunk.len(), 11)
        );
        let mut q = sqlx::query(&sql);
        for ((run, key, axis, level, tile), t) in chunk {
            q = q
                .bind(*run)
                .bind(*key)
                .bind(*axis as i64)
                .bind(i64::from(*level))
                .bind(*tile)
                .bind(t.x_min)
                .bind(t.x_max)
                .bind(t.v_min)
                .bind(t.v_max)
                .bind(t.v_sum)
                .bind(t.n);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Whether the history has tiles.
pub async fn exist(conn: &mut Conn, run: i64, key: &str) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT run_id FROM metric_tiles WHERE run_id = $1 AND key = $2 LIMIT 1",
    )
    .bind(run)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Builds all tiles of a history from its points (it just grew past [`MIN_POINTS`]).
pub async fn build(conn: &mut Conn, run: i64, key: &str) -> Result<()> {
    for axis in Axis::BOTH {
        for level in LEVELS {
            rebuild(
                conn,
                (run, key, axis, level),
                tile_of(i64::MIN, level),
                tile_of(i64::MAX, level),
            )
            .await?;
        }
    }
    Ok(())
}

/// Recomputes the given tiles from the stored points: after a write in which some points
/// were already stored (a retry), when it is not known which ones were new. Per (run,
/// key, axis, level), the tiles between the first and last touched are rebuilt with one
/// grouped read of that x range (an index range on the timestamp axis, a scan of the
/// history on the step axis; retries are rare).
pub async fn recompute(conn: &mut Conn, tiles: &[(TileKey<'_>, Tile)]) -> Result<()> {
    let mut ranges: HashMap<(i64, &str, Axis, u32), (i64, i64)> = HashMap::new();
    for ((run, key, axis, level, tile), _) in tiles {
        ranges
            .entry((*run, *key, *axis, *level))
            .and_modify(|r| *r = (r.0.min(*tile), r.1.max(*tile)))
            .or_insert((*tile, *tile));
    }
    let mut ranges: Vec<_> = ranges.into_iter().collect();
    ranges.sort_unstable_by(|a, b| {
        (a.0.0, a.0.1, a.0.2 as u8, a.0.3).cmp(&(b.0.0, b.0.1, b.0.2 as u8, b.0.3))
    });
    for (history, (first, last)) in ranges {
        rebuild(conn, history, first, last).await?;
    }
    Ok(())
}

/// Replaces the tiles `first..=last` of one history, axis and level by a grouped read of
/// the points in their x range.
async fn rebuild(
    conn: &mut Conn,
    (run, key, axis, level): (i64, &str, Axis, u32),
    first: i64,
    last: i64,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM metric_tiles WHERE run_id = $1 AND key = $2 AND axis = $3 \
         AND level = $4 AND tile >= $5 AND tile <= $6",
    )
    .bind(run)
    .bind(key)
    .bind(axis as i64)
    .bind(i64::from(level))
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    let w = width(level);
    let col = axis.column();
    let sql = format!(
        "INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n) \
         SELECT run_id, key, {a}, {level}, {tile}, MIN({col}), MAX({col}), MIN(value), MAX(value), SUM(value), COUNT(*) \
         FROM metrics WHERE run_id = $1 AND key = $2 AND {col} >= $3 AND {col} <= $4 AND {FINITE_SQL} \
         GROUP BY run_id, key, {tile}",
        a = axis as i64,
        tile = tile_sql(col, w),
    );
    sqlx::query(&sql)
        .bind(run)
        .bind(key)
        .bind(first.saturating_mul(w))
        .bind(last.saturating_add(1).saturating_mul(w).saturating_sub(1))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::points::Point;

    #[test]
    fn tiles_round_down_also_below_zero() {
        assert_eq!(tile_of(0, 2), 0);
        assert_eq!(tile_of(255, 2), 0);
        assert_eq!(tile_of(256, 2), 1);
        assert_eq!(tile_of(-1, 2), -1);
        assert_eq!(tile_of(-256, 2), -1);
        assert_eq!(tile_of(-257, 2), -2);
        assert_eq!(tile_of(i64::MIN, 7), i64::MIN / width(7));
        assert_eq!(tile_of(i64::MAX, 7), i64::MAX / width(7));
        for x in [-1_000_001_i64, -4097, -1, 0, 4095, 4096, 987_654_321] {
            for level in LEVELS {
                assert_eq!(
                    tile_of(x, level),
                    x.div_euclid(16_i64.pow(level)),
                    "{x} {level}"
                );
            }
        }
    }

    #[test]
    fn a_write_is_summarised_per_tile_and_level_without_non_finite_values() {
        let pts: Vec<Point> = (0..300)
            .map(|s| Point {
                key: "m".into(),
                value: if s == 7 {
                    f64::NAN
                } else if s == 8 {
                    f64::INFINITY
                } else {
                    s as f64
                },
                timestamp: 1_000 + s,
                step: s,
            })
            .collect();
        let refs: Vec<(i64, &Point)> = pts.iter().map(|p| (1, p)).collect();
        let tiles = summarise(&refs);
        let step2: Vec<_> = tiles
            .iter()
            .filter(|(k, _)| k.2 == Axis::Step && k.3 == 2)
            .collect();
        assert_eq!(step2.len(), 2, "steps 0..=255 and 256..=299");
        let first = step2[0].1;
        assert_eq!((first.x_min, first.x_max, first.n), (0, 255, 254));
        assert_eq!((first.v_min, first.v_max), (0.0, 255.0));
        assert_eq!(first.v_sum, (0..256).sum::<i64>() as f64 - 15.0);
        // Points of two keys interleaved and out of order merge into the same tiles.
        let mixed: Vec<Point> = pts
            .iter()
            .rev()
            .flat_map(|p| {
                [
                    p.clone(),
                    Point {
                        key: "other".into(),
                        ..p.clone()
                    },
                ]
            })
            .collect();
        let refs: Vec<(i64, &Point)> = mixed.iter().map(|p| (1, p)).collect();
        let both = summarise(&refs);
        let mine: Vec<_> = both.iter().filter(|(k, _)| k.1 == "m").cloned().collect();
        let mut expected = tiles.clone();
        for (_, t) in &mut expected {
            t.v_sum = 0.0;
        }
        let mut got = mine.clone();
        for (_, t) in &mut got {
            t.v_sum = 0.0;
        }
        assert_eq!(got, expected, "same tiles whatever the order");
        assert_eq!(both.len(), 2 * tiles.len());
        // Every level of each axis counts every finite point once.
        for axis in Axis::BOTH {
            for level in LEVELS {
                let n: i64 = tiles
                    .iter()
                    .filter(|(k, _)| k.2 == axis && k.3 == level)
                    .map(|(_, t)| t.n)
                    .sum();
                assert_eq!(n, 298, "{axis:?} level {level}");
            }
        }
    }
}
