//! The runs grid of one or several experiments (`/experiments/<id>[,<id>...]`).
//!
//! Everything is decided on the server: which columns exist and are loaded (the search
//! projection), the MLflow filter query generated from the column filters (and split
//! back from an edited query), the order and the page. The page renders the answer, keeps
//! every choice in the URL (`state`), and works as plain links and GET forms before the
//! WASM loads.

pub mod columns;
mod filters;
mod grid;
pub mod state;

use columns::Column;
use filters::QueryBox;
use grid::Grid;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map};
use serde::{Deserialize, Serialize};
use state::GridRequest;

/// What this page needs from the store (implemented in `server/src/ui/runs.rs`).
#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::pages::ssr::BoxFuture;

    pub trait RunsStore: Send + Sync + 'static {
        /// One page of the grid for the state in the URL; errors are the server's
        /// message for the user (a bad filter, an unknown experiment).
        fn grid(&self, request: GridRequest) -> BoxFuture<'_, Result<GridPage, String>>;
    }
}

/// An experiment the grid shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRef {
    pub id: String,
    pub name: String,
}

/// One page of the grid, as the server decided it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridPage {
    pub experiments: Vec<ExperimentRef>,
    /// The shown columns, in order.
    pub columns: Vec<Column>,
    /// Every column the chooser offers (keys seen in recent runs, and the shown ones).
    pub available: Vec<Column>,
    /// The column filters, normalised: one entry per shown column with a filter.
    pub filters: Vec<(String, String)>,
    /// The part of the query no shown column holds.
    pub rest: String,
    /// The whole filter query sent to the search (column filters and the rest).
    pub query: String,
    /// The order_by the search used, if any.
    pub order_by: Option<String>,
    pub rows: Vec<GridRow>,
    /// Rows before this page.
    pub offset: u64,
    pub next_page_token: Option<String>,
    /// Whose runs "My runs" showed: the logged-in user, else the `user` parameter.
    pub user: Option<String>,
}

/// One run of the page, its cells already formatted (the same text on the server and in
/// the browser).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridRow {
    pub run_id: String,
    pub name: String,
    pub experiment_id: String,
    pub status: String,
    pub deleted: bool,
    /// 0 for a top-level run; children follow their parent when it is on the page.
    pub depth: u32,
    /// The parent's run id when the parent is not on this page.
    pub orphan_of: Option<String>,
    /// One text per shown column.
    pub cells: Vec<String>,
}

#[server(prefix = "/_fn", input = leptos::server_fn::codec::Json)]
pub async fn runs_grid(request: GridRequest) -> Result<GridPage, ServerFnError> {
    let mut request = request;
    // Logged in, "My runs" are the logged-in user's, whatever the address says.
    if let Some(user) = use_context::<crate::pages::account::CurrentUser>() {
        request.user = Some(user.username);
    }
    crate::pages::ssr::store::<dyn ssr::RunsStore>()?
        .grid(request)
        .await
        .map_err(ServerFnError::new)
}

#[component]
pub fn RunsPage() -> impl IntoView {
    let params = use_params_map();
    let location = use_location();
    let request = Memo::new(move |_| {
        GridRequest::from_url(
            &params.read().get("ids").unwrap_or_default(),
            &location.search.get(),
        )
    });
    // The rows depend on everything but the selection, so ticking a box reloads nothing.
    let data_request = Memo::new(move |_| GridRequest {
        selected: Vec::new(),
        ..request.get()
    });
    let selected = RwSignal::new(request.get_untracked().selected);
    let grid = Resource::new(move || data_request.get(), runs_grid);
    let pending = RwSignal::new(false);

    view! {
        <section class="page runs">
            <div class="progress" class:active=move || pending.get() role="progressbar" aria-label="Loading runs" aria-hidden=move || (!pending.get()).to_string()></div>
            <Transition
                fallback=|| view! { <p class="loading">"Loading runs…"</p> }
                set_pending=pending.write_only()
            >
                {move || Suspend::new(async move {
                    let req = data_request.get();
                    match grid.await {
                        Ok(page) => view! { <Grid page req selected/> }.into_any(),
                        Err(e) => view! {
                            <h1>"Runs"</h1>
                            <QueryBox req=req.clone() query=req.query.clone().unwrap_or_else(|| req.rest.clone())/>
                            <p class="error" role="alert">{crate::pages::error_text(&e)}</p>
                            <p><a href=req.first_page_without_filters_href()>"Clear the filters"</a></p>
                        }.into_any(),
                    }
                })}
            </Transition>
            // One experiment: its permissions, for those who may manage them.
            {move || {
                let ids = params.read().get("ids").unwrap_or_default();
                (!ids.is_empty() && !ids.contains(',')).then(|| view! {
                    <crate::pages::access::PermissionsPanel kind="experiment" id=ids/>
                })
            }}
        </section>
    }
}

impl GridRequest {
    /// The same experiments and columns with no filter at all: the way out of a bad one.
    pub fn first_page_without_filters_href(&self) -> String {
        GridRequest {
            query: None,
            filters: Vec::new(),
            rest: String::new(),
            ..self.first_page()
        }
        .href()
    }
}
