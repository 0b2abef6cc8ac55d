//! Typed models of the MLflow REST API, shared by the server (which serialises them)
//! and the UI (which deserialises them). Field names are MLflow's, so the JSON on the
//! wire is exactly what the stock `mlflow` client expects.

pub mod artifact;
pub mod error;
pub mod experiment;
pub mod json;
pub mod logged_model;
pub mod registry;
pub mod run;
pub mod search;

pub use artifact::*;
pub use error::{ErrorBody, ErrorCode};
pub use experiment::*;
pub use logged_model::*;
pub use registry::*;
pub use run::*;
pub use search::*;

/// A key/value pair: experiment tags, run tags, params and dataset input tags share it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Which lifecycle stages a search covers (`view_type` / `run_view_type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(rename_all = "SCREAMING_SNAKE_CASE"))]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    /// Parses the proto enum as a name or its number, as protobuf's JSON parser does.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "ACTIVE_ONLY" | "1" => Some(Self::ActiveOnly),
            "DELETED_ONLY" | "2" => Some(Self::DeletedOnly),
            "ALL" | "3" => Some(Self::All),
            _ => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for ViewType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = json::Scalar::deserialize(d)?.into_text();
        Self::parse(&raw).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "Invalid value '{raw}': expected one of ACTIVE_ONLY, DELETED_ONLY, ALL"
            ))
        })
    }
}

impl serde::Serialize for ViewType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Self::ActiveOnly => "ACTIVE_ONLY",
            Self::DeletedOnly => "DELETED_ONLY",
            Self::All => "ALL",
        })
    }
}
