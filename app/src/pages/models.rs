//! The model registry: `/models?q=` (search, tags, aliases, latest versions),
//! `/models/<name>` (its versions with stage, aliases, source run, tags, description)
//! and `/models/<name>/versions/<version>`.

use crate::models::{ModelVersion, RegisteredModel};
use crate::pages::experiments::format_ms;
use crate::pages::{error_text, url_encode};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// A registered model and its versions, newest first.
pub type ModelWithVersions = (RegisteredModel, Vec<ModelVersion>);

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::pages::ssr::BoxFuture;

    pub trait ModelsStore: Send + Sync + 'static {
        /// Registered models matching an MLflow registered-model filter, by name.
        fn search_models(
            &self,
            filter: String,
        ) -> BoxFuture<'_, Result<Vec<RegisteredModel>, String>>;
        /// A model and its versions, newest first; `None` if there is no such model.
        fn model(&self, name: String) -> BoxFuture<'_, Result<Option<ModelWithVersions>, String>>;
        /// One version; `None` if there is no such version.
        fn version(
            &self,
            name: String,
            version: String,
        ) -> BoxFuture<'_, Result<Option<ModelVersion>, String>>;
    }
}

#[server(prefix = "/_fn")]
pub async fn search_models(query: String) -> Result<Vec<RegisteredModel>, ServerFnError> {
    let q = query.trim();
    let filter = if q.is_empty() || crate::pages::experiments::looks_like_filter(q) {
        q.to_owned()
    } else {
        format!("name ILIKE '%{}%'", q.replace('\'', "''"))
    };
    crate::pages::ssr::store::<dyn ssr::ModelsStore>()?
        .search_models(filter)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn model_page(name: String) -> Result<Option<ModelWithVersions>, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::ModelsStore>()?
        .model(name)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn version_page(
    name: String,
    version: String,
) -> Result<Option<ModelVersion>, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::ModelsStore>()?
        .version(name, version)
        .await
        .map_err(ServerFnError::new)
}

fn model_href(name: &str) -> String {
    format!("/models/{}", url_encode(name))
}

fn version_href(name: &str, version: &str) -> String {
    format!(
        "/models/{}/versions/{}",
        url_encode(name),
        url_encode(version)
    )
}

fn tag_list(tags: &[crate::models::KeyValue]) -> impl IntoView + use<> {
    let tags = tags.to_vec();
    view! {
        <span class="chips">{tags.into_iter().map(|t| view! {
            <span class="chip">{t.key}"="{t.value}</span>
        }).collect_view()}</span>
    }
}

