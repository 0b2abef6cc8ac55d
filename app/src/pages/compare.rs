//! Comparing runs, `/compare?runs=<id>,<id>[&diff=1][&keys=loss,acc][&sx=params.lr&sy=metrics.loss]`:
//! params and metrics side by side (optionally only the rows that differ), overlaid
//! plots of the chosen metrics, and a scatter of one param or metric against another.

use crate::models::{MetricSummary, Run};
use crate::pages::plot::{PlotQuery, PlotView};
use crate::pages::{error_text, url_encode};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Runs one comparison shows at most.
pub const MAX_COMPARED: usize = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparedRun {
    pub run: Run,
    pub metrics: Vec<MetricSummary>,
}

impl ComparedRun {
    pub fn name(&self) -> String {
        if self.run.info.run_name.is_empty() {
            self.run.info.run_id.clone()
        } else {
            self.run.info.run_name.clone()
        }
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.run
            .data
            .params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }

    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.key == key).map(|m| m.last)
    }

    /// The value of an axis named `params.<key>` or `metrics.<key>` (the last value), as
    /// a number if it is one.
    pub fn axis_value(&self, axis: &str) -> Option<f64> {
        if let Some(key) = axis.strip_prefix("params.") {
            self.param(key)?.trim().parse().ok()
        } else if let Some(key) = axis.strip_prefix("metrics.") {
            self.metric(key)
        } else {
            None
        }
    }
}

/// The keys of a table with each run's value; with `diff`, only keys whose values are
/// not all the same (a run without the key counts as a different value).
pub fn rows(
    keys: &BTreeSet<String>,
    runs: &[ComparedRun],
    value: impl Fn(&ComparedRun, &str) -> Option<String>,
    diff: bool,
) -> Vec<(String, Vec<Option<String>>)> {
    keys.iter()
        .map(|k| {
            (
                k.clone(),
                runs.iter().map(|r| value(r, k)).collect::<Vec<_>>(),
            )
        })
        .filter(|(_, values)| !diff || values.iter().any(|v| v != &values[0]))
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scatter {
    pub svg: String,
    /// Runs left out because an axis has no numeric value for them.
    pub skipped: Vec<String>,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::pages::ssr::BoxFuture;

    pub trait CompareStore: Send + Sync + 'static {
        /// The runs with their metric summaries, in the order given; an unknown id is
        /// an error that names it.
        fn compared_runs(
            &self,
            run_ids: Vec<String>,
        ) -> BoxFuture<'_, Result<Vec<ComparedRun>, String>>;
        /// An SVG scatter of the runs, `x` and `y` being `params.<k>` or `metrics.<k>`.
        fn scatter(
            &self,
            run_ids: Vec<String>,
            x: String,
            y: String,
        ) -> BoxFuture<'_, Result<Scatter, String>>;
    }
}

#[server(prefix = "/_fn")]
pub async fn compared_runs(run_ids: Vec<String>) -> Result<Vec<ComparedRun>, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::CompareStore>()?
        .compared_runs(run_ids)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn draw_scatter(
    run_ids: Vec<String>,
    x: String,
    y: String,
) -> Result<Scatter, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::CompareStore>()?
        .scatter(run_ids, x, y)
        .await
        .map_err(ServerFnError::new)
}

