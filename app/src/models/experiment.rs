//! Experiments: the entity and its endpoints' requests and responses.

use super::json::{opt_i64, opt_string};
use super::{KeyValue, ViewType};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: String,
    pub last_update_time: i64,
    pub creation_time: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct CreateExperiment {
    pub name: Option<String>,
    #[serde(alias = "artifactLocation")]
    pub artifact_location: Option<String>,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateExperimentResponse {
    pub experiment_id: String,
}

/// Requests naming one experiment by id (get, delete, restore).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ExperimentIdRequest {
    #[serde(alias = "experimentId", deserialize_with = "opt_string::deserialize")]
    pub experiment_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct GetExperimentByName {
    #[serde(alias = "experimentName")]
    pub experiment_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExperimentResponse {
    pub experiment: Experiment,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct UpdateExperiment {
    #[serde(alias = "experimentId", deserialize_with = "opt_string::deserialize")]
    pub experiment_id: Option<String>,
    #[serde(alias = "newName")]
    pub new_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SetExperimentTag {
    #[serde(alias = "experimentId", deserialize_with = "opt_string::deserialize")]
    pub experiment_id: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SearchExperiments {
    #[serde(alias = "maxResults", deserialize_with = "opt_i64::deserialize")]
    pub max_results: Option<i64>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
    pub filter: Option<String>,
    #[serde(
        alias = "orderBy",
        deserialize_with = "super::json::string_list::deserialize"
    )]
    pub order_by: Vec<String>,
    #[serde(alias = "viewType")]
    pub view_type: Option<ViewType>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchExperimentsResponse {
    pub experiments: Vec<Experiment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}
