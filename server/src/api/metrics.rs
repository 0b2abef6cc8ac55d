//! `/metrics/*` handlers: metric histories.

use super::{Mlflow, run_id_of, validate};
use crate::auth::permissions;
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use crate::store::metrics::{self as store, HistoryCursor};
use crate::store::runs;
use app::models::*;
use axum::{Json, extract::State};

pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<GetMetricHistory>,
) -> Result<Json<MetricHistoryResponse>> {
    let run_id = run_id_of(&req.run)?;
    permissions::require_run(&state, &caller, run_id, Permission::Read).await?;
    let key = validate::required(req.metric_key.as_deref(), "metric_key")?;
    let limit = match req.max_results {
        None => None,
        Some(n) => Some(validate::max_results(Some(n), n, 25_000_000)?),
    };
    let after = req
        .page_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(HistoryCursor::decode)
        .transpose()?;
    // MLflow answers an unknown run with an empty history, not an error.
    let run = match runs::get_row(&state.db, run_id).await {
        Ok(run) => run,
        Err(e) if e.code == ErrorCode::ResourceDoesNotExist => {
            return Ok(Json(MetricHistoryResponse {
                metrics: Vec::new(),
                next_page_token: None,
            }));
        }
        Err(e) => return Err(e),
    };
    let (metrics, next) = store::history(&state.db, run.id, key, after, limit).await?;
    Ok(Json(MetricHistoryResponse {
        metrics,
        next_page_token: next.map(|c| c.encode()),
    }))
}

const MAX_BULK_RUNS: usize = 100;

pub async fn bulk_interval(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<GetMetricHistoryBulk>,
) -> Result<Json<MetricHistoryResponse>> {
    if req.run_ids.is_empty() {
        return Err(ApiError::missing("run_ids"));
    }
    if req.run_ids.len() > MAX_BULK_RUNS {
        return Err(ApiError::invalid(format!(
            "GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} run_ids. Received {} run_ids.",
            req.run_ids.len()
        )));
    }
    let key = validate::required(req.metric_key.as_deref(), "metric_key")?;
    let max = validate::max_results(req.max_results, 2500, 2500)? as usize;
    let range = match (req.start_step, req.end_step) {
        (Some(s), Some(e)) if s <= e => Some((s, e)),
        (Some(s), Some(e)) => {
            return Err(ApiError::invalid(format!(
                "end_step must be greater than start_step. Found start_step={s} and end_step={e}."
            )));
        }
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid(
                "If either start step or end step are specified, both must be specified.",
            ));
        }
    };
    for run_id in &req.run_ids {
        validate::run_id(run_id)?;
    }
    permissions::require_runs(&state, &caller, &req.run_ids, Permission::Read).await?;
    let uuids: Vec<&str> = req.run_ids.iter().map(String::as_str).collect();
    let ids = runs::ids(&state.db, &uuids).await?;
    let runs: Vec<(i64, &str)> = ids.into_iter().zip(uuids).collect();
    Ok(Json(MetricHistoryResponse {
        metrics: store::sampled(&state.db, &runs, key, range, max).await?,
        next_page_token: None,
    }))
}

/// The UI's bulk history (ajax only): whole histories of up to 100 runs, at most
/// `max_results` points in all.
pub async fn history_bulk(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<GetMetricHistoryBulk>,
) -> Result<Json<MetricHistoryResponse>> {
    if req.run_ids.is_empty() {
        return Err(ApiError::missing("run_id"));
    }
    if req.run_ids.len() > MAX_BULK_RUNS {
        return Err(ApiError::invalid(format!(
            "GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} run_ids. Received {} run_ids.",
            req.run_ids.len()
        )));
    }
    let key = validate::required(req.metric_key.as_deref(), "metric_key")?;
    let mut left = validate::max_results(req.max_results, 25_000, 25_000)?;
    let mut metrics = Vec::new();
    let mut ids = req.run_ids.clone();
    ids.sort();
    // Every run is checked, also those past the point budget.
    permissions::require_runs(&state, &caller, &ids, Permission::Read).await?;
    for run_id in &ids {
        if left == 0 {
            break;
        }
        validate::run_id(run_id)?;
        let run = runs::get_row(&state.db, run_id).await?;
        let (points, _) = store::history(&state.db, run.id, key, None, Some(left)).await?;
        left -= points.len() as u64;
        metrics.extend(points.into_iter().map(|m| Metric {
            run_id: Some(run_id.clone()),
            ..m
        }));
    }
    Ok(Json(MetricHistoryResponse {
        metrics,
        next_page_token: None,
    }))
}
