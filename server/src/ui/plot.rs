//! The plot page's store and the `/plot.svg` image route, both over `crate::plot`.

use crate::auth::{Caller, Permission, permissions};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use app::pages::plot::{PlotData, PlotQuery, ssr::PlotStore};
use app::pages::ssr::BoxFuture;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

pub struct Store(pub AppState);

impl PlotStore for Store {
    fn plot(&self, query: PlotQuery) -> BoxFuture<'_, Result<PlotData, String>> {
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_runs(&self.0, &caller, &query.runs, Permission::Read)
                .await
                .map_err(|e| e.message)?;
            crate::plot::build(&self.0.db, &query)
                .await
                .map_err(|e| e.message)
        })
    }
}

/// The header that says whether any series was drawn from pixel buckets.
pub const DOWNSAMPLED_HEADER: &str = "x-ferroflow-downsampled";

/// `GET /plot.svg?runs=&keys=&x=&scale=&smooth=`: the plot as an image. Bad parameters
/// are a 400 and unknown runs a 404, in MLflow's error JSON like the API.
pub async fn svg(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    let query = PlotQuery::parse(|k| params.get(k).cloned()).map_err(ApiError::invalid)?;
    permissions::require_runs(&state, &caller, &query.runs, Permission::Read).await?;
    let data = crate::plot::build(&state.db, &query).await?;
    let downsampled = if data.downsampled() { "true" } else { "false" };
    let mut response = data.svg.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    h.insert(DOWNSAMPLED_HEADER, HeaderValue::from_static(downsampled));
    Ok(response)
}
