//! The web UI: Leptos pages rendered on the server and their server functions. Each page
//! module of `app` declares the store trait it needs; the submodules here implement them
//! over the database and `router` provides them in the Leptos context.

mod access;
mod admin;
mod artifacts;
mod compare;
mod experiments;
pub mod export;
pub mod grid_query;
mod models;
mod plot;
mod run;
mod runs;

use crate::auth::Caller;
use crate::state::AppState;
use axum::{
    Router,
    routing::{MethodRouter, get},
};
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use std::sync::Arc;

/// The UI's routes besides the pages: the plot image and the CSV export.
fn extra_routes() -> [(&'static str, MethodRouter<AppState>); 2] {
    [
        ("/plot.svg", get(plot::svg)),
        ("/export/runs.csv", get(export::runs_csv)),
    ]
}

/// Every UI route (the pages, [`extra_routes`] and the server functions under `/_fn/`),
/// for the access test.
pub fn route_table() -> Vec<crate::api::Route> {
    let mut list: Vec<crate::api::Route> = extra_routes()
        .into_iter()
        .map(|(path, _)| crate::api::Route {
            method: "get",
            path: path.to_owned(),
        })
        .collect();
    list.extend(page_routes().iter().map(|r| crate::api::Route {
        method: "get",
        path: r.path().to_owned(),
    }));
    list.extend(
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| crate::api::Route {
            method: "post",
            path: path.to_owned(),
        }),
    );
    list
}

/// The app's page routes, generated once per process. Generating them renders the app
/// with resource loading switched off by a process-wide flag (leptos_server's
/// `SuppressResourceLoad`): a resource that first polls on another thread meanwhile waits
/// forever (leptos-rs/leptos#4773). One server builds its router once, before it serves,
/// but tests start many servers in one process, and their pages hung at random.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// Page routes, server functions, the CSV export, and the static assets under `/pkg`.
pub fn router(state: &AppState) -> Router<AppState> {
    let experiments: Arc<dyn app::pages::experiments::ssr::ExperimentsStore> =
        Arc::new(experiments::Store(state.clone()));
    let run: Arc<dyn app::pages::run::ssr::RunStore> = Arc::new(run::Store(state.clone()));
    let artifacts: Arc<dyn app::pages::artifacts::ssr::ArtifactStore> =
        Arc::new(artifacts::Store(state.clone()));
    let plot: Arc<dyn app::pages::plot::ssr::PlotStore> = Arc::new(plot::Store(state.clone()));
    let compare: Arc<dyn app::pages::compare::ssr::CompareStore> =
        Arc::new(compare::Store(state.clone()));
    let models: Arc<dyn app::pages::models::ssr::ModelsStore> =
        Arc::new(models::Store(state.clone()));
    let admin: Arc<dyn app::pages::admin::ssr::AdminStore> =
        Arc::new(admin::Store(state.jobs.clone()));
    let access: Arc<dyn app::pages::access::ssr::AccessStore> =
        Arc::new(access::Store(state.clone()));
    let runs: Arc<dyn app::pages::runs::ssr::RunsStore> = Arc::new(runs::Store(state.clone()));
    let provide_stores = move || {
        // Who is logged in, for the header and "My runs" (see app::pages::account).
        if let Some(user) = leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<crate::auth::Caller>().cloned())
            .filter(|c| !c.is_anonymous())
        {
            provide_context(app::pages::account::CurrentUser {
                username: user.username,
                is_admin: user.is_admin,
            });
        }
        provide_context(models.clone());
        provide_context(compare.clone());
        provide_context(plot.clone());
        provide_context(experiments.clone());
        provide_context(run.clone());
        provide_context(artifacts.clone());
        provide_context(admin.clone());
        provide_context(runs.clone());
        provide_context(access.clone());
    };
    let options = state.leptos_options.clone();
    let mut router = Router::new();
    for (path, route) in extra_routes() {
        router = router.route(path, route);
    }
    router
        .leptos_routes_with_context(state, page_routes(), provide_stores, move || {
            app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
}

/// The caller of the page or server function being run: the `authenticate` layer put it
/// in the request's extensions, and leptos_axum provides the request's parts in the
/// context. Call it before the store's future starts (the context belongs to the
/// rendering owner). Without one, a caller with no rights at all (fail closed).
pub(crate) fn caller() -> Caller {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Caller>().cloned())
        .unwrap_or(Caller {
            user_id: None,
            username: String::new(),
            groups: Vec::new(),
            is_admin: false,
            via: crate::auth::Via::Session,
        })
}
