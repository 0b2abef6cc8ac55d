//! The MLflow REST API: routes, the request extractor, input validation and handlers.
//! Every route is served under `/api/2.0/mlflow` and its `/ajax-api/2.0/mlflow` mirror;
//! the artifact proxy under `/api/2.0/mlflow-artifacts` and its mirror.

pub(crate) mod artifacts;
pub(crate) mod experiments;
mod extract;
mod logged_models;
mod metrics;
mod openapi;
mod point_queue;
mod registry;
pub(crate) mod runs;
pub mod validate;

pub use extract::{BODY_LIMIT, Mlflow, parse_json};
pub use point_queue::PointQueue;

use crate::db::{Conn, Db};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use app::models::ErrorCode;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, patch, post},
};
use futures::future::BoxFuture;
use std::sync::Arc;

/// One route as the route table lists it: a method (`get`, `post`, ...) and a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: String,
}

/// A router and the list of what it serves, from one listing: the access test
/// (`tests/access_table.rs`) walks the list, so a route added here without a permission
/// check fails it.
macro_rules! routes {
    ($($path:literal => $m:ident($h:expr) $(.$mm:ident($hh:expr))*),* $(,)?) => {{
        let router = Router::new()$(.route($path, $m($h)$(.$mm($hh))*))*;
        let list = vec![$(
            Route { method: stringify!($m), path: $path.to_owned() },
            $(Route { method: stringify!($mm), path: $path.to_owned() },)*
        )*];
        (router, list)
    }};
}

type Routes = (Router<AppState>, Vec<Route>);

/// The tracking API's routes, relative to the prefix.
fn tracking_routes() -> Routes {
    let (router, mut list) = routes! {
        "/experiments/create" => post(experiments::create),
        "/experiments/get" => get(experiments::get),
        "/experiments/get-by-name" => get(experiments::get_by_name),
        "/experiments/search" => get(experiments::search).post(experiments::search),
        "/experiments/update" => post(experiments::update),
        "/experiments/delete" => post(experiments::delete),
        "/experiments/restore" => post(experiments::restore),
        "/experiments/set-experiment-tag" => post(experiments::set_tag),
        "/experiments/delete-experiment-tag" => post(experiments::delete_tag),
        "/runs/create" => post(runs::create),
        "/runs/get" => get(runs::get),
        "/runs/update" => post(runs::update),
        "/runs/delete" => post(runs::delete),
        "/runs/restore" => post(runs::restore),
        "/runs/search" => post(runs::search).get(runs::search),
        "/runs/log-metric" => post(runs::log_metric),
        "/runs/log-parameter" => post(runs::log_param),
        "/runs/log-batch" => post(runs::log_batch),
        "/runs/set-tag" => post(runs::set_tag),
        "/runs/delete-tag" => post(runs::delete_tag),
        "/runs/log-inputs" => post(runs::log_inputs),
        "/runs/log-model" => post(runs::log_model),
        "/runs/outputs" => post(logged_models::log_outputs),
        "/metrics/get-history" => get(metrics::history),
        "/metrics/get-history-bulk-interval" => get(metrics::bulk_interval),
        "/artifacts/list" => get(artifacts::list_run),
        "/openapi.json" => get(openapi::document),
    };
    let (models, model_list) = logged_model_routes();
    let (registry, registry_list) = registry_routes();
    let (permissions, permission_list) = crate::auth::api::routes();
    list.extend(model_list);
    list.extend(registry_list);
    list.extend(permission_list);
    (
        router.merge(models).merge(registry).merge(permissions),
        list,
    )
}

/// MLflow 3.x logged models.
fn logged_model_routes() -> Routes {
    routes! {
        "/logged-models" => post(logged_models::create),
        "/logged-models/search" => post(logged_models::search),
        "/logged-models/{model_id}" => get(logged_models::get)
            .patch(logged_models::finalize)
            .delete(logged_models::delete),
        "/logged-models/{model_id}/tags" => patch(logged_models::set_tags),
        "/logged-models/{model_id}/tags/{tag_key}" => delete(logged_models::delete_tag),
        "/logged-models/{model_id}/params" => post(logged_models::log_params),
        "/logged-models/{model_id}/artifacts/directories" => get(logged_models::list_artifacts),
        "/logged-models/{model_id}/artifacts/files" => get(logged_models::get_artifact),
    }
}

