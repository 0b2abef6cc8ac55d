//! `/experiments/*` handlers.

use super::{Mlflow, empty, validate, write};
use crate::auth::permissions::{self, Kind};
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Result};
use crate::search::{self, ExperimentQuery};
use crate::state::AppState;
use crate::store::experiments as store;
use app::models::*;
use axum::{Json, extract::State};

/// Who gets MANAGE on what they create: the authenticated caller (nobody without auth).
pub(crate) fn owner_of(caller: &Caller) -> Option<String> {
    (!caller.is_anonymous() && !caller.username.is_empty()).then(|| caller.username.clone())
}

fn experiment_id(raw: Option<&str>) -> Result<i64> {
    store::parse_id(validate::required(raw, "experiment_id")?)
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<CreateExperiment>,
) -> Result<Json<CreateExperimentResponse>> {
    let name = validate::required(req.name.as_deref(), "name")?.to_owned();
    if name.trim().is_empty() {
        return Err(ApiError::invalid(
            "Invalid experiment name: the name must not be blank.",
        ));
    }
    validate::length(&name, validate::MAX_EXPERIMENT_NAME_LENGTH, "name")?;
    for tag in &req.tags {
        validate::key(&tag.key, validate::Key::Tag)?;
        validate::length(
            &tag.value,
            validate::MAX_EXPERIMENT_TAG_VALUE_LENGTH,
            "value",
        )?;
    }
    if let Some(location) = &req.artifact_location
        && location.starts_with("runs:/")
    {
        return Err(ApiError::invalid(
            "Artifact location cannot be a runs:/ URI.",
        ));
    }
    let root = state.config.default_artifact_root.clone();
    let owner = owner_of(&caller);
    let id = write(
        &state.db,
        (name, req, root, owner),
        |conn, (name, req, root, owner)| {
            Box::pin(async move {
                let id = store::create(
                    conn,
                    name,
                    req.artifact_location.as_deref(),
                    &req.tags,
                    root,
                )
                .await?;
                if let Some(owner) = owner {
                    permissions::grant(
                        conn,
                        Kind::Experiment,
                        id,
                        "user",
                        owner,
                        Permission::Manage,
                    )
                    .await?;
                }
                Ok(id)
            })
        },
    )
    .await?;
    Ok(Json(CreateExperimentResponse {
        experiment_id: id.to_string(),
    }))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ExperimentIdRequest>,
) -> Result<Json<ExperimentResponse>> {
    let id = experiment_id(req.experiment_id.as_deref())?;
    permissions::require_experiment(&state, &caller, id, Permission::Read).await?;
    Ok(Json(ExperimentResponse {
        experiment: store::get(&state.db, id).await?,
    }))
}

pub async fn get_by_name(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<GetExperimentByName>,
) -> Result<Json<ExperimentResponse>> {
    let name = validate::required(req.experiment_name.as_deref(), "experiment_name")?;
    let experiment = store::get_by_name(&state.db, name).await?;
    let id = store::parse_id(&experiment.experiment_id)?;
    permissions::require_experiment(&state, &caller, id, Permission::Read).await?;
    Ok(Json(ExperimentResponse { experiment }))
}

pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<SearchExperiments>,
) -> Result<Json<SearchExperimentsResponse>> {
    // MLflow reads an absent max_results as 0 and refuses it; the stock client always
    // sends one. ferroflow treats absence as the client's default (1000).
    let limit = validate::max_results(req.max_results, 1000, validate::MAX_RESULTS_RUNS)?;
    let filter = search::parse_experiment_filter(req.filter.as_deref().unwrap_or_default())?;
    let order_by = search::parse_experiment_order_by(&req.order_by)?;
    let offset = super::page_offset(req.page_token.as_deref())?;
    let query = ExperimentQuery {
        filter: filter.as_ref(),
        order_by: &order_by,
        view: req.view_type.unwrap_or_default().into(),
        offset,
        limit,
    };
    let visible = permissions::readable(
        &state,
        &caller,
        Kind::Experiment,
        ("experiments", "experiment_id"),
    );
    let (experiments, more) = store::search(&state.db, &query, visible).await?;
    let next_page_token = super::next_page_token(more, offset, limit);
    Ok(Json(SearchExperimentsResponse {
        experiments,
        next_page_token,
    }))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<UpdateExperiment>,
) -> Result<Json<serde_json::Value>> {
    let id = experiment_id(req.experiment_id.as_deref())?;
    permissions::require_experiment(&state, &caller, id, Permission::Edit).await?;
    let new_name = validate::required(req.new_name.as_deref(), "new_name")?.to_owned();
    validate::length(&new_name, validate::MAX_EXPERIMENT_NAME_LENGTH, "new_name")?;
    write(&state.db, (id, new_name), |conn, (id, name)| {
        Box::pin(store::rename(conn, *id, name))
    })
    .await?;
    Ok(empty())
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ExperimentIdRequest>,
) -> Result<Json<serde_json::Value>> {
    let id = experiment_id(req.experiment_id.as_deref())?;
    permissions::require_experiment(&state, &caller, id, Permission::Manage).await?;
    write(&state.db, id, |conn, id| Box::pin(store::delete(conn, *id))).await?;
    Ok(empty())
}

pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ExperimentIdRequest>,
) -> Result<Json<serde_json::Value>> {
    let id = experiment_id(req.experiment_id.as_deref())?;
    permissions::require_experiment(&state, &caller, id, Permission::Manage).await?;
    write(&state.db, id, |conn, id| {
        Box::pin(store::restore(conn, *id))
    })
    .await?;
    Ok(empty())
}

pub async fn set_tag(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<SetExperimentTag>,
) -> Result<Json<serde_json::Value>> {
    let id = experiment_id(req.experiment_id.as_deref())?;
    permissions::require_experiment(&state, &caller, id, Permission::Edit).await?;
    let key = validate::required(req.key.as_deref(), "key")?.to_owned();
    validate::key(&key, validate::Key::Tag)?;
    let value = req.value.unwrap_or_default();
    validate::length(&value, validate::MAX_EXPERIMENT_TAG_VALUE_LENGTH, "value")?;
    write(&state.db, (id, key, value), |conn, (id, key, value)| {
        Box::pin(async move {
            if store::stage(conn, *id).await? != "active" {
                return Err(ApiError::invalid(format!(
                    "The experiment {id} must be in the 'active' state. Current state is deleted."
                )));
            }
            store::set_tag(conn, *id, key, value).await
        })
    })
    .await?;
    Ok(empty())
}

pub async fn delete_tag(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<SetExperimentTag>,
) -> Result<Json<serde_json::Value>> {
    let id = experiment_id(req.experiment_id.as_deref())?;
    permissions::require_experiment(&state, &caller, id, Permission::Edit).await?;
    let key = validate::required(req.key.as_deref(), "key")?.to_owned();
    write(&state.db, (id, key), |conn, (id, key)| {
        Box::pin(async move {
            store::stage(conn, *id).await?;
            store::delete_tag(conn, *id, key).await
        })
    })
    .await?;
    Ok(empty())
}
