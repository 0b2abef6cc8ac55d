//! The registry pages' store, over the registry store and its search compiler.

use crate::db::Db;
use crate::error::{ApiError, Result};
use crate::search::{self, RegistryQuery};
use crate::store::registry::{models, versions};
use app::models::{ErrorCode, ModelVersion, RegisteredModel};
use app::pages::models::{ModelWithVersions, ssr::ModelsStore};
use app::pages::ssr::BoxFuture;

pub struct Store(pub Db);

/// Models the list shows, and versions a model page shows, at most.
const LIMIT: u64 = 500;

/// `Ok(None)` for a missing entity, so the page can say so; other errors keep their
/// message.
fn found<T>(r: Result<T>) -> Result<Option<T>, String> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code == ErrorCode::ResourceDoesNotExist => Ok(None),
        Err(e) => Err(e.message),
    }
}

impl ModelsStore for Store {
    fn search_models(&self, filter: String) -> BoxFuture<'_, Result<Vec<RegisteredModel>, String>> {
        Box::pin(async move {
            let run = async {
                let filter = search::parse_registered_model_filter(&filter)?;
                let order_by = search::parse_registered_model_order_by(&["name ASC".to_owned()])?;
                let query = RegistryQuery {
                    filter: filter.as_ref(),
                    order_by: &order_by,
                    offset: 0,
                    limit: LIMIT,
                };
                Ok::<_, ApiError>(models::search(&self.0, &query).await?.0)
            };
            run.await.map_err(|e| e.message)
        })
    }

    fn model(&self, name: String) -> BoxFuture<'_, Result<Option<ModelWithVersions>, String>> {
        Box::pin(async move {
            let Some(model) = found(models::get(&self.0, &name).await)? else {
                return Ok(None);
            };
            let run = async {
                let filter = search::parse_model_version_filter(&format!(
                    "name = '{}'",
                    name.replace('\'', "''")
                ))?;
                let order_by =
                    search::parse_model_version_order_by(&["version_number DESC".to_owned()])?;
                let query = RegistryQuery {
                    filter: filter.as_ref(),
                    order_by: &order_by,
                    offset: 0,
                    limit: LIMIT,
                };
                Ok::<_, ApiError>(versions::search(&self.0, &query).await?.0)
            };
            let list = run.await.map_err(|e| e.message)?;
            Ok(Some((model, list)))
        })
    }

    fn version(
        &self,
        name: String,
        version: String,
    ) -> BoxFuture<'_, Result<Option<ModelVersion>, String>> {
        Box::pin(async move {
            // A version that is not a number names no version.
            let Ok(v) = versions::parse_version(&version) else {
                return Ok(None);
            };
            found(versions::get(&self.0, &name, v).await)
        })
    }
}
