//! `/registered-models/*` and `/model-versions/*` handlers.

use super::{Mlflow, empty, validate, write};
use crate::artifacts::ArtifactPath;
use crate::auth::permissions::{self, Kind};
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Result};
use crate::search::{self, RegistryQuery};
use crate::state::AppState;
use crate::store::registry::{self, models, versions};
use crate::store::{logged_models, runs};
use app::models::*;
use axum::{Json, extract::State};

/// Registry tag values may be long (MLflow 3.x: 100,000 characters).
const MAX_TAG_VALUE_LENGTH: usize = 100_000;
const MAX_DESCRIPTION_LENGTH: usize = 5000;
const MAX_ALIAS_LENGTH: usize = 255;
const MAX_RESULTS_MODELS: i64 = 1000;
const MAX_RESULTS_VERSIONS: i64 = 200_000;

fn name_of(raw: Option<&str>) -> Result<String> {
    registry::validate_name(raw, "name")
}

fn version_of(raw: Option<&str>) -> Result<i64> {
    versions::parse_version(validate::required(raw, "version")?)
}

fn checked_tags(tags: Vec<KeyValue>) -> Result<Vec<KeyValue>> {
    for t in &tags {
        validate::key(&t.key, validate::Key::Tag)?;
        validate::length(&t.value, MAX_TAG_VALUE_LENGTH, "value")?;
    }
    Ok(tags)
}

fn description(d: Option<String>) -> Result<Option<String>> {
    if let Some(d) = &d {
        validate::length(d, MAX_DESCRIPTION_LENGTH, "description")?;
    }
    Ok(d)
}

/// MLflow's `_validate_model_alias_name` (and, for setting one, the reserved names).
fn alias_of(raw: Option<&str>, setting: bool) -> Result<String> {
    let alias = raw.unwrap_or_default();
    if alias.is_empty() {
        return Err(ApiError::invalid(
            "Registered model alias name cannot be empty.",
        ));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::invalid(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )));
    }
    validate::length(alias, MAX_ALIAS_LENGTH, "Registered model alias name")?;
    if setting {
        if alias.eq_ignore_ascii_case("latest") {
            return Err(ApiError::invalid(
                "'latest' alias name (case insensitive) is reserved.",
            ));
        }
        // `strip_prefix`, not `&alias[1..]`: the first character may be several bytes.
        if let Some(digits) = alias.strip_prefix(['v', 'V'])
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
        {
            return Err(ApiError::invalid(format!(
                "Version alias name '{alias}' is reserved."
            )));
        }
    }
    Ok(alias.to_owned())
}

async fn model_response(state: &AppState, name: &str) -> Result<Json<RegisteredModelResponse>> {
    Ok(Json(RegisteredModelResponse {
        registered_model: models::get(&state.db, name).await?,
    }))
}

async fn version_response(
    state: &AppState,
    name: &str,
    version: i64,
) -> Result<Json<ModelVersionResponse>> {
    Ok(Json(ModelVersionResponse {
        model_version: versions::get(&state.db, name, version).await?,
    }))
}

pub async fn create_model(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<CreateRegisteredModel>,
) -> Result<Json<RegisteredModelResponse>> {
    let name = name_of(req.name.as_deref())?;
    let tags = checked_tags(req.tags)?;
    let description = description(req.description)?;
    let owner = super::experiments::owner_of(&caller);
    write(
        &state.db,
        (name.clone(), description, tags, owner),
        |conn, (name, description, tags, owner)| {
            Box::pin(async move {
                models::create(conn, name, description.as_deref(), tags).await?;
                if let Some(owner) = owner {
                    let id = models::id_in(conn, name).await?;
                    permissions::grant(
                        conn,
                        Kind::RegisteredModel,
                        id,
                        "user",
                        owner,
                        Permission::Manage,
                    )
                    .await?;
                }
                Ok(())
            })
        },
    )
    .await?;
    model_response(&state, &name).await
}

