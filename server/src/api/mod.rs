//! The MLflow REST API: routes, the request extractor, input validation and handlers.
//! Every route is served under `/api/2.0/mlflow` and its `/ajax-api/2.0/mlflow` mirror.

mod experiments;
mod extract;
mod metrics;
mod runs;
pub mod validate;

pub use extract::{Mlflow, parse_json};

use crate::db::{Conn, Db};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use axum::{
    Router,
    routing::{get, post},
};
use futures::future::BoxFuture;
use std::sync::Arc;

/// The tracking API's routes, relative to the prefix.
fn tracking_routes() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(experiments::create))
        .route("/experiments/get", get(experiments::get))
        .route("/experiments/get-by-name", get(experiments::get_by_name))
        .route("/experiments/search", get(experiments::search).post(experiments::search))
        .route("/experiments/update", post(experiments::update))
        .route("/experiments/delete", post(experiments::delete))
        .route("/experiments/restore", post(experiments::restore))
        .route("/experiments/set-experiment-tag", post(experiments::set_tag))
        .route("/experiments/delete-experiment-tag", post(experiments::delete_tag))
        .route("/runs/create", post(runs::create))
        .route("/runs/get", get(runs::get))
        .route("/runs/update", post(runs::update))
        .route("/runs/delete", post(runs::delete))
        .route("/runs/restore", post(runs::restore))
        .route("/runs/search", post(runs::search).get(runs::search))
        .route("/runs/log-metric", post(runs::log_metric))
        .route("/runs/log-parameter", post(runs::log_param))
        .route("/runs/log-batch", post(runs::log_batch))
        .route("/runs/set-tag", post(runs::set_tag))
        .route("/runs/delete-tag", post(runs::delete_tag))
        .route("/runs/log-inputs", post(runs::log_inputs))
        .route("/runs/log-model", post(runs::log_model))
        .route("/metrics/get-history", get(metrics::history))
        .route("/metrics/get-history-bulk-interval", get(metrics::bulk_interval))
}

/// The API router: both prefixes, plus the ajax-only routes MLflow's UI uses, and an
/// MLflow-style 404 for anything else under them.
pub fn router() -> Router<AppState> {
    let ajax_only = Router::new().route("/metrics/get-history-bulk", get(metrics::history_bulk));
    Router::new()
        .nest("/api/2.0/mlflow", tracking_routes().fallback(not_found))
        .nest("/ajax-api/2.0/mlflow", tracking_routes().merge(ajax_only).fallback(not_found))
}

async fn not_found(uri: axum::extract::OriginalUri) -> ApiError {
    ApiError::new(app::models::ErrorCode::EndpointNotFound, format!("No API endpoint at {}", uri.path()))
}

/// Runs a write in the writer (see `db::writer`) with the request's data; answers after
/// the commit. `f` may run twice, so it reads `data` and owns nothing else.
pub async fn write<D, T, F>(db: &Db, data: D, f: F) -> Result<T>
where
    D: Send + Sync + 'static,
    T: Send + 'static,
    F: for<'c> Fn(&'c mut Conn, &'c D) -> BoxFuture<'c, Result<T>> + Copy + Send + Sync + 'static,
{
    let data = Arc::new(data);
    db.writer
        .run(move |conn| {
            let data = data.clone();
            Box::pin(async move { f(conn, &data).await })
        })
        .await
}

/// The empty JSON object MLflow answers writes with.
pub fn empty() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({}))
}

/// The offset a search page token points at; no token is the first page.
pub(crate) fn page_offset(token: Option<&str>) -> Result<u64> {
    match token.filter(|t| !t.is_empty()) {
        Some(t) => Ok(crate::search::PageToken::decode(t)?.offset),
        None => Ok(0),
    }
}

pub(crate) fn run_id_of(req: &app::models::RunIdRequest) -> Result<&str> {
    let id = req.id().ok_or_else(|| ApiError::missing("run_id"))?;
    validate::run_id(id)?;
    Ok(id)
}
