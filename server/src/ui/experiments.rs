//! The experiment list page's store.

use crate::db::Db;
use crate::search::{self, ExperimentQuery};
use crate::store;
use app::models::{Experiment, ViewType};
use app::pages::experiments::ssr::ExperimentsStore;
use app::pages::ssr::BoxFuture;

pub struct Store(pub Db);

impl ExperimentsStore for Store {
    fn search_experiments(
        &self,
        filter: String,
        view: ViewType,
    ) -> BoxFuture<'_, Result<Vec<Experiment>, String>> {
        Box::pin(async move {
            let filter = search::parse_experiment_filter(&filter).map_err(|e| e.to_string())?;
            let query = ExperimentQuery {
                filter: filter.as_ref(),
                order_by: &[],
                view: view.into(),
                offset: 0,
                limit: 1000,
            };
            store::experiments::search(&self.0, &query)
                .await
                .map(|(list, _)| list)
                .map_err(|e| e.message)
        })
    }
}