pub async fn get_model(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RegisteredModelName>,
) -> Result<Json<RegisteredModelResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Read).await?;
    model_response(&state, &name).await
}

pub async fn rename_model(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RenameRegisteredModel>,
) -> Result<Json<RegisteredModelResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let new_name = registry::validate_name(req.new_name.as_deref(), "new_name")?;
    write(
        &state.db,
        (name, new_name.clone()),
        |conn, (name, new_name)| Box::pin(models::rename(conn, name, new_name)),
    )
    .await?;
    model_response(&state, &new_name).await
}

pub async fn update_model(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<UpdateRegisteredModel>,
) -> Result<Json<RegisteredModelResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let description = description(req.description)?;
    write(
        &state.db,
        (name.clone(), description),
        |conn, (name, description)| Box::pin(models::update(conn, name, description.as_deref())),
    )
    .await?;
    model_response(&state, &name).await
}

pub async fn delete_model(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RegisteredModelName>,
) -> Result<Json<serde_json::Value>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Manage).await?;
    write(&state.db, name, |conn, name| {
        Box::pin(models::delete(conn, name))
    })
    .await?;
    Ok(empty())
}

pub async fn search_models(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<SearchRegistry>,
) -> Result<Json<SearchRegisteredModelsResponse>> {
    let limit = validate::max_results(req.max_results, 100, MAX_RESULTS_MODELS)?;
    let filter = search::parse_registered_model_filter(req.filter.as_deref().unwrap_or_default())?;
    let order_by = search::parse_registered_model_order_by(&req.order_by)?;
    let offset = super::page_offset(req.page_token.as_deref())?;
    let query = RegistryQuery {
        filter: filter.as_ref(),
        order_by: &order_by,
        offset,
        limit,
    };
    let visible = permissions::readable(
        &state,
        &caller,
        Kind::RegisteredModel,
        ("registered_models", "id"),
    );
    let (registered_models, more) = models::search(&state.db, &query, visible).await?;
    let next_page_token = super::next_page_token(more, offset, limit);
    Ok(Json(SearchRegisteredModelsResponse {
        registered_models,
        next_page_token,
    }))
}

pub async fn latest_versions(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<GetLatestVersions>,
) -> Result<Json<ModelVersionsResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Read).await?;
    let model_versions = versions::latest(&state.db, &name, &req.stages).await?;
    Ok(Json(ModelVersionsResponse {
        model_versions,
        next_page_token: None,
    }))
}

pub async fn set_model_tag(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RegisteredModelTag>,
) -> Result<Json<serde_json::Value>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let key = validate::required(req.key.as_deref(), "key")?.to_owned();
    let tag = checked_tags(vec![KeyValue {
        key,
        value: req.value.unwrap_or_default(),
    }])?
    .remove(0);
    write(&state.db, (name, tag), |conn, (name, tag)| {
        Box::pin(async move {
            let id = models::id_in(conn, name).await?;
            models::set_tag(conn, id, &tag.key, &tag.value).await
        })
    })
    .await?;
    Ok(empty())
}

pub async fn delete_model_tag(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<RegisteredModelTag>,
) -> Result<Json<serde_json::Value>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let key = validate::required(req.key.as_deref(), "key")?.to_owned();
    validate::key(&key, validate::Key::Tag)?;
    write(&state.db, (name, key), |conn, (name, key)| {
        Box::pin(async move {
            let id = models::id_in(conn, name).await?;
            models::delete_tag(conn, id, key).await
        })
    })
    .await?;
    Ok(empty())
}

pub async fn set_alias(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelAlias>,
) -> Result<Json<serde_json::Value>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let alias = alias_of(req.alias.as_deref(), true)?;
    let version = version_of(req.version.as_deref())?;
    write(
        &state.db,
        (name, alias, version),
        |conn, (name, alias, version)| Box::pin(models::set_alias(conn, name, alias, *version)),
    )
    .await?;
    Ok(empty())
}

