//! The model registry: registered models, their versions, tags and aliases, and the
//! endpoints' requests and responses.

use super::KeyValue;
use super::json::{opt_bool, opt_i64, opt_string, string_list};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The newest version in each stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_versions: Vec<ModelVersion>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<RegisteredModelAlias>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegisteredModelAlias {
    pub alias: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelVersion {
    pub name: String,
    /// A string on the wire, as in MLflow.
    pub version: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub current_stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The logged model (MLflow 3.x) this version was registered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct CreateRegisteredModel {
    pub name: Option<String>,
    pub tags: Vec<KeyValue>,
    pub description: Option<String>,
}

/// Requests naming one registered model (get, delete).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct RegisteredModelName {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct RenameRegisteredModel {
    pub name: Option<String>,
    #[serde(alias = "newName")]
    pub new_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct UpdateRegisteredModel {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegisteredModelResponse {
    pub registered_model: RegisteredModel,
}

/// `registered-models/search` and `model-versions/search`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SearchRegistry {
    pub filter: Option<String>,
    #[serde(alias = "maxResults", deserialize_with = "opt_i64::deserialize")]
    pub max_results: Option<i64>,
    #[serde(alias = "orderBy", deserialize_with = "string_list::deserialize")]
    pub order_by: Vec<String>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchRegisteredModelsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registered_models: Vec<RegisteredModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct GetLatestVersions {
    pub name: Option<String>,
    #[serde(deserialize_with = "string_list::deserialize")]
    pub stages: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelVersionsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_versions: Vec<ModelVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// `registered-models/set-tag` and `delete-tag`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct RegisteredModelTag {
    pub name: Option<String>,
    pub key: Option<String>,
    #[serde(deserialize_with = "opt_string::deserialize")]
    pub value: Option<String>,
}

/// `registered-models/alias` for all three methods (set takes the version too).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ModelAlias {
    pub name: Option<String>,
    pub alias: Option<String>,
    #[serde(deserialize_with = "opt_string::deserialize")]
    pub version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct CreateModelVersion {
    pub name: Option<String>,
    pub source: Option<String>,
    #[serde(alias = "runId")]
    pub run_id: Option<String>,
    pub tags: Vec<KeyValue>,
    #[serde(alias = "runLink")]
    pub run_link: Option<String>,
    pub description: Option<String>,
    #[serde(alias = "modelId")]
    pub model_id: Option<String>,
}

/// Requests naming one model version (get, delete, get-download-uri, update,
/// get-artifact, set-tag, delete-tag).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ModelVersionRequest {
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string::deserialize")]
    pub version: Option<String>,
    pub description: Option<String>,
    pub key: Option<String>,
    #[serde(deserialize_with = "opt_string::deserialize")]
    pub value: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct TransitionStage {
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string::deserialize")]
    pub version: Option<String>,
    pub stage: Option<String>,
    #[serde(
        alias = "archiveExistingVersions",
        deserialize_with = "opt_bool::deserialize"
    )]
    pub archive_existing_versions: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelVersionResponse {
    pub model_version: ModelVersion,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DownloadUriResponse {
    pub artifact_uri: String,
}
