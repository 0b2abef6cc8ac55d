//! The web UI: Leptos pages rendered on the server and their server functions. Each page
//! module of `app` declares the store trait it needs; the submodules here implement them
//! over the database and `router` provides them in the Leptos context.

mod experiments;
pub mod export;
pub mod grid_query;
mod runs;

use crate::state::AppState;
use axum::{Router, routing::get};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;

/// Page routes, server functions, the CSV export, and the static assets under `/pkg`.
pub fn router(state: &AppState) -> Router<AppState> {
    let experiments: Arc<dyn app::pages::experiments::ssr::ExperimentsStore> =
        Arc::new(experiments::Store(state.clone()));
    let runs: Arc<dyn app::pages::runs::ssr::RunsStore> = Arc::new(runs::Store(state.db.clone()));
    let provide_stores = move || {
        provide_context(experiments.clone());
        provide_context(runs.clone());
    };
    let options = state.leptos_options.clone();
    Router::new()
        .route("/export/runs.csv", get(export::runs_csv))
        .leptos_routes_with_context(
            state,
            generate_route_list(app::App),
            provide_stores,
            move || app::shell((*options).clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
}