pub async fn delete_alias(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelAlias>,
) -> Result<Json<serde_json::Value>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let alias = alias_of(req.alias.as_deref(), false)?;
    write(&state.db, (name, alias), |conn, (name, alias)| {
        Box::pin(models::delete_alias(conn, name, alias))
    })
    .await?;
    Ok(empty())
}

/// `GET registered-models/alias`; `latest` means the highest version, as in MLflow.
pub async fn get_by_alias(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelAlias>,
) -> Result<Json<ModelVersionResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Read).await?;
    let alias = alias_of(req.alias.as_deref(), false)?;
    if alias.eq_ignore_ascii_case("latest") {
        let newest = versions::latest(&state.db, &name, &[])
            .await?
            .into_iter()
            .max_by_key(|v| v.version.parse::<i64>().unwrap_or(0));
        let model_version = newest.ok_or_else(|| {
            ApiError::not_found(format!("Latest version not found for model {name}."))
        })?;
        return Ok(Json(ModelVersionResponse { model_version }));
    }
    let version = models::alias_version(&state.db, &name, &alias).await?;
    version_response(&state, &name, version).await
}

/// Where a new version's files are, after MLflow's source checks (`_validate_source_run`
/// and `_validate_source_model`): a `models:/<model_id>` source is its logged model's
/// location, `models:/name/version` that version's, `runs:/<run_id>/path` lies under
/// the run's artifacts (and must name the request's run), a served location must lie
/// under the run's or the model's root, and local paths are refused.
async fn storage_location(
    state: &AppState,
    source: &str,
    run_id: Option<&str>,
    model_id: Option<&str>,
) -> Result<String> {
    let invalid = |what: &str| {
        ApiError::invalid(format!(
            "Invalid model version source: '{source}'. The {what} request parameter must identify the resource \
             that contains the source."
        ))
    };
    let lower = source.to_ascii_lowercase();
    let is_local = source.starts_with('/')
        || source.starts_with('.')
        || lower.starts_with("file:")
        || !source.contains(':');
    if is_local {
        return Err(ApiError::invalid(format!(
            "Invalid model version source: '{source}'. Local paths are not accepted as a model version source by \
             this server; log the model as an artifact and register its runs:/, models:/ or mlflow-artifacts:/ URI."
        )));
    }
    // No `..` anywhere, however encoded.
    let decoded = (0..8).try_fold(source.to_owned(), |s, _| {
        crate::artifacts::path::percent_decode(&s).ok_or(())
    });
    if decoded.map_or(true, |d| d.split(['/', '\\']).any(|seg| seg == "..")) {
        return Err(ApiError::invalid(format!(
            "Invalid model version source: '{source}'. Relative paths are not allowed."
        )));
    }
    if let Some(rest) = source.strip_prefix("models:/") {
        let rest = rest.trim_start_matches('/');
        if rest.starts_with("m-") && !rest.contains('/') {
            if model_id.is_some_and(|m| m != rest) {
                return Err(invalid("model_id"));
            }
            return Ok(logged_models::get(&state.db, rest, false)
                .await
                .map_err(|_| invalid("model_id"))?
                .info
                .artifact_uri);
        }
        let (name, version) = rest.split_once('/').ok_or_else(|| invalid("model_id"))?;
        let version = versions::parse_version(version)?;
        return versions::download_uri(&state.db, name, version).await;
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (source_run, path) = rest.split_once('/').unwrap_or((rest, ""));
        if run_id != Some(source_run) {
            return Err(invalid("run_id"));
        }
        let run = runs::get_row(&state.db, source_run)
            .await
            .map_err(|_| invalid("run_id"))?;
        let path = ArtifactPath::parse(path)?;
        return Ok(if path.is_root() {
            run.info.artifact_uri
        } else {
            format!("{}/{path}", run.info.artifact_uri)
        });
    }
    if let Some(path) = ArtifactPath::of_served_uri(source) {
        let path = path?;
        let within = |root: &str| {
            ArtifactPath::of_served_uri(root)
                .and_then(|r| r.ok())
                .is_some_and(|r| path.segments().starts_with(r.segments()) && !r.is_root())
        };
        let ok = match (model_id, run_id) {
            (Some(m), _) => logged_models::get(&state.db, m, false)
                .await
                .is_ok_and(|lm| within(&lm.info.artifact_uri)),
            (None, Some(r)) => runs::get_row(&state.db, r)
                .await
                .is_ok_and(|run| within(&run.info.artifact_uri)),
            (None, None) => false,
        };
        return if ok {
            Ok(source.to_owned())
        } else {
            Err(invalid(if model_id.is_some() {
                "model_id"
            } else {
                "run_id"
            }))
        };
    }
    Ok(source.to_owned())
}

