//! The request extractor every API handler uses: `Mlflow<T>` reads the request the way
//! MLflow's Flask handlers do, so any client that works against MLflow works here.

use crate::error::ApiError;
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{Method, StatusCode, header},
};
use serde::de::DeserializeOwned;

/// The largest JSON body the API reads (the artifact proxy streams and has none).
/// MLflow accepts dataset profiles up to 16 MiB; this leaves room for the rest of a request.
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

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
            if query.contains("%00") {
                return Err(nul_refused());
            }
            if !decodes_to_utf8(&query) {
                return Err(ApiError::invalid(
                    "Invalid request parameters: the query string is not UTF-8 once decoded.",
                ));
            }
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
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                return ApiError::too_large(BODY_LIMIT);
            }
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
        if has_nul(inner.as_bytes()) {
            return Err(nul_refused());
        }
        return serde_json::from_str(&inner).map_err(malformed);
    }
    if has_nul(trimmed) {
        return Err(nul_refused());
    }
    serde_json::from_slice(trimmed).map_err(malformed)
}

/// Whether a query string's percent escapes decode to UTF-8 (the form decoder would
/// otherwise replace bad bytes with U+FFFD and search for that).
fn decodes_to_utf8(query: &str) -> bool {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&out).is_ok()
}

/// PostgreSQL cannot store U+0000 in text, and no MLflow name or value needs it; it is
/// refused on both backends alike, before anything is read.
fn nul_refused() -> ApiError {
    ApiError::invalid("Invalid request: NUL characters (\\u0000) are not allowed.")
}

/// Whether JSON text holds a NUL: a `\u0000` escape (not an escaped backslash followed by
/// `u0000`). A raw NUL byte is not valid JSON and is refused by the parser anyway.
fn has_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(i, w)| {
        w == b"\\u0000" && json[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(has_nul(br#"{"a": "x\u0000y"}"#));
        assert!(
            has_nul(br#"{"a": "\\\u0000"}"#),
            "an escaped backslash, then a NUL"
        );
        assert!(
            !has_nul(br#"{"a": "\\u0000"}"#),
            "a backslash, then the text u0000"
        );
        assert!(!has_nul(br#"{"a": "u0000"}"#));
        let nul = parse_json::<serde_json::Value>(br#"{"a": "x\u0000"}"#).unwrap_err();
        assert_eq!(nul.code, app::models::ErrorCode::InvalidParameterValue);
        let double = parse_json::<serde_json::Value>(br#""{\"a\": \"\\u0000\"}""#);
        assert!(double.is_err(), "a NUL inside a double-encoded body");
        assert!(parse_json::<serde_json::Value>(br#"{"a": "\\u0000"}"#).is_ok());
    }

    #[test]
    fn query_strings_must_decode_to_utf8() {
        assert!(decodes_to_utf8("name=caf%C3%A9&x=%41+b"));
        assert!(
            decodes_to_utf8("a=100%&b=%zz"),
            "stray percent signs are text"
        );
        assert!(!decodes_to_utf8("name=%FF%FE"));
        assert!(!decodes_to_utf8("name=%C3%28"));
        assert!(!decodes_to_utf8("name=%E2%82"));
    }
}
