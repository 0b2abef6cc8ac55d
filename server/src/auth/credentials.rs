//! Credentials in the `Authorization` header: ferroflow API tokens (as `Bearer <token>`, or
//! as the password of `Basic`, which is what `MLFLOW_TRACKING_USERNAME`/`_PASSWORD` send)
//! and JWTs issued by the identity provider (`Bearer <jwt>`, see `jwt.rs`).

use super::{Caller, Via, jwt, tokens};
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::HeaderValue;
use base64::Engine;

/// The caller an `Authorization` header names, or 401. Every failure (unknown, expired,
/// revoked, malformed, wrong user) gets the same answer, so a caller learns nothing about
/// which tokens exist.
pub async fn from_authorization(state: &AppState, value: &HeaderValue) -> Result<Caller, ApiError> {
    let value = value.to_str().map_err(|_| super::unauthenticated())?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(super::unauthenticated)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        if tokens::looks_like_token(rest) {
            return by_token(state, rest, None).await;
        }
        if jwt::looks_like_jwt(rest) {
            return jwt::caller(state, rest).await;
        }
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(super::unauthenticated)?;
        let (username, password) = decoded.split_once(':').ok_or_else(super::unauthenticated)?;
        return by_token(state, password, Some(username)).await;
    }
    Err(super::unauthenticated())
}

/// The owner of an API token; with Basic, only if the username names that owner.
async fn by_token(
    state: &AppState,
    token: &str,
    username: Option<&str>,
) -> Result<Caller, ApiError> {
    let user = tokens::authenticate(&state.db, token)
        .await?
        .ok_or_else(super::unauthenticated)?;
    if username.is_some_and(|u| u != user.username) {
        return Err(super::unauthenticated());
    }
    Ok(user.caller(Via::Token))
}
