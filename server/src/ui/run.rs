//! The run page's store: the run with its summaries, family and registered versions, and
//! tag edits through the same validation and writer as the API.

use crate::auth::permissions::{self, Kind};
use crate::auth::{Caller, Permission};
use crate::db::Db;
use crate::error::{ApiError, Result};
use crate::search::{self, RegistryQuery};
use crate::state::AppState;
use crate::store::{experiments, registry, run_data, runs};
use app::models::ErrorCode;
use app::pages::run::{RunDetails, RunLink, ssr::RunStore};
use app::pages::ssr::BoxFuture;
use sqlx::Row;

pub struct Store(pub AppState);

/// Versions of one run the page lists at most.
const MAX_VERSIONS: u64 = 100;

impl RunStore for Store {
    fn run_details(&self, run_id: String) -> BoxFuture<'_, Result<Option<RunDetails>, String>> {
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_run(&self.0, &caller, &run_id, Permission::Read)
                .await
                .map_err(|e| e.message)?;
            match details(&self.0, &caller, &run_id).await {
                Ok(d) => Ok(Some(d)),
                Err(e) if e.code == ErrorCode::ResourceDoesNotExist => Ok(None),
                Err(e) => Err(e.message),
            }
        })
    }

    fn set_tag(
        &self,
        run_id: String,
        key: String,
        value: String,
    ) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_run(&self.0, &caller, &run_id, Permission::Edit)
                .await
                .map_err(|e| e.message)?;
            crate::api::runs::set_run_tag(&self.0.db, run_id, Some(key), Some(value))
                .await
                .map_err(|e| e.message)
        })
    }

    fn delete_tag(&self, run_id: String, key: String) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_run(&self.0, &caller, &run_id, Permission::Edit)
                .await
                .map_err(|e| e.message)?;
            crate::api::runs::delete_run_tag(&self.0.db, run_id, Some(key))
                .await
                .map_err(|e| e.message)
        })
    }
}

async fn details(state: &AppState, caller: &Caller, run_id: &str) -> Result<RunDetails> {
    let db = &state.db;
    let row = runs::get_row(db, run_id).await?;
    let id = row.id;
    let experiment_id = experiments::parse_id(&row.info.experiment_id)?;
    let run = runs::assemble(db, vec![row], None)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("Run with id={run_id} not found")))?;
    let experiment_name = experiments::get(db, experiment_id).await?.name;
    let metrics = run_data::summaries(db, &[id], None)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let parent = match run.data.tags.iter().find(|t| t.key == runs::PARENT_RUN_TAG) {
        None => None,
        Some(t) => Some(RunLink {
            run_name: runs::get_row(db, &t.value)
                .await
                .map(|p| p.info.run_name)
                .unwrap_or_else(|_| t.value.clone()),
            run_id: t.value.clone(),
        }),
    };
    Ok(RunDetails {
        children: children(db, run_id).await?,
        model_versions: versions_of(state, caller, run_id).await?,
        experiment_name,
        metrics,
        parent,
        run,
    })
}

/// Active runs whose parent tag names this run, by start time.
async fn children(db: &Db, run_id: &str) -> Result<Vec<RunLink>> {
    let rows = sqlx::query(
        "SELECT r.run_uuid, r.name FROM tags t JOIN runs r ON r.id = t.run_id \
         WHERE t.key = $1 AND t.value = $2 AND r.lifecycle_stage = 'active' \
         ORDER BY r.start_time, r.run_uuid",
    )
    .bind(runs::PARENT_RUN_TAG)
    .bind(run_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RunLink {
                run_id: r.try_get(0)?,
                run_name: r.try_get(1)?,
            })
        })
        .collect()
}

/// Model versions registered from this run, through the registry's own search.
/// Only versions of models the caller may read.
async fn versions_of(
    state: &AppState,
    caller: &Caller,
    run_id: &str,
) -> Result<Vec<app::models::ModelVersion>> {
    let filter =
        search::parse_model_version_filter(&format!("run_id = '{}'", run_id.replace('\'', "''")))?;
    let query = RegistryQuery {
        filter: filter.as_ref(),
        order_by: &[],
        offset: 0,
        limit: MAX_VERSIONS,
    };
    let visible = permissions::readable(
        state,
        caller,
        Kind::RegisteredModel,
        ("model_versions", "registered_model_id"),
    );
    Ok(registry::versions::search(&state.db, &query, visible)
        .await?
        .0)
}
