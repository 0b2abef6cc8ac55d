//! The run page, `/runs/<run_id>`: a permalink that needs no experiment id. Overview,
//! params, metric summaries (each linking to its plot), editable tags, datasets, the
//! artifact browser (`?artifact=<path>` keeps the open file in the URL) and the model
//! versions registered from the run.

use crate::models::{MetricSummary, ModelVersion, Run};
use crate::pages::artifacts::ArtifactBrowser;
use crate::pages::experiments::format_ms;
use crate::pages::{error_text, url_encode};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// The tag MLflow keeps a run's description in.
pub const NOTE_TAG: &str = "mlflow.note.content";

/// Everything the run page shows but the artifacts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunDetails {
    pub run: Run,
    pub experiment_name: String,
    /// Latest value, min, max and count per metric key, from the stored summaries.
    pub metrics: Vec<MetricSummary>,
    pub parent: Option<RunLink>,
    pub children: Vec<RunLink>,
    pub model_versions: Vec<ModelVersion>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunLink {
    pub run_id: String,
    pub run_name: String,
}

/// What this page needs from the store (implemented in `server/src/ui/run.rs`).
#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::pages::ssr::BoxFuture;

    pub trait RunStore: Send + Sync + 'static {
        /// The run's details; `None` when there is no run with that id.
        fn run_details(&self, run_id: String) -> BoxFuture<'_, Result<Option<RunDetails>, String>>;
        /// Sets a tag through the same validation and writer as the `set-tag` endpoint.
        fn set_tag(
            &self,
            run_id: String,
            key: String,
            value: String,
        ) -> BoxFuture<'_, Result<(), String>>;
        /// Deletes a tag as the `delete-tag` endpoint does.
        fn delete_tag(&self, run_id: String, key: String) -> BoxFuture<'_, Result<(), String>>;
    }
}

#[server(prefix = "/_fn")]
pub async fn get_run_details(run_id: String) -> Result<Option<RunDetails>, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::RunStore>()?
        .run_details(run_id)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn set_run_tag(run_id: String, key: String, value: String) -> Result<(), ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::RunStore>()?
        .set_tag(run_id, key, value)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn delete_run_tag(run_id: String, key: String) -> Result<(), ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::RunStore>()?
        .delete_tag(run_id, key)
        .await
        .map_err(ServerFnError::new)
}

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let run_id = move || params.read().get("run_id").unwrap_or_default();
    let set_tag = ServerAction::<SetRunTag>::new();
    let delete_tag = ServerAction::<DeleteRunTag>::new();
    let details = Resource::new(
        move || {
            (
                run_id(),
                set_tag.version().get(),
                delete_tag.version().get(),
            )
        },
        |(id, _, _)| get_run_details(id),
    );
    view! {
        <section class="page run-page">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match details.await {
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                        Ok(None) => view! {
                            <h1>"Run not found"</h1>
                            <p class="empty" role="alert">
                                "There is no run with id " <code>{run_id()}</code>
                                ". It may have been deleted for good, or the link is mistyped."
                            </p>
                            <p><a href="/">"Back to the experiments"</a></p>
                        }.into_any(),
                        Ok(Some(d)) => view! { <RunView d set_tag delete_tag/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn tag_value<'a>(run: &'a Run, key: &str) -> Option<&'a str> {
    run.data
        .tags
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.value.as_str())
}

