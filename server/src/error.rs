//! One error type for the whole API. Every failure becomes MLflow's JSON body
//! (`{"error_code": ..., "message": ...}`) with the HTTP status MLflow uses for that code,
//! so the stock client raises the same `MlflowException` it would against MLflow.

use app::models::{ErrorBody, ErrorCode};
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceDoesNotExist, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceAlreadyExists, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, message)
    }

    /// MLflow's message for an absent required field.
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!(
            "Missing value for required parameter '{field}'. \
             See the API docs for more information about request parameters."
        ))
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Database failures are the server's problem, not the client's: a lost connection or a
/// pool time-out is retryable (503, which the client retries), anything else is a 500
/// whose detail goes to the log rather than to the caller.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %e, "database unavailable");
                Self::unavailable("The database is temporarily unavailable; retry shortly.")
            }
            _ => {
                tracing::error!(error = %e, "database error");
                Self::internal("Internal database error; see the server log.")
            }
        }
    }
}

/// A malformed filter, order_by or page token: the client's mistake, said in its terms.
impl<E: Into<crate::search::SearchError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self::invalid(e.into().to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            Json(ErrorBody {
                error_code: self.code,
                message: self.message,
            }),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
