//! Metric plots, `/plot?runs=<id>,<id>&keys=<k>,<k>&x=step|wall|relative&scale=linear|log&smooth=0..0.99`.
//! The whole plot state is in the URL; the server draws the SVG (plotters) and the same
//! query also serves `/plot.svg`, so a plot is an image link too. After hydration a
//! readout shows the values nearest the pointer, from the points the page already has.

use crate::pages::{error_text, url_encode};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// Runs one plot overlays at most.
pub const MAX_RUNS: usize = 20;
/// Metric keys one plot draws at most.
pub const MAX_KEYS: usize = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum XAxis {
    #[default]
    Step,
    /// Wall-clock time of each point.
    Wall,
    /// Seconds since the series' first point.
    Relative,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scale {
    #[default]
    Linear,
    Log,
}

/// What a plot shows; parsed from and written back to the URL query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlotQuery {
    pub runs: Vec<String>,
    pub keys: Vec<String>,
    pub x: XAxis,
    pub scale: Scale,
    /// Exponential smoothing weight, 0 (none) to 0.99.
    pub smooth: f64,
}

fn list(raw: Option<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in raw.unwrap_or_default().split(',') {
        let item = item.trim();
        if !item.is_empty() && !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    out
}

impl PlotQuery {
    /// Reads the query parameters (`get` looks one up by name); a message says what is
    /// wrong with a bad one.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let runs = list(get("runs"));
        let keys = list(get("keys"));
        if runs.is_empty() {
            return Err("Name at least one run: runs=<run_id>,<run_id>.".into());
        }
        if runs.len() > MAX_RUNS {
            return Err(format!(
                "A plot overlays at most {MAX_RUNS} runs; got {}.",
                runs.len()
            ));
        }
        if keys.is_empty() {
            return Err("Name at least one metric: keys=<key>,<key>.".into());
        }
        if keys.len() > MAX_KEYS {
            return Err(format!(
                "A plot draws at most {MAX_KEYS} metrics; got {}.",
                keys.len()
            ));
        }
        let x = match get("x").as_deref().map(str::trim) {
            None | Some("") | Some("step") => XAxis::Step,
            Some("wall") => XAxis::Wall,
            Some("relative") => XAxis::Relative,
            Some(other) => {
                return Err(format!(
                    "Invalid x '{other}': expected step, wall or relative."
                ));
            }
        };
        let scale = match get("scale").as_deref().map(str::trim) {
            None | Some("") | Some("linear") => Scale::Linear,
            Some("log") => Scale::Log,
            Some(other) => return Err(format!("Invalid scale '{other}': expected linear or log.")),
        };
        let smooth = match get("smooth").as_deref().map(str::trim) {
            None | Some("") => 0.0,
            Some(raw) => match raw.parse::<f64>() {
                Ok(v) if (0.0..=0.99).contains(&v) => v,
                _ => {
                    return Err(format!(
                        "Invalid smooth '{raw}': expected a number from 0 to 0.99."
                    ));
                }
            },
        };
        Ok(Self {
            runs,
            keys,
            x,
            scale,
            smooth,
        })
    }

    /// The query string (without `?`) that reproduces this plot.
    pub fn to_query(&self) -> String {
        let mut q = format!(
            "runs={}&keys={}",
            url_encode(&self.runs.join(",")),
            url_encode(&self.keys.join(","))
        );
        match self.x {
            XAxis::Step => {}
            XAxis::Wall => q.push_str("&x=wall"),
            XAxis::Relative => q.push_str("&x=relative"),
        }
        if self.scale == Scale::Log {
            q.push_str("&scale=log");
        }
        if self.smooth > 0.0 {
            q.push_str(&format!("&smooth={}", self.smooth));
        }
        q
    }
}

/// One drawn line: a metric of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub run_id: String,
    pub run_name: String,
    pub key: String,
    /// CSS colour, the same as in the SVG.
    pub color: String,
    /// The points the readout uses, `(x, y)` in axis units, ordered by x: every point of
    /// a short history, one (the mean) per pixel bucket of a long one; smoothed if asked.
    pub points: Vec<(f64, f64)>,
    /// Points stored for this series (NaN and infinite values included).
    pub total: i64,
    /// Whether the history was reduced to per-pixel buckets (min, max and mean).
    pub downsampled: bool,
}

