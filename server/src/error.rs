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
    /// The HTTP status when it is not the code's own (see `with_status`).
    status: Option<StatusCode>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: None,
        }
    }

    /// A request body over the server's limit: 413 with code `BAD_REQUEST`. No
    /// `Retry-After`: urllib3 (under the mlflow client) would retry a 413 that had one.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::BadRequest,
            format!(
                "Request body too large: the limit is {} MiB. Log large data as artifacts.",
                limit / (1024 * 1024)
            ),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    }

    /// The same error answered with `status`, for the statuses no MLflow code has (413,
    /// 405, ...).
    pub fn with_status(self, status: StatusCode) -> Self {
        Self {
            status: Some(status),
            ..self
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
        if let Some(status) = self.status {
            return status;
        }
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Database failures are the server's problem, not the client's: a lost connection or a
/// pool time-out is retryable (503, which the client retries), anything else is a 500
/// whose detail goes to the log rather than to the caller.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            e if database_unavailable(e) => {
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

/// Whether `e` says the database cannot be reached now (and a retry may succeed), rather
/// than that the statement failed: no connection in time, the connection lost, or, on
/// PostgreSQL, the server shutting down or restarting (SQLSTATE class 08, 57P01-57P03,
/// 53300 too many connections); on SQLite, the file locked past the busy timeout.
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "53300" | "5" | "261" | "517"
                )
        }),
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// A database error with a given SQLSTATE (PostgreSQL) or result code (SQLite).
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn a_database_going_away_is_503_and_a_bad_statement_500() {
        let status = |code| ApiError::from(sqlx::Error::Database(Box::new(Coded(code)))).status();
        // PostgreSQL shutting down or restarting, a lost connection, too many clients;
        // SQLite busy past its timeout.
        for code in [
            "57P01", "57P02", "57P03", "08006", "08003", "53300", "5", "517",
        ] {
            assert_eq!(status(code), StatusCode::SERVICE_UNAVAILABLE, "{code}");
        }
        // A statement the database refused: the server's bug, not a retry.
        for code in ["22021", "42P01", "23505", "1"] {
            assert_eq!(status(code), StatusCode::INTERNAL_SERVER_ERROR, "{code}");
        }
        assert_eq!(
            ApiError::from(sqlx::Error::PoolTimedOut).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let too_large = ApiError::too_large(32 * 1024 * 1024);
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let response = too_large.into_response();
        assert!(response.headers().get("retry-after").is_none());
    }
}
