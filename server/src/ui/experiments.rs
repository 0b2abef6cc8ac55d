//! The experiment list page's store. Writes call the API's own handlers, so the page
//! gets the same validation, the same writer path and the same messages as the API.

use crate::api::{Mlflow, experiments as api};
use crate::search::{self, ExperimentQuery};
use crate::state::AppState;
use crate::store;
use app::models::{CreateExperiment, ExperimentIdRequest, UpdateExperiment, ViewType};
use app::pages::experiments::ExperimentRow;
use app::pages::experiments::ssr::ExperimentsStore;
use app::pages::ssr::BoxFuture;
use axum::extract::State;

pub struct Store(pub AppState);

impl ExperimentsStore for Store {
    fn search_experiments(
        &self,
        filter: String,
        view: ViewType,
    ) -> BoxFuture<'_, Result<Vec<ExperimentRow>, String>> {
        let caller = super::caller();
        Box::pin(async move {
            let db = &self.0.db;
            let filter = search::parse_experiment_filter(&filter).map_err(|e| e.to_string())?;
            let query = ExperimentQuery {
                filter: filter.as_ref(),
                order_by: &[],
                view: view.into(),
                offset: 0,
                limit: 1000,
            };
            let visible = crate::auth::permissions::readable(
                &self.0,
                &caller,
                crate::auth::permissions::Kind::Experiment,
                ("experiments", "experiment_id"),
            );
            let (list, _) = store::experiments::search(db, &query, visible)
                .await
                .map_err(|e| e.message)?;
            let ids: Vec<i64> = list
                .iter()
                .filter_map(|e| e.experiment_id.parse().ok())
                .collect();
            let stats = store::experiments::run_stats(db, &ids)
                .await
                .map_err(|e| e.message)?;
            Ok(list
                .into_iter()
                .map(|experiment| {
                    let (runs, last_run) = experiment
                        .experiment_id
                        .parse::<i64>()
                        .ok()
                        .and_then(|id| stats.get(&id).copied())
                        .unwrap_or((0, None));
                    ExperimentRow {
                        runs,
                        last_activity: last_run.unwrap_or(0).max(experiment.last_update_time),
                        experiment,
                    }
                })
                .collect())
        })
    }

    fn create_experiment(&self, name: String) -> BoxFuture<'_, Result<String, String>> {
        let caller = super::caller();
        Box::pin(async move {
            let req = CreateExperiment {
                name: Some(name),
                ..Default::default()
            };
            api::create(State(self.0.clone()), caller, Mlflow(req))
                .await
                .map(|r| r.0.experiment_id)
                .map_err(|e| e.message)
        })
    }

    fn rename_experiment(&self, id: String, new_name: String) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            let req = UpdateExperiment {
                experiment_id: Some(id),
                new_name: Some(new_name),
            };
            api::update(State(self.0.clone()), caller, Mlflow(req))
                .await
                .map(drop)
                .map_err(|e| e.message)
        })
    }

    fn delete_experiment(&self, id: String) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            let req = ExperimentIdRequest {
                experiment_id: Some(id),
            };
            api::delete(State(self.0.clone()), caller, Mlflow(req))
                .await
                .map(drop)
                .map_err(|e| e.message)
        })
    }

    fn restore_experiment(&self, id: String) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            let req = ExperimentIdRequest {
                experiment_id: Some(id),
            };
            api::restore(State(self.0.clone()), caller, Mlflow(req))
                .await
                .map(drop)
                .map_err(|e| e.message)
        })
    }
}
