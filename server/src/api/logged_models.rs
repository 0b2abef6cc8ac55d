//! `/logged-models/*` handlers (MLflow 3.x `log_model`) and `runs/outputs`.

use super::{Mlflow, empty, run_id_of, validate, write};
use crate::auth::permissions;
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Result};
use crate::search::{self, LoggedModelAttribute, LoggedModelQuery};
use crate::state::AppState;
use crate::store::logged_models as store;
use crate::store::{experiments, runs};
use app::models::*;
use axum::{
    Json,
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};

const MAX_RESULTS: i64 = 1000;

fn checked(pairs: &[KeyValue]) -> Result<()> {
    for p in pairs {
        validate::key(&p.key, validate::Key::Tag)?;
    }
    Ok(())
}

async fn respond(state: &AppState, id: &str) -> Result<Json<LoggedModelResponse>> {
    Ok(Json(LoggedModelResponse {
        model: store::get(&state.db, id, false).await?,
    }))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<CreateLoggedModel>,
) -> Result<Json<LoggedModelResponse>> {
    let experiment_id = experiments::parse_id(validate::required(
        req.experiment_id.as_deref(),
        "experiment_id",
    )?)?;
    permissions::require_experiment(&state, &caller, experiment_id, Permission::Edit).await?;
    checked(&req.params)?;
    checked(&req.tags)?;
    let name = match req.name.filter(|n| !n.is_empty()) {
        Some(n) => {
            validate::length(&n, 500, "name")?;
            n
        }
        None => runs::generate_name(),
    };
    let new = store::NewLoggedModel {
        model_id: format!("m-{}", uuid::Uuid::new_v4().simple()),
        experiment_id,
        name,
        model_type: req.model_type.filter(|t| !t.is_empty()),
        source_run_id: req.source_run_id.filter(|r| !r.is_empty()),
        params: req.params,
        tags: req.tags,
    };
    let id = new.model_id.clone();
    write(&state.db, new, |conn, new| {
        Box::pin(store::create(conn, new))
    })
    .await?;
    respond(&state, &id).await
}

#[derive(serde::Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct GetQuery {
    allow_deleted: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Mlflow(q): Mlflow<GetQuery>,
) -> Result<Json<LoggedModelResponse>> {
    permissions::require_logged_model(&state, &caller, &id, Permission::Read).await?;
    let allow_deleted = q
        .allow_deleted
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(Json(LoggedModelResponse {
        model: store::get(&state.db, &id, allow_deleted).await?,
    }))
}

/// `PATCH logged-models/{id}`: sets the final status.
pub async fn finalize(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Mlflow(req): Mlflow<FinalizeLoggedModel>,
) -> Result<Json<LoggedModelResponse>> {
    permissions::require_logged_model(&state, &caller, &id, Permission::Edit).await?;
    let status = req.status.ok_or_else(|| ApiError::missing("status"))?;
    write(&state.db, (id.clone(), status), |conn, (id, status)| {
        Box::pin(store::finalize(conn, id, *status))
    })
    .await?;
    respond(&state, &id).await
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    permissions::require_logged_model(&state, &caller, &id, Permission::Manage).await?;
    write(&state.db, id, |conn, id| Box::pin(store::delete(conn, id))).await?;
    Ok(empty())
}

/// `PATCH logged-models/{id}/tags`.
pub async fn set_tags(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Mlflow(req): Mlflow<LoggedModelKeyValues>,
) -> Result<Json<serde_json::Value>> {
    permissions::require_logged_model(&state, &caller, &id, Permission::Edit).await?;
    checked(&req.tags)?;
    write(&state.db, (id, req.tags), |conn, (id, tags)| {
        Box::pin(store::set_tags(conn, id, tags))
    })
    .await?;
    Ok(empty())
}