/// Where the plotting area sits in the SVG and what it spans, so the browser can turn a
/// pointer position into axis units.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub left: f64,
    pub right: f64,
    pub x_min: f64,
    pub x_max: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlotData {
    pub svg: String,
    pub series: Vec<Series>,
    pub frame: Frame,
    /// Things the reader should know: downsampling, points left out of a log scale.
    pub notes: Vec<String>,
}

impl PlotData {
    pub fn downsampled(&self) -> bool {
        self.series.iter().any(|s| s.downsampled)
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::pages::ssr::BoxFuture;

    pub trait PlotStore: Send + Sync + 'static {
        fn plot(&self, query: PlotQuery) -> BoxFuture<'_, Result<PlotData, String>>;
    }
}

#[server(prefix = "/_fn")]
pub async fn load_plot(query: PlotQuery) -> Result<PlotData, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::PlotStore>()?
        .plot(query)
        .await
        .map_err(ServerFnError::new)
}

/// Formats an x value for the readout.
pub fn format_x(x: XAxis, v: f64) -> String {
    match x {
        XAxis::Step => format!("step {}", v.round() as i64),
        XAxis::Wall => crate::pages::experiments::format_ms(v as i64),
        XAxis::Relative => format!("{v:.1} s"),
    }
}

/// The point of `points` (ordered by x) nearest to `x`.
pub fn nearest(points: &[(f64, f64)], x: f64) -> Option<(f64, f64)> {
    let i = points.partition_point(|p| p.0 < x);
    let candidates = [i.checked_sub(1), Some(i)];
    candidates
        .into_iter()
        .flatten()
        .filter_map(|j| points.get(j).copied())
        .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
}

/// The plot itself: the server's SVG, its legend and notes, and the hover readout.
#[component]
pub fn PlotView(query: PlotQuery) -> impl IntoView {
    let svg_link = format!("/plot.svg?{}", query.to_query());
    let x_axis = query.x;
    let data = Resource::new(move || query.clone(), load_plot);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Drawing the plot…"</p> }>
            {
                let svg_link = svg_link.clone();
                move || {
                    let svg_link = svg_link.clone();
                    Suspend::new(async move {
                        match data.await {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(d) => view! { <PlotFigure d svg_link x_axis/> }.into_any(),
                        }
                    })
                }
            }
        </Transition>
    }
}

#[component]
fn PlotFigure(d: PlotData, svg_link: String, x_axis: XAxis) -> impl IntoView {
    let readout = RwSignal::new(None::<(f64, Vec<(String, String, String)>)>);
    let frame = d.frame.clone();
    let series = d.series.clone();
    let on_move = move |ev: leptos::ev::MouseEvent| {
        use leptos::wasm_bindgen::JsCast;
        let Some(target) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
        else {
            return;
        };
        let shown = f64::from(target.client_width().max(1));
        let px = f64::from(ev.offset_x()) * f64::from(frame.width) / shown;
        if px < frame.left || px > frame.right || frame.right <= frame.left {
            readout.set(None);
            return;
        }
        let x = frame.x_min
            + (px - frame.left) / (frame.right - frame.left) * (frame.x_max - frame.x_min);
        let lines = series
            .iter()
            .filter_map(|s| {
                nearest(&s.points, x).map(|(px_, py)| {
                    (
                        s.color.clone(),
                        format!("{} · {}", s.run_name, s.key),
                        format!("{} at {}", crate::format::number(py), format_x(x_axis, px_)),
                    )
                })
            })
            .collect();
        readout.set(Some((px / f64::from(frame.width) * 100.0, lines)));
    };
    let notes = d.notes.clone();
    view! {
        <figure class="plot" data-downsampled=d.downsampled().to_string()>
            <div class="plot-canvas">
                <div class="plot-svg" inner_html=d.svg.clone()></div>
                <div class="plot-hover" on:mousemove=on_move on:mouseleave=move |_| readout.set(None)></div>
                {move || readout.get().map(|(left, lines)| view! {
                    <div class="plot-cursor" style=format!("left: {left:.2}%")></div>
                    <div class="plot-readout" role="status">
                        {lines.into_iter().map(|(color, label, value)| view! {
                            <div><span class="swatch" style=format!("background: {color}")></span>{label}": "{value}</div>
                        }).collect_view()}
                    </div>
                })}
            </div>
            <figcaption>
                <ul class="legend">
                    {d.series.iter().map(|s| view! {
                        <li data-run=s.run_id.clone() data-key=s.key.clone()>
                            <span class="swatch" style=format!("background: {}", s.color)></span>
                            <a href=format!("/runs/{}", url_encode(&s.run_id))>{s.run_name.clone()}</a>
                            " · " {s.key.clone()}
                            <span class="muted">{format!(" ({} points{})", s.total, if s.downsampled { ", downsampled" } else { "" })}</span>
                        </li>
                    }).collect_view()}
                </ul>
                {notes.into_iter().map(|n| view! { <p class="note">{n}</p> }).collect_view()}
                <p><a href=svg_link rel="external">"SVG image of this plot"</a></p>
            </figcaption>
        </figure>
    }
}

