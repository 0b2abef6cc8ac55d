//! The web UI: Leptos pages rendered on the server and their server functions. Each page
//! module of `app` declares the store trait it needs; the submodules here implement them
//! over the database and `router` provides them in the Leptos context.

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

use crate::state::AppState;
use axum::{Router, routing::get};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;

/// Page routes, server functions, the CSV export, and the static assets under `/pkg`.
pub fn router(state: &AppState) -> Router<AppState> {
    let experiments: Arc<dyn app::pages::experiments::ssr::ExperimentsStore> =
        Arc::new(experiments::Store(state.clone()));
    let run: Arc<dyn app::pages::run::ssr::RunStore> = Arc::new(run::Store(state.db.clone()));
    let artifacts: Arc<dyn app::pages::artifacts::ssr::ArtifactStore> =
        Arc::new(artifacts::Store {
            db: state.db.clone(),
            artifacts: state.artifacts.clone(),
        });
    let plot: Arc<dyn app::pages::plot::ssr::PlotStore> = Arc::new(plot::Store(state.db.clone()));
    let compare: Arc<dyn app::pages::compare::ssr::CompareStore> =
        Arc::new(compare::Store(state.db.clone()));
    let models: Arc<dyn app::pages::models::ssr::ModelsStore> =
        Arc::new(models::Store(state.db.clone()));
    let admin: Arc<dyn app::pages::admin::ssr::AdminStore> =
        Arc::new(admin::Store(state.jobs.clone()));
    let runs: Arc<dyn app::pages::runs::ssr::RunsStore> = Arc::new(runs::Store(state.db.clone()));
    let provide_stores = move || {
        provide_context(models.clone());
        provide_context(compare.clone());
        provide_context(plot.clone());
        provide_context(experiments.clone());
        provide_context(run.clone());
        provide_context(artifacts.clone());
        provide_context(admin.clone());
        provide_context(runs.clone());
    };
    let options = state.leptos_options.clone();
    Router::new()
        .route("/plot.svg", get(plot::svg))
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
