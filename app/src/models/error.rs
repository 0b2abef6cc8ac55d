//! MLflow's error body and codes (`mlflow/protos/databricks.proto`), with the HTTP status
//! each code maps to in `mlflow/exceptions.py`.

use serde::{Deserialize, Serialize};

/// The error codes ferroflow answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidParameterValue,
    BadRequest,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    EndpointNotFound,
    Unauthenticated,
    PermissionDenied,
    RequestLimitExceeded,
    InvalidState,
    InternalError,
    NotImplemented,
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The HTTP status MLflow sends with this code (`ERROR_CODE_TO_HTTP_STATUS`).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidParameterValue | Self::BadRequest | Self::ResourceAlreadyExists => 400,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::ResourceDoesNotExist | Self::EndpointNotFound => 404,
            Self::RequestLimitExceeded => 429,
            Self::InvalidState | Self::InternalError => 500,
            Self::NotImplemented => 501,
            Self::TemporarilyUnavailable => 503,
        }
    }
}

/// `{"error_code": ..., "message": ...}`: every API error has this body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error_code: ErrorCode,
    pub message: String,
}