/// `/plot`: the plot controls (a plain GET form, so the URL holds the state) and
/// the plot.
#[component]
pub fn MetricsPage() -> impl IntoView {
    let query = use_query_map();
    let parsed = move || PlotQuery::parse(|k| query.read().get(k));
    let raw = move |k: &'static str| query.read().get(k).unwrap_or_default();
    view! {
        <section class="page metrics-page">
            <h1>"Metric plot"</h1>
            <form method="get" class="plot-controls">
                <label>"Runs " <input type="text" name="runs" value=move || raw("runs") placeholder="run ids, comma-separated"/></label>
                <label>"Metrics " <input type="text" name="keys" value=move || raw("keys") placeholder="loss,acc"/></label>
                <label>"X axis "
                    <select name="x">
                        <option value="step">"Step"</option>
                        <option value="wall" selected=move || raw("x") == "wall">"Wall time"</option>
                        <option value="relative" selected=move || raw("x") == "relative">"Relative time"</option>
                    </select>
                </label>
                <label>"Scale "
                    <select name="scale">
                        <option value="linear">"Linear"</option>
                        <option value="log" selected=move || raw("scale") == "log">"Log"</option>
                    </select>
                </label>
                <label>"Smoothing " <input type="number" name="smooth" min="0" max="0.99" step="0.01" value=move || raw("smooth") placeholder="0"/></label>
                <button type="submit">"Plot"</button>
            </form>
            {move || match parsed() {
                Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                Ok(q) => view! { <PlotView query=q/> }.into_any(),
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<PlotQuery, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        PlotQuery::parse(|k| map.get(k).cloned())
    }

    #[test]
    fn queries_round_trip_through_the_url() {
        let q = parse(&[
            ("runs", "a, b,a"),
            ("keys", "loss,acc"),
            ("x", "relative"),
            ("scale", "log"),
            ("smooth", "0.6"),
        ])
        .unwrap();
        assert_eq!(q.runs, ["a", "b"]);
        assert_eq!(q.x, XAxis::Relative);
        assert_eq!(
            q.to_query(),
            "runs=a%2Cb&keys=loss%2Cacc&x=relative&scale=log&smooth=0.6"
        );
        let defaults = parse(&[("runs", "a"), ("keys", "loss")]).unwrap();
        assert_eq!(
            (defaults.x, defaults.scale, defaults.smooth),
            (XAxis::Step, Scale::Linear, 0.0)
        );
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        assert!(parse(&[("keys", "loss")]).unwrap_err().contains("run"));
        assert!(parse(&[("runs", "a")]).unwrap_err().contains("metric"));
        assert!(
            parse(&[("runs", "a"), ("keys", "l"), ("x", "epoch")])
                .unwrap_err()
                .contains("epoch")
        );
        assert!(
            parse(&[("runs", "a"), ("keys", "l"), ("smooth", "1.5")])
                .unwrap_err()
                .contains("0.99")
        );
        assert!(parse(&[("runs", "a"), ("keys", "l"), ("scale", "sqrt")]).is_err());
    }

    #[test]
    fn nearest_point_by_x() {
        let pts = [(0.0, 1.0), (10.0, 2.0), (20.0, 3.0)];
        assert_eq!(nearest(&pts, 4.0), Some((0.0, 1.0)));
        assert_eq!(nearest(&pts, 6.0), Some((10.0, 2.0)));
        assert_eq!(nearest(&pts, 99.0), Some((20.0, 3.0)));
        assert_eq!(nearest(&[], 1.0), None);
    }
}
