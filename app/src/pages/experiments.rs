//! The experiment list: the landing page. Its filter lives in the URL (`?q=`), so a
//! copied link shows the same list, and the search form works before the WASM loads.

use crate::models::Experiment;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// What this page needs from the store (implemented in `server/src/ui/experiments.rs`).
#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::models::ViewType;
    use crate::pages::ssr::BoxFuture;

    pub trait ExperimentsStore: Send + Sync + 'static {
        /// Experiments matching an MLflow experiment filter, newest first.
        fn search_experiments(
            &self,
            filter: String,
            view: ViewType,
        ) -> BoxFuture<'_, Result<Vec<Experiment>, String>>;
    }
}

/// Experiments for the list page; `filter` is MLflow's experiment filter grammar, or a
/// bare word that is matched against the name.
#[server(prefix = "/_fn")]
pub async fn list_experiments(filter: String) -> Result<Vec<Experiment>, ServerFnError> {
    let filter = filter.trim();
    let filter = if filter.is_empty() || looks_like_filter(filter) {
        filter.to_owned()
    } else {
        format!("name ILIKE '%{}%'", filter.replace('\'', "''"))
    };
    crate::pages::ssr::store::<dyn ssr::ExperimentsStore>()?
        .search_experiments(filter, crate::models::ViewType::ActiveOnly)
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

#[component]
pub fn ExperimentsPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let experiments = Resource::new(q, list_experiments);

    view! {
        <section class="page">
            <h1>"Experiments"</h1>
            <form method="get" class="search">
                <input
                    type="search"
                    name="q"
                    placeholder="name, or a filter: tags.team = 'nlp'"
                    prop:value=q
                    aria-label="Search experiments"
                />
                <button type="submit">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match experiments.await {
                        Err(e) => view! { <p class="error" role="alert">{crate::pages::error_text(&e)}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">
                                "No experiments match. Create one with "
                                <code>"mlflow.set_experiment(\"name\")"</code> "."
                            </p>
                        }.into_any(),
                        Ok(list) => view! { <ExperimentTable list/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ExperimentTable(list: Vec<Experiment>) -> impl IntoView {
    view! {
        <table class="grid">
            <thead>
                <tr><th>"Name"</th><th>"ID"</th><th>"Created"</th><th>"Last update"</th><th>"Artifact location"</th></tr>
            </thead>
            <tbody>
                {list.into_iter().map(|e| view! {
                    <tr>
                        <td class="name">{e.name}</td>
                        <td>{e.experiment_id}</td>
                        <td><time>{format_ms(e.creation_time)}</time></td>
                        <td><time>{format_ms(e.last_update_time)}</time></td>
                        <td class="mono">{e.artifact_location}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
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
