//! Run search: MLflow's request and response, plus ferroflow's column projection.

use super::json::{opt_i64, string_list};
use super::{Run, ViewType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SearchRuns {
    #[serde(alias = "experimentIds", deserialize_with = "string_list::deserialize")]
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    #[serde(alias = "runViewType")]
    pub run_view_type: Option<ViewType>,
    #[serde(alias = "maxResults", deserialize_with = "opt_i64::deserialize")]
    pub max_results: Option<i64>,
    #[serde(alias = "orderBy", deserialize_with = "string_list::deserialize")]
    pub order_by: Vec<String>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
    /// ferroflow extension: when present, only these columns of run data are loaded and
    /// returned (`metrics.loss`, `params.lr`, `tags.team`; `metrics.*` for every metric).
    /// Run info is always returned. Clients that omit it get MLflow's full response.
    #[serde(deserialize_with = "string_list::deserialize")]
    pub columns: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchRunsResponse {
    #[serde(default)]
    pub runs: Vec<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}
