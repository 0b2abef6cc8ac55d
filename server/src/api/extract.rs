//! The request extractor every API handler uses: `Mlflow<T>` reads the request the way
//! MLflow's Flask handlers do, so any client that works against MLflow works here.

use crate::error::ApiError;
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{Method, header},
};
use serde::de::DeserializeOwned;

/// A request message parsed from the query string (GET) or the JSON body (others).
pub struct Mlflow<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Mlflow<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // GET takes its fields from the query string; MLflow falls back to a JSON body
        // when there is none.
        if method == Method::GET && !query.is_empty() {
            return serde_html_form::from_str(&query)
                .map(Mlflow)
                .map_err(|e| ApiError::invalid(format!("Invalid request parameters: {e}")));
        }
        if matches!(method, Method::POST | Method::PUT) {
            let json = content_type.as_deref().is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
            if !json {
                return Err(ApiError::invalid(
                    "Bad Request. Content-Type must be one of ['application/json'].",
                ));
            }
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(
                app::models::ErrorCode::BadRequest,
                format!("Could not read the request body: {e}"),
            )
        })?;
        parse_json(&body).map(Mlflow)
    }
}

/// Parses a JSON body; an empty one is `{}`, and a JSON string holding JSON (what some
/// legacy clients send) is decoded twice, as MLflow does.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let malformed =
        |e: serde_json::Error| ApiError::invalid(format!("Malformed request body: {e}"));
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return serde_json::from_slice(b"{}").map_err(malformed);
    }
    if trimmed.first() == Some(&b'"') {
        let inner: String = serde_json::from_slice(trimmed).map_err(malformed)?;
        return serde_json::from_str(&inner).map_err(malformed);
    }
    serde_json::from_slice(trimmed).map_err(malformed)
}