#[component]
fn RunView(
    d: RunDetails,
    set_tag: ServerAction<SetRunTag>,
    delete_tag: ServerAction<DeleteRunTag>,
) -> impl IntoView {
    let query = use_query_map();
    let info = d.run.info.clone();
    let run_id = info.run_id.clone();
    let name = if info.run_name.is_empty() {
        run_id.clone()
    } else {
        info.run_name.clone()
    };
    let description = tag_value(&d.run, NOTE_TAG).map(str::to_owned);
    let source = tag_value(&d.run, "mlflow.source.name").map(str::to_owned);
    let commit = tag_value(&d.run, "mlflow.source.git.commit").map(str::to_owned);
    let duration = match (info.start_time, info.end_time) {
        (Some(s), Some(e)) => crate::format::duration(e - s),
        _ => "—".into(),
    };
    let status_class = format!("status {}", info.status.to_ascii_lowercase());
    let artifact_path = move || query.read().get("artifact").unwrap_or_default();
    let all_keys: Vec<String> = d.metrics.iter().map(|m| m.key.clone()).collect();
    let plot_all = format!(
        "/plot?runs={}&keys={}",
        url_encode(&run_id),
        url_encode(&all_keys.join(","))
    );
    view! {
        <p class="crumbs">
            <a href=format!("/experiments/{}", info.experiment_id)>{d.experiment_name.clone()}</a>
            " / run"
        </p>
        <h1>{name}</h1>
        {description.map(|text| view! { <p class="description">{text}</p> })}
        <dl class="overview">
            <dt>"Run ID"</dt><dd class="mono">{run_id.clone()}</dd>
            <dt>"Status"</dt><dd><span class=status_class>{info.status.clone()}</span>
                {(info.lifecycle_stage != "active").then(|| view! { " " <span class="badge">{info.lifecycle_stage.clone()}</span> })}
            </dd>
            <dt>"Started"</dt><dd>{info.start_time.map(format_ms).unwrap_or_else(|| "—".into())}</dd>
            <dt>"Ended"</dt><dd>{info.end_time.map(format_ms).unwrap_or_else(|| "—".into())}</dd>
            <dt>"Duration"</dt><dd>{duration}</dd>
            <dt>"User"</dt><dd>{if info.user_id.is_empty() { "—".to_owned() } else { info.user_id.clone() }}</dd>
            <dt>"Source"</dt><dd class="mono">{source.unwrap_or_else(|| "—".into())}
                {commit.map(|c| view! { " @ " {c.chars().take(10).collect::<String>()} })}</dd>
            <dt>"Parent run"</dt><dd>{match d.parent.clone() {
                Some(p) => view! { <a href=format!("/runs/{}", p.run_id)>{p.run_name}</a> }.into_any(),
                None => view! { "—" }.into_any(),
            }}</dd>
            <dt>"Child runs"</dt><dd>{if d.children.is_empty() {
                view! { "—" }.into_any()
            } else {
                view! { <ul class="inline">{d.children.iter().map(|c| view! {
                    <li><a href=format!("/runs/{}", c.run_id)>{c.run_name.clone()}</a></li>
                }).collect_view()}</ul> }.into_any()
            }}</dd>
            <dt>"Artifact URI"</dt><dd class="mono">{info.artifact_uri.clone()}</dd>
        </dl>

        <h2>"Parameters"</h2>
        {if d.run.data.params.is_empty() {
            view! { <p class="empty">"No parameters. Log some with " <code>"mlflow.log_param"</code> "."</p> }.into_any()
        } else {
            view! {
                <table class="grid kv" id="params">
                    <thead><tr><th>"Name"</th><th>"Value"</th></tr></thead>
                    <tbody>{d.run.data.params.iter().map(|p| view! {
                        <tr><td>{p.key.clone()}</td><td class="mono">{p.value.clone()}</td></tr>
                    }).collect_view()}</tbody>
                </table>
            }.into_any()
        }}

        <h2>"Metrics"</h2>
        {if d.metrics.is_empty() {
            view! { <p class="empty">"No metrics. Log some with " <code>"mlflow.log_metric"</code> "."</p> }.into_any()
        } else {
            let rid = run_id.clone();
            view! {
                <p><a href=plot_all>"Plot all metrics"</a></p>
                <table class="grid kv" id="metrics">
                    <thead><tr><th>"Name"</th><th>"Last"</th><th>"Min"</th><th>"Max"</th><th>"Step"</th><th>"Points"</th></tr></thead>
                    <tbody>{d.metrics.iter().map(|m| {
                        let href = format!("/plot?runs={}&keys={}", url_encode(&rid), url_encode(&m.key));
                        view! {
                            <tr>
                                <td><a href=href>{m.key.clone()}</a></td>
                                <td class="num">{crate::format::number(m.last)}</td>
                                <td class="num">{m.min.map(crate::format::number).unwrap_or_else(|| "—".into())}</td>
                                <td class="num">{m.max.map(crate::format::number).unwrap_or_else(|| "—".into())}</td>
                                <td class="num">{m.step}</td>
                                <td class="num">{m.count}</td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            }.into_any()
        }}

        <h2>"Tags"</h2>
        <TagEditor run=d.run.clone() set_tag delete_tag/>

        <h2>"Datasets"</h2>
        {if d.run.inputs.dataset_inputs.is_empty() {
            view! { <p class="empty">"No datasets. Record one with " <code>"mlflow.log_input"</code> "."</p> }.into_any()
        } else {
            view! {
                <table class="grid" id="datasets">
                    <thead><tr><th>"Name"</th><th>"Digest"</th><th>"Context"</th><th>"Source type"</th><th>"Source"</th></tr></thead>
                    <tbody>{d.run.inputs.dataset_inputs.iter().map(|i| {
                        let context = i.tags.iter().find(|t| t.key == "mlflow.data.context").map(|t| t.value.clone()).unwrap_or_default();
                        view! {
                            <tr>
                                <td>{i.dataset.name.clone()}</td>
                                <td class="mono">{i.dataset.digest.clone()}</td>
                                <td>{context}</td>
                                <td>{i.dataset.source_type.clone()}</td>
                                <td class="mono clip">{i.dataset.source.clone()}</td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            }.into_any()
        }}

        <h2>"Registered model versions"</h2>
        {if d.model_versions.is_empty() {
            view! { <p class="empty">"No model versions were registered from this run."</p> }.into_any()
        } else {
            view! {
                <ul id="model-versions">{d.model_versions.iter().map(|v| {
                    let href = format!("/models/{}/versions/{}", url_encode(&v.name), v.version);
                    view! { <li><a href=href>{format!("{} v{}", v.name, v.version)}</a> " " <span class="badge">{v.current_stage.clone()}</span></li> }
                }).collect_view()}</ul>
            }.into_any()
        }}

        <h2>"Artifacts"</h2>
        {
            let rid = run_id.clone();
            move || view! { <ArtifactBrowser run_id=rid.clone() path=artifact_path()/> }
        }
    }
}

/// The run's tags with a delete button each, and a form that sets one. Both are server
/// functions behind plain forms, so they work before the WASM loads too; errors show
/// inline with the server's message.
#[component]
fn TagEditor(
    run: Run,
    set_tag: ServerAction<SetRunTag>,
    delete_tag: ServerAction<DeleteRunTag>,
) -> impl IntoView {
    let run_id = run.info.run_id.clone();
    let failure = move || {
        let from = |r: Option<Result<(), ServerFnError>>| r.and_then(Result::err);
        from(set_tag.value().get())
            .or_else(|| from(delete_tag.value().get()))
            .map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })
    };
    let tags: Vec<_> = run
        .data
        .tags
        .iter()
        .filter(|t| t.key != NOTE_TAG)
        .cloned()
        .collect();
    view! {
        <table class="grid kv" id="tags">
            <thead><tr><th>"Key"</th><th>"Value"</th><th></th></tr></thead>
            <tbody>{tags.into_iter().map(|t| {
                let rid = run_id.clone();
                let key = t.key.clone();
                view! {
                    <tr>
                        <td>{t.key.clone()}</td>
                        <td class="mono">{t.value.clone()}</td>
                        <td>
                            <ActionForm action=delete_tag attr:class="inline-form">
                                <input type="hidden" name="run_id" value=rid/>
                                <input type="hidden" name="key" value=key.clone()/>
                                <button type="submit" class="small" aria-label=format!("Delete tag {key}")>"Delete"</button>
                            </ActionForm>
                        </td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
        <div class="progress" class:active=move || set_tag.pending().get() || delete_tag.pending().get()
            role="progressbar" aria-label="Saving the tag"
            aria-hidden=move || (!(set_tag.pending().get() || delete_tag.pending().get())).to_string()></div>
        <ActionForm action=set_tag attr:class="tag-form">
            <input type="hidden" name="run_id" value=run_id.clone()/>
            <input type="text" name="key" placeholder="key" aria-label="Tag key" required/>
            <input type="text" name="value" placeholder="value" aria-label="Tag value"/>
            <button type="submit">"Set tag"</button>
        </ActionForm>
        {failure}
    }
}
