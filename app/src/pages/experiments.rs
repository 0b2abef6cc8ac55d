//! The experiment list: the landing page. Its filter and lifecycle view live in the URL
//! (`?q=`, `?view=deleted`), so a copied link shows the same list, and the search form
//! works before the WASM loads. Create, rename, delete and restore are server functions
//! that go through the API's own handlers (validation, writer), so the page shows the
//! same messages the API gives.

use crate::models::Experiment;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// What this page needs from the store (implemented in `server/src/ui/experiments.rs`).
#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::models::ViewType;
    use crate::pages::ssr::BoxFuture;

    pub trait ExperimentsStore: Send + Sync + 'static {
        /// Experiments matching an MLflow experiment filter, newest first, with their
        /// run counts and last activity.
        fn search_experiments(
            &self,
            filter: String,
            view: ViewType,
        ) -> BoxFuture<'_, Result<Vec<ExperimentRow>, String>>;
        /// Creates an experiment; its id.
        fn create_experiment(&self, name: String) -> BoxFuture<'_, Result<String, String>>;
        fn rename_experiment(
            &self,
            id: String,
            new_name: String,
        ) -> BoxFuture<'_, Result<(), String>>;
        fn delete_experiment(&self, id: String) -> BoxFuture<'_, Result<(), String>>;
        fn restore_experiment(&self, id: String) -> BoxFuture<'_, Result<(), String>>;
    }
}

/// An experiment with what the list shows about its runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRow {
    pub experiment: Experiment,
    /// Active runs.
    pub runs: i64,
    /// The latest of the experiment's last update and its runs' starts and ends.
    pub last_activity: i64,
}

#[cfg(feature = "ssr")]
fn store() -> Result<std::sync::Arc<dyn ssr::ExperimentsStore>, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::ExperimentsStore>()
}