fn split(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

#[component]
pub fn ComparePage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let run_ids = move || split(&get("runs"));
    let data = Resource::new(run_ids, compared_runs);
    view! {
        <section class="page compare-page">
            <h1>"Compare runs"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    let ids = run_ids();
                    if ids.len() < 2 {
                        return view! {
                            <p class="empty">"Name two or more runs to compare: "
                                <code>"/compare?runs=<run_id>,<run_id>"</code>
                                ", or select them in an experiment's runs grid."</p>
                        }.into_any();
                    }
                    match data.await {
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                        Ok(runs) => view! {
                            <CompareView
                                runs
                                diff=get("diff") == "1"
                                keys=split(&get("keys"))
                                sx=get("sx")
                                sy=get("sy")
                            />
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CompareView(
    runs: Vec<ComparedRun>,
    diff: bool,
    keys: Vec<String>,
    sx: String,
    sy: String,
) -> impl IntoView {
    let ids: Vec<String> = runs.iter().map(|r| r.run.info.run_id.clone()).collect();
    let ids_param = url_encode(&ids.join(","));
    let link = |diff: bool, keys: &[String], sx: &str, sy: &str| {
        let mut q = format!("/compare?runs={ids_param}");
        if diff {
            q.push_str("&diff=1");
        }
        if !keys.is_empty() {
            q.push_str(&format!("&keys={}", url_encode(&keys.join(","))));
        }
        if !sx.is_empty() {
            q.push_str(&format!("&sx={}&sy={}", url_encode(sx), url_encode(sy)));
        }
        q
    };
    let param_keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.run.data.params.iter().map(|p| p.key.clone()))
        .collect();
    let metric_keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.clone()))
        .collect();
    let param_rows = rows(
        &param_keys,
        &runs,
        |r, k| r.param(k).map(str::to_owned),
        diff,
    );
    let metric_rows = rows(
        &metric_keys,
        &runs,
        |r, k| r.metric(k).map(crate::format::number),
        diff,
    );
    let plot_keys: Vec<String> = if keys.is_empty() {
        metric_keys.iter().take(1).cloned().collect()
    } else {
        keys.clone()
    };
    let toggle = link(!diff, &keys, &sx, &sy);
    let axes: Vec<String> = param_keys
        .iter()
        .map(|k| format!("params.{k}"))
        .chain(metric_keys.iter().map(|k| format!("metrics.{k}")))
        .collect();
    let (sx, sy) = if sx.is_empty() {
        (
            axes.first().cloned().unwrap_or_default(),
            axes.get(1).cloned().unwrap_or_default(),
        )
    } else {
        (sx, sy)
    };
    let head = move || {
        view! {
            <th></th>
            {runs.iter().map(|r| view! {
                <th><a href=format!("/runs/{}", url_encode(&r.run.info.run_id))>{r.name()}</a></th>
            }).collect_view()}
        }
    };
    let table = |id: &'static str,
                 rows: Vec<(String, Vec<Option<String>>)>,
                 empty: &'static str,
                 metric: bool| {
        if rows.is_empty() {
            return view! { <p class="empty">{empty}</p> }.into_any();
        }
        let ids_param = ids_param.clone();
        view! {
            <div class="table-scroll">
                <table class="grid compare" id=id>
                    <thead><tr>{head()}</tr></thead>
                    <tbody>{rows.into_iter().map(|(k, values)| {
                        let differs = values.iter().any(|v| v != &values[0]);
                        let name = if metric {
                            view! { <a href=format!("/plot?runs={ids_param}&keys={}", url_encode(&k))>{k.clone()}</a> }.into_any()
                        } else {
                            view! { {k.clone()} }.into_any()
                        };
                        view! {
                            <tr class:differs=differs>
                                <th scope="row">{name}</th>
                                {values.into_iter().map(|v| view! { <td class="mono">{v.unwrap_or_else(|| "—".into())}</td> }).collect_view()}
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            </div>
        }.into_any()
    };
    let empty_params = if diff {
        "No parameter differs."
    } else {
        "No parameters."
    };
    let empty_metrics = if diff {
        "No metric differs."
    } else {
        "No metrics."
    };
    let plot = (!plot_keys.is_empty()).then(|| PlotQuery {
        runs: ids.clone(),
        keys: plot_keys.clone(),
        ..Default::default()
    });
    let scatter_data = Resource::new(
        {
            let (ids, sx, sy) = (ids.clone(), sx.clone(), sy.clone());
            move || (ids.clone(), sx.clone(), sy.clone())
        },
        |(ids, x, y)| async move {
            if x.is_empty() || y.is_empty() {
                Ok(None)
            } else {
                draw_scatter(ids, x, y).await.map(Some)
            }
        },
    );
    let axis_options = |selected: String| {
        axes.iter()
            .map(|a| view! { <option value=a.clone() selected={*a == selected}>{a.clone()}</option> })
            .collect_view()
    };
    view! {
        <p class="toolbar">
            <a href=toggle id="diff-toggle">{if diff { "Show all rows" } else { "Show differences only" }}</a>
        </p>
        <h2>"Parameters"</h2>
        {table("compare-params", param_rows, empty_params, false)}
        <h2>"Metrics (last value)"</h2>
        {table("compare-metrics", metric_rows, empty_metrics, true)}
        <h2>"Plots"</h2>
        <form method="get" class="plot-controls">
            <input type="hidden" name="runs" value=ids.join(",")/>
            {diff.then(|| view! { <input type="hidden" name="diff" value="1"/> })}
            <label>"Metrics " <input type="text" name="keys" value=plot_keys.join(",") aria-label="Metrics to plot"/></label>
            <button type="submit">"Plot"</button>
        </form>
        {match plot {
            Some(query) => view! { <PlotView query/> }.into_any(),
            None => view! { <p class="empty">"These runs have no metrics to plot."</p> }.into_any(),
        }}
        <h2>"Scatter"</h2>
        {if axes.len() < 2 {
            view! { <p class="empty">"A scatter needs two params or metrics."</p> }.into_any()
        } else {
            view! {
                <form method="get" class="plot-controls">
                    <input type="hidden" name="runs" value=ids.join(",")/>
                    {diff.then(|| view! { <input type="hidden" name="diff" value="1"/> })}
                    {(!keys.is_empty()).then(|| view! { <input type="hidden" name="keys" value=keys.join(",")/> })}
                    <label>"X " <select name="sx" aria-label="Scatter x">{axis_options(sx.clone())}</select></label>
                    <label>"Y " <select name="sy" aria-label="Scatter y">{axis_options(sy.clone())}</select></label>
                    <button type="submit">"Draw"</button>
                </form>
                <Transition fallback=|| view! { <p class="loading">"Drawing…"</p> }>
                    {move || Suspend::new(async move {
                        match scatter_data.await {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(None) => ().into_any(),
                            Ok(Some(s)) => view! {
                                <figure class="plot scatter">
                                    <div class="plot-svg" inner_html=s.svg></div>
                                    {(!s.skipped.is_empty()).then(|| view! {
                                        <p class="note">{format!("Left out (no numeric value): {}", s.skipped.join(", "))}</p>
                                    })}
                                </figure>
                            }.into_any(),
                        }
                    })}
                </Transition>
            }.into_any()
        }}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{KeyValue, RunData, RunInfo};

    fn run(id: &str, params: &[(&str, &str)], metrics: &[(&str, f64)]) -> ComparedRun {
        ComparedRun {
            run: Run {
                info: RunInfo {
                    run_id: id.into(),
                    run_uuid: id.into(),
                    run_name: id.into(),
                    experiment_id: "0".into(),
                    user_id: String::new(),
                    status: "FINISHED".into(),
                    start_time: None,
                    end_time: None,
                    artifact_uri: String::new(),
                    lifecycle_stage: "active".into(),
                },
                data: RunData {
                    metrics: Vec::new(),
                    params: params
                        .iter()
                        .map(|(k, v)| KeyValue {
                            key: (*k).into(),
                            value: (*v).into(),
                        })
                        .collect(),
                    tags: Vec::new(),
                },
                inputs: Default::default(),
                outputs: Default::default(),
            },
            metrics: metrics
                .iter()
                .map(|(k, v)| MetricSummary {
                    key: (*k).into(),
                    last: *v,
                    step: 0,
                    timestamp: 0,
                    min: None,
                    max: None,
                    count: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn differences_only_keeps_rows_that_differ_or_are_missing() {
        let runs = [
            run("a", &[("lr", "0.1"), ("opt", "adam"), ("seed", "1")], &[]),
            run("b", &[("lr", "0.2"), ("opt", "adam")], &[]),
        ];
        let keys: BTreeSet<String> = ["lr", "opt", "seed"].map(String::from).into();
        let value = |r: &ComparedRun, k: &str| r.param(k).map(str::to_owned);
        let all = rows(&keys, &runs, value, false);
        assert_eq!(all.len(), 3);
        let diff: Vec<String> = rows(&keys, &runs, value, true)
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(diff, ["lr", "seed"]);
    }

    #[test]
    fn axis_values_read_params_as_numbers_and_metrics_as_last_values() {
        let r = run("a", &[("lr", "0.1"), ("opt", "adam")], &[("loss", 0.5)]);
        assert_eq!(r.axis_value("params.lr"), Some(0.1));
        assert_eq!(r.axis_value("params.opt"), None);
        assert_eq!(r.axis_value("metrics.loss"), Some(0.5));
        assert_eq!(r.axis_value("tags.x"), None);
    }
}