/// `DELETE logged-models/{id}/tags/{key}`.
pub async fn delete_tag(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>> {
    permissions::require_logged_model(&state, &caller, &id, Permission::Edit).await?;
    write(&state.db, (id, key), |conn, (id, key)| {
        Box::pin(store::delete_tag(conn, id, key))
    })
    .await?;
    Ok(empty())
}

/// `POST logged-models/{id}/params`.
pub async fn log_params(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Mlflow(req): Mlflow<LoggedModelKeyValues>,
) -> Result<Json<serde_json::Value>> {
    permissions::require_logged_model(&state, &caller, &id, Permission::Edit).await?;
    checked(&req.params)?;
    write(&state.db, (id, req.params), |conn, (id, params)| {
        Box::pin(store::log_params(conn, id, params))
    })
    .await?;
    Ok(empty())
}

/// `POST logged-models/search`: by experiment, with MLflow's logged-model filter
/// (attributes, tags, params) and ordering by attribute.
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<SearchLoggedModels>,
) -> Result<Json<SearchLoggedModelsResponse>> {
    if req.experiment_ids.is_empty() {
        return Err(ApiError::missing("experiment_ids"));
    }
    let experiment_ids = req
        .experiment_ids
        .iter()
        .map(|id| experiments::parse_id(id))
        .collect::<Result<Vec<_>>>()?;
    let experiment_ids =
        permissions::readable_experiments(&state, &caller, &experiment_ids).await?;
    let filter = search::parse_logged_model_filter(req.filter.as_deref().unwrap_or_default())?;
    let limit = validate::max_results(req.max_results, 50, MAX_RESULTS)?;
    let order_by = req
        .order_by
        .iter()
        .map(|o| {
            let name = o.field_name.as_deref().unwrap_or_default();
            LoggedModelAttribute::from_key(name)
                .map(|f| (f, o.ascending.unwrap_or(true)))
                .ok_or_else(|| ApiError::invalid(format!("Invalid order by field name: {name}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let offset = super::page_offset(req.page_token.as_deref())?;
    let query = LoggedModelQuery {
        experiment_ids: &experiment_ids,
        filter: filter.as_ref(),
        order_by: &order_by,
        view: search::ViewType::ActiveOnly,
        offset,
        limit,
    };
    let (models, more) = store::search(&state.db, &query).await?;
    let next_page_token = super::next_page_token(more, offset, limit);
    Ok(Json(SearchLoggedModelsResponse {
        models,
        next_page_token,
    }))
}

#[derive(serde::Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct ArtifactFileQuery {
    artifact_file_path: Option<String>,
    artifact_directory_path: Option<String>,
}

/// `GET logged-models/{id}/artifacts/directories?artifact_directory_path=`: a listing
/// relative to the model's root.
pub async fn list_artifacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Mlflow(q): Mlflow<ArtifactFileQuery>,
) -> Result<Json<ListArtifactsResponse>> {
    permissions::require_logged_model(&state, &caller, &id, Permission::Read).await?;
    let model = store::get(&state.db, &id, false).await?;
    let rel = crate::artifacts::ArtifactPath::parse(
        q.artifact_directory_path.as_deref().unwrap_or_default(),
    )?;
    let root = super::artifacts::served_root(&model.info.artifact_uri)?;
    let files =
        super::artifacts::file_infos(&state.artifacts, &root.join(&rel), Some(&rel)).await?;
    Ok(Json(ListArtifactsResponse {
        root_uri: Some(model.info.artifact_uri),
        files,
    }))
}

/// `GET logged-models/{id}/artifacts/files?artifact_file_path=`: one file.
pub async fn get_artifact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Mlflow(q): Mlflow<ArtifactFileQuery>,
) -> Result<Response> {
    permissions::require_logged_model(&state, &caller, &id, Permission::Read).await?;
    let model = store::get(&state.db, &id, false).await?;
    let rel = crate::artifacts::ArtifactPath::parse(validate::required(
        q.artifact_file_path.as_deref(),
        "artifact_file_path",
    )?)?;
    let root = super::artifacts::served_root(&model.info.artifact_uri)?;
    super::artifacts::send(&state.artifacts, &root.join(&rel), &headers).await
}

/// `POST runs/outputs`: the models a run produced.
pub async fn log_outputs(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<LogOutputs>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req.run)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Edit).await?;
    if req.models.iter().any(|m| m.model_id.is_empty()) {
        return Err(ApiError::missing("model_id"));
    }
    write(&state.db, (id, req.models), |conn, (id, models)| {
        Box::pin(async move {
            let run = runs::active_id(conn, id).await?;
            store::log_outputs(conn, run, models).await
        })
    })
    .await?;
    Ok(empty())
}