/// Experiments for the list page; `filter` is MLflow's experiment filter grammar, or a
/// bare word that is matched against the name. `view` is `active` (default), `deleted`.
#[server(prefix = "/_fn")]
pub async fn list_experiments(
    filter: String,
    view: String,
) -> Result<Vec<ExperimentRow>, ServerFnError> {
    let filter = filter.trim();
    let filter = if filter.is_empty() || looks_like_filter(filter) {
        filter.to_owned()
    } else {
        format!("name ILIKE '%{}%'", filter.replace('\'', "''"))
    };
    let view = if view == "deleted" {
        crate::models::ViewType::DeletedOnly
    } else {
        crate::models::ViewType::ActiveOnly
    };
    store()?
        .search_experiments(filter, view)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn create_experiment(name: String) -> Result<String, ServerFnError> {
    store()?
        .create_experiment(name)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn rename_experiment(id: String, new_name: String) -> Result<(), ServerFnError> {
    store()?
        .rename_experiment(id, new_name)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn delete_experiment(id: String) -> Result<(), ServerFnError> {
    store()?
        .delete_experiment(id)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn restore_experiment(id: String) -> Result<(), ServerFnError> {
    store()?
        .restore_experiment(id)
        .await
        .map_err(ServerFnError::new)
}

/// A search box entry is a filter expression when it compares something; otherwise it
/// is a name fragment.
pub fn looks_like_filter(s: &str) -> bool {
    let upper = s.to_ascii_uppercase();
    ["=", "<", ">", " LIKE ", " ILIKE ", " IN ", " IS "]
        .iter()
        .any(|op| upper.contains(op))
}

/// The page's actions, shared with the rows.
#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateExperiment>,
    rename: ServerAction<RenameExperiment>,
    delete: ServerAction<DeleteExperiment>,
    restore: ServerAction<RestoreExperiment>,
}

#[component]
pub fn ExperimentsPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let view = move || query.read().get("view").unwrap_or_default();
    let deleted = move || view() == "deleted";
    let actions = Actions {
        create: ServerAction::new(),
        rename: ServerAction::new(),
        delete: ServerAction::new(),
        restore: ServerAction::new(),
    };
    // Every finished action reloads the list.
    let experiments = Resource::new(
        move || {
            (
                q(),
                view(),
                actions.create.version().get()
                    + actions.rename.version().get()
                    + actions.delete.version().get()
                    + actions.restore.version().get(),
            )
        },
        |(q, view, _)| list_experiments(q, view),
    );
    // The latest finished action's error, with the server's message; a later success
    // clears it.
    let error = RwSignal::new(None::<String>);
    fn track<A, T>(action: ServerAction<A>, error: RwSignal<Option<String>>)
    where
        A: leptos::server_fn::ServerFn<Output = T, Error = ServerFnError>
            + Clone
            + Send
            + Sync
            + 'static,
        T: Clone + Send + Sync + 'static,
    {
        Effect::new(move |_| {
            if let Some(result) = action.value().get() {
                error.set(result.err().map(|e| crate::pages::error_text(&e)));
            }
        });
    }
    track(actions.create, error);
    track(actions.rename, error);
    track(actions.delete, error);
    track(actions.restore, error);
    let pending = move || {
        actions.create.pending().get()
            || actions.rename.pending().get()
            || actions.delete.pending().get()
            || actions.restore.pending().get()
    };
    let toggle = move |to_deleted: bool| {
        let q = q();
        let mut href = String::from("/");
        let mut params = Vec::new();
        if !q.is_empty() {
            params.push(format!("q={}", crate::pages::url_encode(&q)));
        }
        if to_deleted {
            params.push("view=deleted".to_owned());
        }
        if !params.is_empty() {
            href.push('?');
            href.push_str(&params.join("&"));
        }
        href
    };

    view! {
        <section class="page">
            <h1>"Experiments"</h1>
            <div class="toolbar">
                <form method="get" class="search">
                    <input
                        type="search"
                        name="q"
                        placeholder="name, or a filter: tags.team = 'nlp'"
                        prop:value=q
                        aria-label="Search experiments"
                    />
                    {move || deleted().then(|| view! { <input type="hidden" name="view" value="deleted"/> })}
                    <button type="submit">"Search"</button>
                </form>
                <nav class="toggle" aria-label="Lifecycle">
                    <a href=move || toggle(false) aria-current=move || (!deleted()).then_some("true")>"Active"</a>
                    <a href=move || toggle(true) aria-current=move || deleted().then_some("true")>"Deleted"</a>
                </nav>
                <ActionForm action=actions.create attr:class="create">
                    <input type="text" name="name" required placeholder="new experiment name" aria-label="New experiment name"/>
                    <button type="submit">"Create"</button>
                </ActionForm>
            </div>
            <div class="progress" class:active=pending role="progressbar" aria-label="Saving"></div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match experiments.await {
                        Err(e) => view! { <p class="error" role="alert">{crate::pages::error_text(&e)}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">
                                "No experiments match. Create one above, or with "
                                <code>"mlflow.set_experiment(\"name\")"</code> "."
                            </p>
                        }.into_any(),
                        Ok(list) => view! { <ExperimentTable list actions/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ExperimentTable(list: Vec<ExperimentRow>, actions: Actions) -> impl IntoView {
    view! {
        // Ticking experiments and submitting opens one grid over all of them.
        <form method="get" action="/experiments/selected" id="pick-experiments"></form>
        <table class="grid">
            <thead>
                <tr>
                    <th class="select"><span class="visually-hidden">"Select"</span></th>
                    <th>"Name"</th><th>"ID"</th><th class="numeric">"Runs"</th><th>"Last activity"</th>
                    <th>"Created"</th><th>"Artifact location"</th><th>"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|row| {
                    let e = row.experiment;
                    let id = e.experiment_id.clone();
                    let active = e.lifecycle_stage == "active";
                    // ActionForm children are closures: each gets its own copies.
                    let (id_rename, id_delete, id_restore) = (id.clone(), id.clone(), id.clone());
                    let name = e.name.clone();
                    let rename_label = format!("New name for {}", e.name);
                    let delete_label = format!("Delete {}", e.name);
                    let restore_label = format!("Restore {}", e.name);
                    view! {
                        <tr class:deleted=!active>
                            <td class="select">
                                <input type="checkbox" form="pick-experiments" name="experiments"
                                    value=id.clone() aria-label=format!("Select {}", e.name)/>
                            </td>
                            <td class="name"><a href=format!("/experiments/{id}")>{e.name.clone()}</a></td>
                            <td>{id.clone()}</td>
                            <td class="numeric">{row.runs}</td>
                            <td><time>{format_ms(row.last_activity)}</time></td>
                            <td><time>{format_ms(e.creation_time)}</time></td>
                            <td class="mono">{e.artifact_location}</td>
                            <td><div class="actions">
                                {if active {
                                    view! {
                                        <details class="rename">
                                            <summary>"Rename"</summary>
                                            <ActionForm action=actions.rename>
                                                <input type="hidden" name="id" value=id_rename.clone()/>
                                                <input type="text" name="new_name" required value=name.clone()
                                                    aria-label=rename_label.clone()/>
                                                <button type="submit">"Save"</button>
                                            </ActionForm>
                                        </details>
                                        <ActionForm action=actions.delete attr:class="inline">
                                            <input type="hidden" name="id" value=id_delete.clone()/>
                                            <button type="submit" class="danger" aria-label=delete_label.clone()>"Delete"</button>
                                        </ActionForm>
                                    }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=actions.restore attr:class="inline">
                                            <input type="hidden" name="id" value=id_restore.clone()/>
                                            <button type="submit" aria-label=restore_label.clone()>"Restore"</button>
                                        </ActionForm>
                                    }.into_any()
                                }}
                            </div></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <button type="submit" form="pick-experiments" class="small">"Show runs of the selected experiments"</button>
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM` UTC: the same text on the server
/// and in the browser, so hydration never disagrees.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_milliseconds_as_utc() {
        assert_eq!(format_ms(0), "1970-01-01 00:00");
        assert_eq!(format_ms(1_700_000_000_000), "2023-11-14 22:13");
    }

    #[test]
    fn tells_filters_from_name_fragments() {
        assert!(looks_like_filter("tags.team = 'nlp'"));
        assert!(looks_like_filter("name like '%x%'"));
        assert!(!looks_like_filter("resnet"));
    }
}
