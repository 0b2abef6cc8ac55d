//! `/runs/*` handlers: run lifecycle, logging, and search.

use super::{Mlflow, empty, run_id_of, validate, write};
use crate::auth::permissions;
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Result};
use crate::search::{self, RunQuery};
use crate::state::AppState;
use crate::store::points::{self, Point};
use crate::store::run_data::Columns;
use crate::store::{experiments, inputs, run_data, runs as store};
use crate::telemetry::metrics::written;
use app::models::*;
use axum::{Json, extract::State};

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<CreateRun>,
) -> Result<Json<RunResponse>> {
    // An empty experiment id means the Default experiment, as in MLflow.
    let experiment_id = match req.experiment_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => experiments::parse_id(id)?,
        None => experiments::DEFAULT_EXPERIMENT_ID,
    };
    permissions::require_experiment(&state, &caller, experiment_id, Permission::Edit).await?;
    let mut tags = checked_tags(req.tags)?;
    // An authenticated caller's runs carry who they are, whatever the client says.
    let user_id = if caller.is_anonymous() {
        req.user_id.unwrap_or_default()
    } else {
        tags.retain(|t| t.key != "mlflow.user");
        tags.push(KeyValue {
            key: "mlflow.user".into(),
            value: caller.username.clone(),
        });
        caller.username.clone()
    };
    let name = store::resolve_name(req.run_name.as_deref(), &tags)?;
    let tag_count = tags.len();
    let new = store::NewRun {
        run_uuid: uuid::Uuid::new_v4().simple().to_string(),
        experiment_id,
        user_id,
        run_name: req.run_name,
        start_time: req.start_time,
        tags,
    };
    let run = write(&state.db, (new, name), |conn, (new, name)| {
        Box::pin(store::create(conn, new, name))
    })
    .await?;
    written(0, 0, tag_count);
    Ok(Json(RunResponse { run }))
}

/// Validates tags and cuts over-long values, as MLflow does.
fn checked_tags(tags: Vec<KeyValue>) -> Result<Vec<KeyValue>> {
    tags.into_iter()
        .map(|t| {
            validate::key(&t.key, validate::Key::Tag)?;
            Ok(KeyValue {
                value: validate::truncate(&t.value, validate::MAX_TAG_VALUE_LENGTH),
                key: t.key,
            })
        })
        .collect()
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RunIdRequest>,
) -> Result<Json<RunResponse>> {
    let id = run_id_of(&req)?;
    permissions::require_run(&state, &caller, id, Permission::Read).await?;
    Ok(Json(RunResponse {
        run: store::get(&state.db, id).await?,
    }))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<UpdateRun>,
) -> Result<Json<UpdateRunResponse>> {
    let id = run_id_of(&req.run)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Edit).await?;
    let status = req.status.as_deref().map(store::parse_status).transpose()?;
    let info = write(
        &state.db,
        (id, status, req.end_time, req.run_name),
        |conn, (id, status, end, name)| {
            Box::pin(store::update(conn, id, *status, *end, name.as_deref()))
        },
    )
    .await?;
    Ok(Json(UpdateRunResponse { run_info: info }))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RunIdRequest>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Manage).await?;
    write(&state.db, id, |conn, id| Box::pin(store::delete(conn, id))).await?;
    Ok(empty())
}

pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RunIdRequest>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Manage).await?;
    write(&state.db, id, |conn, id| Box::pin(store::restore(conn, id))).await?;
    Ok(empty())
}

fn point(
    key: Option<String>,
    value: Option<f64>,
    timestamp: Option<i64>,
    step: Option<i64>,
) -> Result<Point> {
    let key = validate::required(key.as_deref(), "key")?.to_owned();
    validate::key(&key, validate::Key::Metric)?;
    let value = value.ok_or_else(|| ApiError::missing("value"))?;
    let timestamp = validate::timestamp(timestamp, "timestamp")?;
    Ok(Point {
        key,
        value,
        timestamp,
        step: step.unwrap_or(0),
    })
}

pub async fn log_metric(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<LogMetric>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req.run)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Edit).await?;
    let p = point(req.key, req.value, req.timestamp, req.step)?;
    state.points.log(id, p).await?;
    Ok(empty())
}

fn param(key: Option<String>, value: Option<String>) -> Result<KeyValue> {
    let key = validate::required(key.as_deref(), "key")?.to_owned();
    validate::key(&key, validate::Key::Param)?;
    let value = validate::truncate(&value.unwrap_or_default(), validate::MAX_PARAM_VALUE_LENGTH);
    Ok(KeyValue { key, value })
}

