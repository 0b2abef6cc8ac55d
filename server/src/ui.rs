//! The web UI: Leptos pages rendered on the server, their server functions, and the
//! store access pages get through `app::pages::*::ssr::UiStore`.

use crate::db::Db;
use crate::search::{self, ExperimentQuery};
use crate::state::AppState;
use crate::store;
use app::models::{Experiment, ViewType};
use app::pages::experiments::ssr::{BoxFuture, UiStore};
use axum::Router;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;

/// The store as the pages see it.
struct PageStore(Db);

impl UiStore for PageStore {
    fn search_experiments(
        &self,
        filter: String,
        view: ViewType,
    ) -> BoxFuture<'_, Result<Vec<Experiment>, String>> {
        Box::pin(async move {
            let filter = search::parse_experiment_filter(&filter).map_err(|e| e.to_string())?;
            let query = ExperimentQuery {
                filter: filter.as_ref(),
                order_by: &[],
                view: view.into(),
                offset: 0,
                limit: 1000,
            };
            store::experiments::search(&self.0, &query)
                .await
                .map(|(list, _)| list)
                .map_err(|e| e.message)
        })
    }
}

/// Page routes, server functions, and the static assets under `/pkg`.
pub fn router(state: &AppState) -> Router<AppState> {
    let store: Arc<dyn UiStore> = Arc::new(PageStore(state.db.clone()));
    let options = state.leptos_options.clone();
    Router::new()
        .leptos_routes_with_context(
            state,
            generate_route_list(app::App),
            move || leptos::prelude::provide_context(store.clone()),
            move || app::shell((*options).clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
}
