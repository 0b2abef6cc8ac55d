//! Runs, their data (metrics, params, tags) and inputs, and the endpoints that write them.

use super::KeyValue;
use super::json::{f64_special, opt_f64_special, opt_i64, opt_string, string_list};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    #[serde(default)]
    pub inputs: RunInputs,
    #[serde(default)]
    pub outputs: super::RunOutputs,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunInfo {
    pub run_id: String,
    /// Deprecated in MLflow, still sent: older clients read it.
    pub run_uuid: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunData {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Metric {
    pub key: String,
    #[serde(with = "f64_special")]
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    /// Set in bulk history responses, which mix runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// The per-run, per-key summary kept at write time: the latest point plus min, max and
/// count over the whole history (min and max ignore NaN).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MetricSummary {
    pub key: String,
    #[serde(with = "f64_special")]
    pub last: f64,
    pub step: i64,
    pub timestamp: i64,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    pub count: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunInputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_inputs: Vec<super::ModelInput>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatasetInput {
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    pub dataset: Dataset,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct CreateRun {
    #[serde(alias = "experimentId", deserialize_with = "opt_string::deserialize")]
    pub experiment_id: Option<String>,
    #[serde(alias = "userId")]
    pub user_id: Option<String>,
    #[serde(alias = "runName")]
    pub run_name: Option<String>,
    #[serde(alias = "startTime", deserialize_with = "opt_i64::deserialize")]
    pub start_time: Option<i64>,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunResponse {
    pub run: Run,
}

/// The run id as MLflow takes it: `run_id`, or the deprecated `run_uuid`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(Serialize, utoipa::ToSchema))]
#[serde(default)]
pub struct RunIdRequest {
    #[serde(alias = "runId")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid")]
    pub run_uuid: Option<String>,
}

impl RunIdRequest {
    pub fn id(&self) -> Option<&str> {
        self.run_id
            .as_deref()
            .or(self.run_uuid.as_deref())
            .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct UpdateRun {
    #[serde(flatten)]
    pub run: RunIdRequest,
    pub status: Option<String>,
    #[serde(alias = "endTime", deserialize_with = "opt_i64::deserialize")]
    pub end_time: Option<i64>,
    #[serde(alias = "runName")]
    pub run_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UpdateRunResponse {
    pub run_info: RunInfo,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct LogMetric {
    #[serde(flatten)]
    pub run: RunIdRequest,
    pub key: Option<String>,
    #[serde(deserialize_with = "opt_f64_special::deserialize")]
    pub value: Option<f64>,
    #[serde(deserialize_with = "opt_i64::deserialize")]
    pub timestamp: Option<i64>,
    #[serde(deserialize_with = "opt_i64::deserialize")]
    pub step: Option<i64>,
}

/// A key and value for one run: `runs/log-parameter` and `runs/set-tag`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct RunKeyValue {
    #[serde(flatten)]
    pub run: RunIdRequest,
    pub key: Option<String>,
    #[serde(deserialize_with = "opt_string::deserialize")]
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct DeleteTag {
    #[serde(flatten)]
    pub run: RunIdRequest,
    pub key: Option<String>,
}

/// A metric as log-batch carries it: every field optional so that a missing one is
/// reported by name rather than as a JSON type error.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(Serialize, utoipa::ToSchema))]
#[serde(default)]
pub struct BatchMetric {
    pub key: Option<String>,
    #[serde(deserialize_with = "opt_f64_special::deserialize")]
    pub value: Option<f64>,
    #[serde(deserialize_with = "opt_i64::deserialize")]
    pub timestamp: Option<i64>,
    #[serde(deserialize_with = "opt_i64::deserialize")]
    pub step: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(Serialize, utoipa::ToSchema))]
#[serde(default)]
pub struct BatchKeyValue {
    pub key: Option<String>,
    #[serde(deserialize_with = "opt_string::deserialize")]
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct LogBatch {
    #[serde(flatten)]
    pub run: RunIdRequest,
    pub metrics: Vec<BatchMetric>,
    pub params: Vec<BatchKeyValue>,
    pub tags: Vec<BatchKeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct LogInputs {
    #[serde(flatten)]
    pub run: RunIdRequest,
    pub datasets: Vec<DatasetInput>,
    pub models: Vec<super::ModelInput>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct LogModel {
    #[serde(flatten)]
    pub run: RunIdRequest,
    #[serde(alias = "modelJson")]
    pub model_json: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct GetMetricHistory {
    #[serde(flatten)]
    pub run: RunIdRequest,
    #[serde(alias = "metricKey")]
    pub metric_key: Option<String>,
    #[serde(alias = "maxResults", deserialize_with = "opt_i64::deserialize")]
    pub max_results: Option<i64>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MetricHistoryResponse {
    /// Omitted when empty, as protobuf's JSON does (an unknown run's history is `{}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct GetMetricHistoryBulk {
    #[serde(
        alias = "runIds",
        alias = "run_id",
        deserialize_with = "string_list::deserialize"
    )]
    pub run_ids: Vec<String>,
    #[serde(alias = "metricKey")]
    pub metric_key: Option<String>,
    #[serde(alias = "maxResults", deserialize_with = "opt_i64::deserialize")]
    pub max_results: Option<i64>,
    #[serde(alias = "startStep", deserialize_with = "opt_i64::deserialize")]
    pub start_step: Option<i64>,
    #[serde(alias = "endStep", deserialize_with = "opt_i64::deserialize")]
    pub end_step: Option<i64>,
}
