//! The registry pages' store, over the registry store and its search compiler.

use crate::auth::Permission;
use crate::auth::permissions::{self, Kind};
use crate::error::{ApiError, Result};
use crate::search::{self, RegistryQuery};
use crate::state::AppState;
use crate::store::registry::{models, versions};
use app::models::{ErrorCode, ModelVersion, RegisteredModel};
use app::pages::models::{ModelWithVersions, ssr::ModelsStore};
use app::pages::ssr::BoxFuture;

pub struct Store(pub AppState);

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
        let caller = super::caller();
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
                let visible = permissions::readable(
                    &self.0,
                    &caller,
                    Kind::RegisteredModel,
                    ("registered_models", "id"),
                );
                Ok::<_, ApiError>(models::search(&self.0.db, &query, visible).await?.0)
            };
            run.await.map_err(|e| e.message)
        })
    }

    fn model(&self, name: String) -> BoxFuture<'_, Result<Option<ModelWithVersions>, String>> {
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_model(&self.0, &caller, &name, Permission::Read)
                .await
                .map_err(|e| e.message)?;
            let Some(model) = found(models::get(&self.0.db, &name).await)? else {
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
                // The model's READ was checked above; this is its own version list.
                Ok::<_, ApiError>(versions::search(&self.0.db, &query, None).await?.0)
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
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_model(&self.0, &caller, &name, Permission::Read)
                .await
                .map_err(|e| e.message)?;
            // A version that is not a number names no version.
            let Ok(v) = versions::parse_version(&version) else {
                return Ok(None);
            };
            found(versions::get(&self.0.db, &name, v).await)
        })
    }
}
