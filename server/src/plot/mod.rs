//! Metric plots: histories read per pixel bucket (`downsample`), drawn as SVG by plotters
//! (`render`). `build` serves both the `/metrics` page and the `/plot.svg` image route.

pub mod downsample;
pub mod render;

use crate::db::Db;
use crate::error::{ApiError, Result};
use crate::store::runs;
use app::pages::plot::{Frame, PlotData, PlotQuery, Scale, Series, XAxis};
use downsample::{History, XColumn};

/// Histories with at most this many points are drawn point by point.
const RAW_LIMIT: i64 = 2 * render::PLOT_PIXELS as i64;

/// One series in axis units, before drawing.
struct Prepared {
    series: Series,
    line: render::Line,
}

/// Reads and draws the plot of `q`. An unknown run is a 404 (`RESOURCE_DOES_NOT_EXIST`);
/// a metric a run never logged is a note, not an error.
pub async fn build(db: &Db, q: &PlotQuery) -> Result<PlotData> {
    let mut notes = Vec::new();
    let mut prepared = Vec::new();
    let mut runs_found = Vec::with_capacity(q.runs.len());
    for run_id in &q.runs {
        crate::api::validate::run_id(run_id)?;
        runs_found.push(runs::get_row(db, run_id).await?);
    }
    let column = match q.x {
        XAxis::Step => XColumn::Step,
        XAxis::Wall | XAxis::Relative => XColumn::Timestamp,
    };
    let mut dropped_for_log = 0usize;
    for run in &runs_found {
        let name = if run.info.run_name.is_empty() {
            run.info.run_id.clone()
        } else {
            run.info.run_name.clone()
        };
        for key in &q.keys {
            let total: Option<i64> = sqlx::query_scalar(
                "SELECT count FROM latest_metrics WHERE run_id = $1 AND key = $2",
            )
            .bind(run.id)
            .bind(key)
            .fetch_optional(&db.pool)
            .await?;
            let Some(total) = total else {
                notes.push(format!("Run {name} has no metric '{key}'."));
                continue;
            };
            let history = downsample::load(
                db,
                run.id,
                key,
                column,
                total,
                render::PLOT_PIXELS,
                RAW_LIMIT,
            )
            .await?;
            let color = render::color(prepared.len());
            let (mean, envelope, downsampled) = match history {
                History::Points(points) => {
                    let p: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x as f64, y)).collect();
                    (p.clone(), p, false)
                }
                History::Buckets(buckets) => {
                    let mid = |b: &downsample::Bucket| (b.x_lo as f64 + b.x_hi as f64) / 2.0;
                    let mean = buckets.iter().map(|b| (mid(b), b.mean)).collect();
                    // Min then max at each bucket: the line covers every value's extent.
                    let envelope = buckets
                        .iter()
                        .flat_map(|b| [(mid(b), b.min), (mid(b), b.max)])
                        .collect();
                    (mean, envelope, true)
                }
            };
            let shift = |pts: Vec<(f64, f64)>, origin: f64| -> Vec<(f64, f64)> {
                match q.x {
                    XAxis::Relative => pts
                        .into_iter()
                        .map(|(x, y)| ((x - origin) / 1000.0, y))
                        .collect(),
                    _ => pts,
                }
            };
            let origin = envelope.first().map_or(0.0, |p| p.0);
            let (mean, envelope) = (shift(mean, origin), shift(envelope, origin));
            let readout = downsample::smooth(&mean, q.smooth);
            let (mut main, mut faint) = if q.smooth > 0.0 {
                (readout.clone(), envelope)
            } else {
                (envelope, Vec::new())
            };
            if q.scale == Scale::Log {
                for pts in [&mut main, &mut faint] {
                    let before = pts.len();
                    pts.retain(|p| p.1 > 0.0);
                    dropped_for_log += before - pts.len();
                    for p in pts.iter_mut() {
                        p.1 = p.1.log10();
                    }
                }
            }
            let label = format!("{name} · {key}");
            prepared.push(Prepared {
                series: Series {
                    run_id: run.info.run_id.clone(),
                    run_name: name.clone(),
                    key: key.clone(),
                    color: render::css(color),
                    points: readout,
                    total,
                    downsampled,
                },
                line: render::Line {
                    label,
                    color,
                    points: main,
                    faint,
                },
            });
        }
    }
    if dropped_for_log > 0 {
        notes.push(format!(
            "{dropped_for_log} points at or below zero are left out of the log scale."
        ));
    }
    let sampled: Vec<&Series> = prepared
        .iter()
        .map(|p| &p.series)
        .filter(|s| s.downsampled)
        .collect();
    if !sampled.is_empty() {
        notes.push(format!(
            "Downsampled: {} of {} series have more than {RAW_LIMIT} points and are drawn as \
             {} pixel buckets, each keeping its minimum and maximum (the readout shows the \
             bucket mean).",
            sampled.len(),
            prepared.len(),
            render::PLOT_PIXELS
        ));
    }
    let x_range = render::padded_range(
        prepared
            .iter()
            .flat_map(|p| p.line.points.iter().chain(&p.line.faint).map(|pt| pt.0)),
    );
    let x_label: &dyn Fn(&f64) -> String = match q.x {
        XAxis::Step => &|v: &f64| format!("{}", v.round() as i64),
        XAxis::Wall => &|v: &f64| clock(*v as i64),
        XAxis::Relative => &|v: &f64| format!("{v:.0}s"),
    };
    let axes = render::Axes {
        x_desc: match q.x {
            XAxis::Step => "step",
            XAxis::Wall => "wall time (UTC)",
            XAxis::Relative => "seconds since the first point",
        },
        y_desc: if q.scale == Scale::Log {
            "value (log scale)"
        } else {
            "value"
        },
        x_label,
        log_y: q.scale == Scale::Log,
    };
    let mut lines = Vec::with_capacity(prepared.len());
    let mut series = Vec::with_capacity(prepared.len());
    for p in prepared {
        lines.push(p.line);
        series.push(p.series);
    }
    let (svg, (left, right)) = render::lines(&lines, x_range, &axes).map_err(ApiError::internal)?;
    Ok(PlotData {
        svg,
        series,
        frame: Frame {
            width: render::WIDTH,
            height: render::HEIGHT,
            left,
            right,
            x_min: x_range.0,
            x_max: x_range.1,
        },
        notes,
    })
}

/// `HH:MM:SS` of a UTC timestamp in milliseconds: axis labels of wall time.
fn clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn wall_clock_labels() {
        assert_eq!(super::clock(0), "00:00:00");
        assert_eq!(super::clock(1_700_000_000_000), "22:13:20");
    }
}