fn tag(key: Option<String>, value: Option<String>) -> Result<KeyValue> {
    let key = validate::required(key.as_deref(), "key")?.to_owned();
    validate::key(&key, validate::Key::Tag)?;
    let value = validate::truncate(&value.unwrap_or_default(), validate::MAX_TAG_VALUE_LENGTH);
    Ok(KeyValue { key, value })
}

pub async fn log_param(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RunKeyValue>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req.run)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Edit).await?;
    let p = param(req.key, req.value)?;
    let backend = state.db.backend;
    write(&state.db, (id, p), move |conn, (id, p)| {
        Box::pin(async move {
            let run = store::active_id(conn, id).await?;
            run_data::log_params(conn, backend, run, id, std::slice::from_ref(p)).await
        })
    })
    .await?;
    written(0, 1, 0);
    Ok(empty())
}

pub async fn set_tag(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RunKeyValue>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req.run)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Edit).await?;
    set_run_tag(&state.db, id, req.key, req.value).await?;
    Ok(empty())
}

/// Validates and writes one run tag: the `set-tag` endpoint and the run page's tag
/// editor both come through here.
pub(crate) async fn set_run_tag(
    db: &crate::db::Db,
    run_id: String,
    key: Option<String>,
    value: Option<String>,
) -> Result<()> {
    validate::run_id(&run_id)?;
    let t = tag(key, value)?;
    write(db, (run_id, t), |conn, (id, t)| {
        Box::pin(async move {
            let run = store::active_id(conn, id).await?;
            run_data::set_tags(conn, run, std::slice::from_ref(t)).await
        })
    })
    .await?;
    written(0, 0, 1);
    Ok(())
}

pub async fn delete_tag(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<DeleteTag>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req.run)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Edit).await?;
    delete_run_tag(&state.db, id, req.key).await?;
    Ok(empty())
}

/// Deletes one run tag: the `delete-tag` endpoint and the run page share it.
pub(crate) async fn delete_run_tag(
    db: &crate::db::Db,
    run_id: String,
    key: Option<String>,
) -> Result<()> {
    validate::run_id(&run_id)?;
    let key = validate::required(key.as_deref(), "key")?.to_owned();
    write(db, (run_id, key), |conn, (id, key)| {
        Box::pin(async move {
            let run = store::active_id(conn, id).await?;
            run_data::delete_tag(conn, run, id, key).await
        })
    })
    .await
}

/// The contents of a log-batch request, validated as a whole before anything is written:
/// a batch is stored entirely or not at all.
struct Batch {
    run_id: String,
    metrics: Vec<Point>,
    params: Vec<KeyValue>,
    tags: Vec<KeyValue>,
}

fn batch(req: LogBatch) -> Result<Batch> {
    let run_id = run_id_of(&req.run)?.to_owned();
    let (m, p, t) = (req.metrics.len(), req.params.len(), req.tags.len());
    if m > validate::MAX_METRICS_PER_BATCH
        || p > validate::MAX_PARAMS_TAGS_PER_BATCH
        || t > validate::MAX_PARAMS_TAGS_PER_BATCH
        || m + p + t > validate::MAX_ENTITIES_PER_BATCH
    {
        return Err(ApiError::invalid(format!(
            "A batch logging request can contain at most {} metrics, {} params and {} tags, and at most {} \
             items in total. Got {m} metrics, {p} params and {t} tags.",
            validate::MAX_METRICS_PER_BATCH,
            validate::MAX_PARAMS_TAGS_PER_BATCH,
            validate::MAX_PARAMS_TAGS_PER_BATCH,
            validate::MAX_ENTITIES_PER_BATCH
        )));
    }
    let metrics = req
        .metrics
        .into_iter()
        .map(|m| point(m.key, m.value, m.timestamp, m.step))
        .collect::<Result<Vec<_>>>()?;
    let params = req
        .params
        .into_iter()
        .map(|p| param(p.key, p.value))
        .collect::<Result<Vec<_>>>()?;
    let mut seen = std::collections::HashSet::new();
    let duplicates: Vec<&str> = params
        .iter()
        .filter(|p| !seen.insert(&p.key))
        .map(|p| p.key.as_str())
        .collect();
    if !duplicates.is_empty() {
        return Err(ApiError::invalid(format!(
            "Duplicate parameter keys have been submitted: {duplicates:?}. Please ensure the request \
             contains only one param value per param key."
        )));
    }
    let tags = req
        .tags
        .into_iter()
        .map(|t| tag(t.key, t.value))
        .collect::<Result<Vec<_>>>()?;
    Ok(Batch {
        run_id,
        metrics,
        params,
        tags,
    })
}