pub async fn create_version(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<CreateModelVersion>,
) -> Result<Json<ModelVersionResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let source = validate::required(req.source.as_deref(), "source")?.to_owned();
    let tags = checked_tags(req.tags)?;
    let description = description(req.description)?;
    let model_id = req.model_id.filter(|m| !m.is_empty());
    let mut run_id = req.run_id.filter(|r| !r.is_empty());
    let storage_location =
        storage_location(&state, &source, run_id.as_deref(), model_id.as_deref()).await?;
    // A logged model names its source run, as MLflow fills it in.
    let logged = match model_id.as_deref().or_else(|| {
        source
            .strip_prefix("models:/")
            .filter(|s| s.starts_with("m-"))
    }) {
        Some(m) => Some(logged_models::get(&state.db, m, false).await?),
        None => None,
    };
    if run_id.is_none() {
        run_id = logged.as_ref().and_then(|l| l.info.source_run_id.clone());
    }
    let new = versions::NewVersion {
        name: name.clone(),
        source,
        storage_location,
        run_id,
        run_link: req.run_link.filter(|l| !l.is_empty()),
        description,
        logged_model_id: model_id,
        tags,
    };
    let version = write(&state.db, new, |conn, new| {
        Box::pin(async move {
            let version = versions::create(conn, new).await?;
            if let Some(model_id) = &new.logged_model_id {
                logged_models::add_model_version(conn, model_id, &new.name, version).await?;
            }
            Ok(version)
        })
    })
    .await?;
    version_response(&state, &name, version).await
}

pub async fn get_version(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelVersionRequest>,
) -> Result<Json<ModelVersionResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Read).await?;
    let version = version_of(req.version.as_deref())?;
    version_response(&state, &name, version).await
}

pub async fn update_version(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelVersionRequest>,
) -> Result<Json<ModelVersionResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let version = version_of(req.version.as_deref())?;
    let description = description(req.description)?;
    write(
        &state.db,
        (name.clone(), version, description),
        |conn, (name, version, description)| {
            Box::pin(versions::update(
                conn,
                name,
                *version,
                description.as_deref(),
            ))
        },
    )
    .await?;
    version_response(&state, &name, version).await
}

pub async fn transition_stage(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<TransitionStage>,
) -> Result<Json<ModelVersionResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let version = version_of(req.version.as_deref())?;
    let raw_stage = validate::required(req.stage.as_deref(), "stage")?;
    let stage = versions::canonical_stage(raw_stage)?;
    let archive = req
        .archive_existing_versions
        .ok_or_else(|| ApiError::missing("archive_existing_versions"))?;
    if archive && !matches!(stage, "Staging" | "Production") {
        // MLflow raises this without a code, so it is an INTERNAL_ERROR (500) there too.
        return Err(ApiError::internal(format!(
            "Model version transition cannot archive existing model versions because '{raw_stage}' is not an \
             Active stage. Valid stages are ['Staging', 'Production']"
        )));
    }
    write(
        &state.db,
        (name.clone(), version, stage, archive),
        |conn, (name, version, stage, archive)| {
            Box::pin(versions::transition(conn, name, *version, stage, *archive))
        },
    )
    .await?;
    version_response(&state, &name, version).await
}

