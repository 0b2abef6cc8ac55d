//! The MLflow REST API: routes, the request extractor, input validation and handlers.
//! Every route is served under `/api/2.0/mlflow` and its `/ajax-api/2.0/mlflow` mirror;
//! the artifact proxy under `/api/2.0/mlflow-artifacts` and its mirror.

pub(crate) mod artifacts;
pub(crate) mod experiments;
mod extract;
mod logged_models;
mod metrics;
mod point_queue;
mod registry;
pub(crate) mod runs;
pub mod validate;

pub use extract::{Mlflow, parse_json};
pub use point_queue::PointQueue;

use crate::db::{Conn, Db};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{delete, get, patch, post},
};
use futures::future::BoxFuture;
use std::sync::Arc;

/// The tracking API's routes, relative to the prefix.
fn tracking_routes() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(experiments::create))
        .route("/experiments/get", get(experiments::get))
        .route("/experiments/get-by-name", get(experiments::get_by_name))
        .route(
            "/experiments/search",
            get(experiments::search).post(experiments::search),
        )
        .route("/experiments/update", post(experiments::update))
        .route("/experiments/delete", post(experiments::delete))
        .route("/experiments/restore", post(experiments::restore))
        .route(
            "/experiments/set-experiment-tag",
            post(experiments::set_tag),
        )
        .route(
            "/experiments/delete-experiment-tag",
            post(experiments::delete_tag),
        )
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
        .route("/runs/outputs", post(logged_models::log_outputs))
        .route("/metrics/get-history", get(metrics::history))
        .route(
            "/metrics/get-history-bulk-interval",
            get(metrics::bulk_interval),
        )
        .route("/artifacts/list", get(artifacts::list_run))
        .merge(logged_model_routes())
        .merge(registry_routes())
}

/// MLflow 3.x logged models.
fn logged_model_routes() -> Router<AppState> {
    Router::new()
        .route("/logged-models", post(logged_models::create))
        .route("/logged-models/search", post(logged_models::search))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get)
                .patch(logged_models::finalize)
                .delete(logged_models::delete),
        )
        .route(
            "/logged-models/{model_id}/tags",
            patch(logged_models::set_tags),
        )
        .route(
            "/logged-models/{model_id}/tags/{tag_key}",
            delete(logged_models::delete_tag),
        )
        .route(
            "/logged-models/{model_id}/params",
            post(logged_models::log_params),
        )
        .route(
            "/logged-models/{model_id}/artifacts/directories",
            get(logged_models::list_artifacts),
        )
        .route(
            "/logged-models/{model_id}/artifacts/files",
            get(logged_models::get_artifact),
        )
}

/// The model registry.
fn registry_routes() -> Router<AppState> {
    Router::new()
        .route("/registered-models/create", post(registry::create_model))
        .route("/registered-models/get", get(registry::get_model))
        .route("/registered-models/rename", post(registry::rename_model))
        .route("/registered-models/update", patch(registry::update_model))
        .route("/registered-models/delete", delete(registry::delete_model))
        .route("/registered-models/search", get(registry::search_models))
        .route(
            "/registered-models/get-latest-versions",
            post(registry::latest_versions).get(registry::latest_versions),
        )
        .route("/registered-models/set-tag", post(registry::set_model_tag))
        .route(
            "/registered-models/delete-tag",
            delete(registry::delete_model_tag),
        )
        .route(
            "/registered-models/alias",
            post(registry::set_alias)
                .delete(registry::delete_alias)
                .get(registry::get_by_alias),
        )
        .route("/model-versions/create", post(registry::create_version))
        .route("/model-versions/get", get(registry::get_version))
        .route("/model-versions/update", patch(registry::update_version))
        .route(
            "/model-versions/transition-stage",
            post(registry::transition_stage),
        )
        .route("/model-versions/delete", delete(registry::delete_version))
        .route("/model-versions/search", get(registry::search_versions))
        .route(
            "/model-versions/get-download-uri",
            get(registry::download_uri),
        )
        .route("/model-versions/set-tag", post(registry::set_version_tag))
        .route(
            "/model-versions/delete-tag",
            delete(registry::delete_version_tag),
        )
}

/// The artifact proxy, relative to its prefix. Uploads stream to storage, so the
/// server's body limit does not apply to them.
fn artifact_routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(artifacts::list))
        .route(
            "/artifacts/{*path}",
            get(artifacts::download)
                .put(artifacts::upload)
                .delete(artifacts::delete),
        )
        .route(
            "/mpu/create/{*path}",
            post(artifacts::multipart_unsupported),
        )
        .route(
            "/mpu/complete/{*path}",
            post(artifacts::multipart_unsupported),
        )
        .route("/mpu/abort/{*path}", post(artifacts::multipart_unsupported))
        .layer(DefaultBodyLimit::disable())
        .fallback(not_found)
}

/// The API router: both prefixes, plus the ajax-only routes MLflow's UI uses, and an
/// MLflow-style 404 for anything else under them.
pub fn router() -> Router<AppState> {
    let ajax_only = Router::new().route("/metrics/get-history-bulk", get(metrics::history_bulk));
    Router::new()
        .nest("/api/2.0/mlflow", tracking_routes().fallback(not_found))
        .nest(
            "/ajax-api/2.0/mlflow",
            tracking_routes().merge(ajax_only).fallback(not_found),
        )
        .nest("/api/2.0/mlflow-artifacts", artifact_routes())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifact_routes())
        .route("/api/3.0/mlflow/server-info", get(artifacts::server_info))
        .route(
            "/ajax-api/3.0/mlflow/server-info",
            get(artifacts::server_info),
        )
        .route("/get-artifact", get(artifacts::get_run_artifact))
        .route(
            "/model-versions/get-artifact",
            get(artifacts::get_model_version_artifact),
        )
}

async fn not_found(uri: axum::extract::OriginalUri) -> ApiError {
    ApiError::new(
        app::models::ErrorCode::EndpointNotFound,
        format!("No API endpoint at {}", uri.path()),
    )
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

/// The token of the page after `offset`, if there is one.
pub(crate) fn next_page_token(more: bool, offset: u64, limit: u64) -> Option<String> {
    more.then(|| {
        crate::search::PageToken {
            offset: offset + limit,
        }
        .encode()
    })
}

pub(crate) fn run_id_of(req: &app::models::RunIdRequest) -> Result<&str> {
    let id = req.id().ok_or_else(|| ApiError::missing("run_id"))?;
    validate::run_id(id)?;
    Ok(id)
}