pub async fn log_batch(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<LogBatch>,
) -> Result<Json<serde_json::Value>> {
    let b = batch(req)?;
    permissions::require_run(&state, &caller, &b.run_id, Permission::Edit).await?;
    let counts = (b.metrics.len(), b.params.len(), b.tags.len());
    let backend = state.db.backend;
    write(&state.db, b, move |conn, b| {
        Box::pin(async move {
            let run = store::active_id(conn, &b.run_id).await?;
            run_data::log_params(conn, backend, run, &b.run_id, &b.params).await?;
            let metrics: Vec<(i64, &Point)> = b.metrics.iter().map(|p| (run, p)).collect();
            points::log(conn, &metrics).await?;
            run_data::set_tags(conn, run, &b.tags).await
        })
    })
    .await?;
    written(counts.0, counts.1, counts.2);
    Ok(empty())
}

pub async fn log_inputs(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<LogInputs>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req.run)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Edit).await?;
    for input in &req.datasets {
        let d = &input.dataset;
        validate::length(&d.name, 500, "dataset.name")?;
        validate::length(&d.digest, 36, "dataset.digest")?;
        if d.name.is_empty()
            || d.digest.is_empty()
            || d.source_type.is_empty()
            || d.source.is_empty()
        {
            return Err(ApiError::invalid(
                "Each dataset needs a name, digest, source_type and source.",
            ));
        }
        for t in &input.tags {
            validate::length(&t.key, 255, "input tag key")?;
            validate::length(&t.value, 500, "input tag value")?;
        }
    }
    write(
        &state.db,
        (id, req.datasets, req.models),
        |conn, (id, datasets, models)| {
            Box::pin(async move {
                let run = store::active_id(conn, id).await?;
                inputs::log(conn, run, datasets).await?;
                crate::store::logged_models::log_inputs(conn, run, models).await
            })
        },
    )
    .await?;
    Ok(empty())
}

/// `runs/log-model`, which MLflow 2.x clients call for every logged model.
pub async fn log_model(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<LogModel>,
) -> Result<Json<serde_json::Value>> {
    let id = run_id_of(&req.run)?.to_owned();
    permissions::require_run(&state, &caller, &id, Permission::Edit).await?;
    let model_json = validate::required(req.model_json.as_deref(), "model_json")?;
    let model: serde_json::Value = serde_json::from_str(model_json).map_err(|e| {
        ApiError::invalid(format!(
            "Malformed model info: 'model_json' is not JSON: {e}"
        ))
    })?;
    for field in ["artifact_path", "flavors", "utc_time_created", "run_id"] {
        if model.get(field).is_none() {
            return Err(ApiError::invalid(format!(
                "Model json is missing mandatory fields: ['{field}']"
            )));
        }
    }
    write(&state.db, (id, model), |conn, (id, model)| {
        Box::pin(async move {
            let run = store::active_id(conn, id).await?;
            run_data::append_model_history(conn, run, model).await
        })
    })
    .await?;
    Ok(empty())
}

pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<SearchRuns>,
) -> Result<Json<SearchRunsResponse>> {
    let limit = validate::max_results(req.max_results, 1000, validate::MAX_RESULTS_RUNS)?;
    let experiment_ids = req
        .experiment_ids
        .iter()
        .map(|id| experiments::parse_id(id))
        .collect::<Result<Vec<_>>>()?;
    let filter = search::parse_run_filter(req.filter.as_deref().unwrap_or_default())?;
    let order_by = search::parse_run_order_by(&req.order_by)?;
    let offset = super::page_offset(req.page_token.as_deref())?;
    let columns = if req.columns.is_empty() {
        None
    } else {
        Some(Columns::parse(&req.columns)?)
    };
    // Only the experiments the caller may read (one statement); the page query is then
    // exact, so paging stays correct.
    let experiment_ids =
        permissions::readable_experiments(&state, &caller, &experiment_ids).await?;
    if experiment_ids.is_empty() {
        return Ok(Json(SearchRunsResponse {
            runs: Vec::new(),
            next_page_token: None,
        }));
    }
    let query = RunQuery {
        experiment_ids: &experiment_ids,
        filter: filter.as_ref(),
        order_by: &order_by,
        view: req.run_view_type.unwrap_or_default().into(),
        offset,
        limit,
    };
    let (runs, more) = store::search(&state.db, &query, columns.as_ref()).await?;
    let next_page_token = super::next_page_token(more, offset, limit);
    Ok(Json(SearchRunsResponse {
        runs,
        next_page_token,
    }))
}