pub async fn delete_version(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelVersionRequest>,
) -> Result<Json<serde_json::Value>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Manage).await?;
    let version = version_of(req.version.as_deref())?;
    write(&state.db, (name, version), |conn, (name, version)| {
        Box::pin(versions::delete(conn, name, *version))
    })
    .await?;
    Ok(empty())
}

pub async fn download_uri(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelVersionRequest>,
) -> Result<Json<DownloadUriResponse>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Read).await?;
    let version = version_of(req.version.as_deref())?;
    Ok(Json(DownloadUriResponse {
        artifact_uri: versions::download_uri(&state.db, &name, version).await?,
    }))
}

pub async fn search_versions(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<SearchRegistry>,
) -> Result<Json<ModelVersionsResponse>> {
    let limit = validate::max_results(req.max_results, MAX_RESULTS_VERSIONS, MAX_RESULTS_VERSIONS)?;
    let filter = search::parse_model_version_filter(req.filter.as_deref().unwrap_or_default())?;
    let order_by = search::parse_model_version_order_by(&req.order_by)?;
    let offset = super::page_offset(req.page_token.as_deref())?;
    let query = RegistryQuery {
        filter: filter.as_ref(),
        order_by: &order_by,
        offset,
        limit,
    };
    let visible = permissions::readable(
        &state,
        &caller,
        Kind::RegisteredModel,
        ("model_versions", "registered_model_id"),
    );
    let (model_versions, more) = versions::search(&state.db, &query, visible).await?;
    let next_page_token = super::next_page_token(more, offset, limit);
    Ok(Json(ModelVersionsResponse {
        model_versions,
        next_page_token,
    }))
}

pub async fn set_version_tag(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelVersionRequest>,
) -> Result<Json<serde_json::Value>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let version = version_of(req.version.as_deref())?;
    let key = validate::required(req.key.as_deref(), "key")?.to_owned();
    let tag = checked_tags(vec![KeyValue {
        key,
        value: req.value.unwrap_or_default(),
    }])?
    .remove(0);
    write(
        &state.db,
        (name, version, tag),
        |conn, (name, version, tag)| {
            Box::pin(versions::set_tag(
                conn, name, *version, &tag.key, &tag.value,
            ))
        },
    )
    .await?;
    Ok(empty())
}

pub async fn delete_version_tag(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ModelVersionRequest>,
) -> Result<Json<serde_json::Value>> {
    let name = name_of(req.name.as_deref())?;
    permissions::require_model(&state, &caller, &name, Permission::Edit).await?;
    let version = version_of(req.version.as_deref())?;
    let key = validate::required(req.key.as_deref(), "key")?.to_owned();
    validate::key(&key, validate::Key::Tag)?;
    write(
        &state.db,
        (name, version, key),
        |conn, (name, version, key)| Box::pin(versions::delete_tag(conn, name, *version, key)),
    )
    .await?;
    Ok(empty())
}

#[cfg(test)]
mod tests {
    use super::alias_of;

    /// Found by schemathesis: an alias starting with a two-byte character panicked on a
    /// byte slice and dropped the connection.
    #[test]
    fn aliases_starting_with_multibyte_characters_are_checked_not_sliced() {
        assert_eq!(alias_of(Some("¹æ"), true).unwrap(), "¹æ");
        assert_eq!(alias_of(Some("éa"), true).unwrap(), "éa");
        assert!(alias_of(Some("v12"), true).is_err());
        assert_eq!(alias_of(Some("v1x"), true).unwrap(), "v1x");
        assert_eq!(alias_of(Some("v"), true).unwrap(), "v");
    }
}
