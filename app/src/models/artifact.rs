//! Artifact listings: `artifacts/list` and the `mlflow-artifacts` proxy.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    /// Absent for directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ListArtifacts {
    #[serde(alias = "runId")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid")]
    pub run_uuid: Option<String>,
    pub path: Option<String>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ListArtifactsResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

/// Query of `mlflow-artifacts/artifacts` (list) and of `/get-artifact`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ArtifactQuery {
    pub path: Option<String>,
    pub run_id: Option<String>,
    pub run_uuid: Option<String>,
}