#[component]
pub fn ModelsPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let models = Resource::new(q, search_models);
    view! {
        <section class="page">
            <h1>"Registered models"</h1>
            <form method="get" class="search">
                <input type="search" name="q" prop:value=q aria-label="Search models"
                    placeholder="name, or a filter: tags.team = 'nlp'"/>
                <button type="submit">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match models.await {
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">"No registered models match. Register one with "
                                <code>"mlflow.register_model(\"runs:/<run_id>/model\", \"name\")"</code> "."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="grid" id="models">
                                <thead><tr><th>"Name"</th><th>"Latest versions"</th><th>"Aliases"</th><th>"Tags"</th><th>"Last update"</th></tr></thead>
                                <tbody>{list.into_iter().map(|m| {
                                    let name = m.name.clone();
                                    view! {
                                        <tr>
                                            <td class="name"><a href=model_href(&m.name)>{m.name.clone()}</a></td>
                                            <td>{m.latest_versions.iter().map(|v| view! {
                                                <a class="chip" href=version_href(&name, &v.version)>{format!("v{} {}", v.version, v.current_stage)}</a>
                                            }).collect_view()}</td>
                                            <td>{m.aliases.iter().map(|a| view! {
                                                <a class="chip" href=version_href(&name, &a.version)>{format!("@{} → v{}", a.alias, a.version)}</a>
                                            }).collect_view()}</td>
                                            <td>{tag_list(&m.tags)}</td>
                                            <td><time>{format_ms(m.last_updated_timestamp)}</time></td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn ModelPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let data = Resource::new(name, model_page);
    view! {
        <section class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                        Ok(None) => view! {
                            <h1>"Model not found"</h1>
                            <p class="empty" role="alert">"There is no registered model named " <code>{name()}</code> "."</p>
                            <p><a href="/models">"All registered models"</a></p>
                        }.into_any(),
                        Ok(Some((m, versions))) => view! { <ModelView m versions/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ModelView(m: RegisteredModel, versions: Vec<ModelVersion>) -> impl IntoView {
    let name = m.name.clone();
    view! {
        <p class="crumbs"><a href="/models">"Registered models"</a>" /"</p>
        <h1>{m.name.clone()}</h1>
        {m.description.clone().filter(|d| !d.is_empty()).map(|d| view! { <p class="description">{d}</p> })}
        <dl class="overview">
            <dt>"Created"</dt><dd>{format_ms(m.creation_timestamp)}</dd>
            <dt>"Last update"</dt><dd>{format_ms(m.last_updated_timestamp)}</dd>
            <dt>"Aliases"</dt><dd>{if m.aliases.is_empty() { view! { "—" }.into_any() } else {
                m.aliases.iter().map(|a| view! {
                    <a class="chip" href=version_href(&name, &a.version)>{format!("@{} → v{}", a.alias, a.version)}</a>
                }).collect_view().into_any()
            }}</dd>
            <dt>"Tags"</dt><dd>{tag_list(&m.tags)}</dd>
        </dl>
        <crate::pages::access::PermissionsPanel kind="registered-model" id=m.name.clone()/>
        <h2>"Versions"</h2>
        {if versions.is_empty() {
            view! { <p class="empty">"No versions yet."</p> }.into_any()
        } else {
            view! {
                <table class="grid" id="versions">
                    <thead><tr><th>"Version"</th><th>"Stage"</th><th>"Aliases"</th><th>"Source run"</th><th>"Created"</th><th>"Status"</th><th>"Tags"</th><th>"Description"</th></tr></thead>
                    <tbody>{versions.into_iter().map(|v| view! {
                        <tr>
                            <td><a href=version_href(&v.name, &v.version)>{format!("Version {}", v.version)}</a></td>
                            <td>{v.current_stage.clone()}</td>
                            <td>{v.aliases.iter().map(|a| view! { <span class="chip">"@"{a.clone()}</span> }).collect_view()}</td>
                            <td>{run_link(&v)}</td>
                            <td><time>{format_ms(v.creation_timestamp)}</time></td>
                            <td>{v.status.clone()}</td>
                            <td>{tag_list(&v.tags)}</td>
                            <td>{v.description.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.into_any()
        }}
    }
}

fn run_link(v: &ModelVersion) -> AnyView {
    match v.run_id.clone().filter(|r| !r.is_empty()) {
        Some(run) => {
            view! { <a class="mono" href=format!("/runs/{}", url_encode(&run))>{run.clone()}</a> }
                .into_any()
        }
        None => view! { "—" }.into_any(),
    }
}

#[component]
pub fn VersionPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (
            p.get("name").unwrap_or_default(),
            p.get("version").unwrap_or_default(),
        )
    };
    let data = Resource::new(key, |(n, v)| version_page(n, v));
    view! {
        <section class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                        Ok(None) => {
                            let (n, v) = key();
                            view! {
                                <h1>"Version not found"</h1>
                                <p class="empty" role="alert">"Model " <code>{n.clone()}</code> " has no version " <code>{v}</code> "."</p>
                                <p><a href=model_href(&n)>"The model's versions"</a></p>
                            }.into_any()
                        }
                        Ok(Some(v)) => view! {
                            <p class="crumbs"><a href="/models">"Registered models"</a>" / "
                                <a href=model_href(&v.name)>{v.name.clone()}</a>" /"</p>
                            <h1>{format!("{} version {}", v.name, v.version)}</h1>
                            {v.description.clone().filter(|d| !d.is_empty()).map(|d| view! { <p class="description">{d}</p> })}
                            <dl class="overview" id="version">
                                <dt>"Stage"</dt><dd>{v.current_stage.clone()}</dd>
                                <dt>"Aliases"</dt><dd>{if v.aliases.is_empty() { "—".to_owned() } else { v.aliases.iter().map(|a| format!("@{a}")).collect::<Vec<_>>().join(", ") }}</dd>
                                <dt>"Status"</dt><dd>{v.status.clone()}{v.status_message.clone().map(|m| format!(" ({m})"))}</dd>
                                <dt>"Source run"</dt><dd>{run_link(&v)}</dd>
                                <dt>"Source"</dt><dd class="mono">{v.source.clone()}</dd>
                                <dt>"Created"</dt><dd>{format_ms(v.creation_timestamp)}</dd>
                                <dt>"Last update"</dt><dd>{format_ms(v.last_updated_timestamp)}</dd>
                                <dt>"User"</dt><dd>{v.user_id.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| "—".into())}</dd>
                                <dt>"Tags"</dt><dd>{tag_list(&v.tags)}</dd>
                            </dl>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