/// The model registry.
fn registry_routes() -> Routes {
    routes! {
        "/registered-models/create" => post(registry::create_model),
        "/registered-models/get" => get(registry::get_model),
        "/registered-models/rename" => post(registry::rename_model),
        "/registered-models/update" => patch(registry::update_model),
        "/registered-models/delete" => delete(registry::delete_model),
        "/registered-models/search" => get(registry::search_models),
        "/registered-models/get-latest-versions" => post(registry::latest_versions)
            .get(registry::latest_versions),
        "/registered-models/set-tag" => post(registry::set_model_tag),
        "/registered-models/delete-tag" => delete(registry::delete_model_tag),
        "/registered-models/alias" => post(registry::set_alias)
            .delete(registry::delete_alias)
            .get(registry::get_by_alias),
        "/model-versions/create" => post(registry::create_version),
        "/model-versions/get" => get(registry::get_version),
        "/model-versions/update" => patch(registry::update_version),
        "/model-versions/transition-stage" => post(registry::transition_stage),
        "/model-versions/delete" => delete(registry::delete_version),
        "/model-versions/search" => get(registry::search_versions),
        "/model-versions/get-download-uri" => get(registry::download_uri),
        "/model-versions/set-tag" => post(registry::set_version_tag),
        "/model-versions/delete-tag" => delete(registry::delete_version_tag),
    }
}

/// The artifact proxy, relative to its prefix. Uploads stream to storage, so the
/// server's body limit does not apply to them.
fn artifact_routes() -> Routes {
    let (router, list) = routes! {
        "/artifacts" => get(artifacts::list),
        "/artifacts/{*path}" => get(artifacts::download)
            .put(artifacts::upload)
            .delete(artifacts::delete),
        "/mpu/create/{*path}" => post(artifacts::multipart_unsupported),
        "/mpu/complete/{*path}" => post(artifacts::multipart_unsupported),
        "/mpu/abort/{*path}" => post(artifacts::multipart_unsupported),
    };
    (
        router
            .layer(DefaultBodyLimit::disable())
            .fallback(not_found),
        list,
    )
}

/// The route only the ajax prefix has (MLflow's UI reads it), relative to that prefix.
fn ajax_only_routes() -> Routes {
    routes! {
        "/metrics/get-history-bulk" => get(metrics::history_bulk),
    }
}

/// The routes outside the prefixed groups: server-info,
/// the UI's artifact downloads, and ferroflow's token and service-account API.
fn other_routes() -> Routes {
    let (router, mut list) = routes! {
        "/api/3.0/mlflow/server-info" => get(artifacts::server_info),
        "/ajax-api/3.0/mlflow/server-info" => get(artifacts::server_info),
        "/get-artifact" => get(artifacts::get_run_artifact),
        "/model-versions/get-artifact" => get(artifacts::get_model_version_artifact),
    };
    let (tokens, token_list) = crate::auth::api::token_routes();
    list.extend(token_list);
    (router.merge(tokens), list)
}

const TRACKING_PREFIXES: [&str; 2] = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"];
const ARTIFACT_PREFIXES: [&str; 2] = [
    "/api/2.0/mlflow-artifacts",
    "/ajax-api/2.0/mlflow-artifacts",
];

/// The API router: both prefixes, plus the ajax-only routes MLflow's UI uses, and an
/// MLflow-style 404 for anything else under them.
pub fn router() -> Router<AppState> {
    let (other, _) = other_routes();
    let mut router = Router::new();
    for prefix in TRACKING_PREFIXES {
        let mut tracking = tracking_routes().0;
        if prefix.starts_with("/ajax-api") {
            tracking = tracking.merge(ajax_only_routes().0);
        }
        router = router.nest(prefix, tracking.fallback(not_found));
    }
    for prefix in ARTIFACT_PREFIXES {
        router = router.nest(prefix, artifact_routes().0);
    }
    router
        .merge(other)
        .layer(axum::middleware::from_fn(json_errors))
}

/// Every API route with its full path, as [`router`] serves them.
pub fn route_table() -> Vec<Route> {
    let mut all = Vec::new();
    for (prefixes, (_, list)) in [
        (TRACKING_PREFIXES, tracking_routes()),
        (ARTIFACT_PREFIXES, artifact_routes()),
    ] {
        for prefix in prefixes {
            all.extend(list.iter().map(|r| Route {
                method: r.method,
                path: format!("{prefix}{}", r.path),
            }));
        }
    }
    all.extend(ajax_only_routes().1.into_iter().map(|r| Route {
        method: r.method,
        path: format!("{}{}", TRACKING_PREFIXES[1], r.path),
    }));
    all.extend(other_routes().1);
    all
}

/// Errors made outside the handlers come from axum as plain text: a path segment that is
/// not UTF-8, a method the route does not take, a body over the limit read by an
/// extractor other than `Mlflow<T>`. The API answers every error as MLflow's JSON, so
/// they are rewritten, status kept. (416 keeps its empty body, as MLflow sends it.)
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json
        || !(status.is_client_error() || status.is_server_error())
        || status == StatusCode::RANGE_NOT_SATISFIABLE
    {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let code = match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ErrorCode::EndpointNotFound,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::TemporarilyUnavailable,
        s if s.is_server_error() => ErrorCode::InternalError,
        _ => ErrorCode::BadRequest,
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        message
    };
    ApiError::new(code, message)
        .with_status(status)
        .into_response()
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
