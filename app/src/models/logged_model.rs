//! Logged models (MLflow 3.x): what `mlflow.<flavor>.log_model` creates before uploading a
//! model's files, and the run outputs that point at them.

use super::KeyValue;
use super::json::{Scalar, opt_i64, opt_string, string_list};
use super::run::Metric;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    pub data: LoggedModelData,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub artifact_uri: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub status: LoggedModelStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoggedModelData {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

/// The proto enum; read as a name or its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum LoggedModelStatus {
    #[cfg_attr(feature = "ssr", schema(rename = "LOGGED_MODEL_STATUS_UNSPECIFIED"))]
    Unspecified,
    #[cfg_attr(feature = "ssr", schema(rename = "LOGGED_MODEL_PENDING"))]
    Pending,
    #[cfg_attr(feature = "ssr", schema(rename = "LOGGED_MODEL_READY"))]
    Ready,
    #[cfg_attr(feature = "ssr", schema(rename = "LOGGED_MODEL_UPLOAD_FAILED"))]
    UploadFailed,
}

impl LoggedModelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "LOGGED_MODEL_STATUS_UNSPECIFIED",
            Self::Pending => "LOGGED_MODEL_PENDING",
            Self::Ready => "LOGGED_MODEL_READY",
            Self::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "LOGGED_MODEL_STATUS_UNSPECIFIED" | "0" => Self::Unspecified,
            "LOGGED_MODEL_PENDING" | "1" => Self::Pending,
            "LOGGED_MODEL_READY" | "2" => Self::Ready,
            "LOGGED_MODEL_UPLOAD_FAILED" | "3" => Self::UploadFailed,
            _ => return None,
        })
    }
}

impl Serialize for LoggedModelStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LoggedModelStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Scalar::deserialize(d)?.into_text();
        Self::parse(&raw).ok_or_else(|| {
            serde::de::Error::custom(format!("Invalid value '{raw}' for the logged model status"))
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct CreateLoggedModel {
    #[serde(alias = "experimentId", deserialize_with = "opt_string::deserialize")]
    pub experiment_id: Option<String>,
    pub name: Option<String>,
    #[serde(alias = "modelType")]
    pub model_type: Option<String>,
    #[serde(alias = "sourceRunId")]
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

/// `PATCH logged-models/{id}`: finalize.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct FinalizeLoggedModel {
    pub status: Option<LoggedModelStatus>,
}

/// `PATCH logged-models/{id}/tags` and `POST logged-models/{id}/params`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct LoggedModelKeyValues {
    pub tags: Vec<KeyValue>,
    pub params: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SearchLoggedModels {
    #[serde(alias = "experimentIds", deserialize_with = "string_list::deserialize")]
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    #[serde(alias = "maxResults", deserialize_with = "opt_i64::deserialize")]
    pub max_results: Option<i64>,
    #[serde(alias = "orderBy")]
    pub order_by: Vec<LoggedModelOrderBy>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(Serialize, utoipa::ToSchema))]
#[serde(default)]
pub struct LoggedModelOrderBy {
    #[serde(alias = "fieldName")]
    pub field_name: Option<String>,
    pub ascending: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoggedModelResponse {
    pub model: LoggedModel,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchLoggedModelsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<LoggedModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A run's output: a model it logged, at a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelOutput {
    pub model_id: String,
    #[serde(
        default,
        deserialize_with = "opt_i64::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub step: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelInput {
    pub model_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunOutputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_outputs: Vec<ModelOutput>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct LogOutputs {
    #[serde(flatten)]
    pub run: super::RunIdRequest,
    pub models: Vec<ModelOutput>,
}
