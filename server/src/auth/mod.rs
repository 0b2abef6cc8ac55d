//! Who is calling, and what they may do.
//!
//! `--auth none` (the default) makes every caller an anonymous admin. `--auth oidc` asks
//! every request outside the public paths for a credential: an `Authorization` header
//! (a ferroflow API token as Bearer or as Basic password, or a JWT from the identity
//! provider: `credentials.rs`) or a browser session from an OIDC login (`session.rs`).
//! The `authenticate` layer resolves it once into a [`Caller`] in the request's extensions;
//! handlers state they need one by taking `Caller` as an extractor. A request without a
//! credential gets 401 `UNAUTHENTICATED` on the API and a redirect to `/login` on pages.

pub mod api;
mod config;
pub mod credentials;
pub mod csrf;
pub mod jwt;
pub mod login;
pub mod oidc;
pub mod permissions;
pub mod session;
pub mod tokens;
pub mod users;

pub use config::{AuthArgs, AuthConfig, OidcConfig};

use crate::error::ApiError;
use crate::state::AppState;
use app::models::ErrorCode;
use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

/// A permission on an experiment (covering its runs) or a registered model (covering its
/// versions), as MLflow's auth plugin has them. Ordered: each includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    NoPermissions,
    Read,
    Edit,
    Manage,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoPermissions => "NO_PERMISSIONS",
            Self::Read => "READ",
            Self::Edit => "EDIT",
            Self::Manage => "MANAGE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NO_PERMISSIONS" => Some(Self::NoPermissions),
            "READ" => Some(Self::Read),
            "EDIT" => Some(Self::Edit),
            "MANAGE" => Some(Self::Manage),
            _ => None,
        }
    }
}

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `--auth none`: nobody is asked.
    Anonymous,
    /// A browser session from an OIDC login.
    Session,
    /// A ferroflow API token (Bearer, or the password of HTTP Basic).
    Token,
    /// A JWT issued by the identity provider.
    Jwt,
}

/// The authenticated caller of one request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// `users.id`; `None` for the anonymous caller of `--auth none` and for a provider JWT
    /// whose subject has no user row.
    pub user_id: Option<i64>,
    /// What runs created by this caller carry as `user_id`; empty when anonymous.
    pub username: String,
    pub groups: Vec<String>,
    /// Admins bypass every permission check.
    pub is_admin: bool,
    pub via: Via,
}

impl Caller {
    /// Everyone, under `--auth none`.
    pub fn anonymous_admin() -> Self {
        Self {
            user_id: None,
            username: String::new(),
            groups: Vec::new(),
            is_admin: true,
            via: Via::Anonymous,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.via == Via::Anonymous
    }
}

/// Handlers that take a `Caller` only run for authenticated requests. A request the
/// `authenticate` layer did not see has no caller and is refused (fail closed).
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(unauthenticated)
    }
}

/// MLflow's answer to a request without a valid credential.
pub fn unauthenticated() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        "You are not authenticated. Please see \
         https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow \
         on how to authenticate.",
    )
}

/// Paths anyone may reach: probes, metrics, the login flow and the static assets the
/// login page itself needs.
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/ready" | "/metrics" | "/version" | "/favicon.ico" | "/login" | "/logout"
    ) || path.starts_with("/auth/")
        || path.starts_with("/pkg/")
}

/// Requests answered with JSON (401) rather than a redirect to the login page.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/ajax-api/")
        || path.starts_with("/_fn/")
        || path.starts_with("/export/")
        || path == "/get-artifact"
        || path.starts_with("/model-versions/")
        || path == "/plot.svg"
}

/// The layer that resolves the caller (see the module docs).
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let caller = match &state.config.auth {
        AuthConfig::None => Some(Caller::anonymous_admin()),
        AuthConfig::Oidc(oidc) => {
            if csrf::applies(&state.config.auth, &parts)
                && let Err(e) = csrf::check(oidc, &parts.headers)
            {
                return e.into_response();
            }
            match identify(&state, &mut parts).await {
                Ok(caller) => caller,
                Err(e) => return e.into_response(),
            }
        }
    };
    match caller {
        Some(caller) => {
            parts.extensions.insert(caller);
        }
        None if is_public(&path) => {}
        None if is_api(&path) => return unauthenticated().into_response(),
        None => {
            let next_url = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            return Redirect::to(&format!(
                "/login?next={}",
                app::pages::url_encode(&next_url)
            ))
            .into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The caller a request's credential names: its `Authorization` header if it has one
/// (a bad header is an error, never a fall-back to the session), else its session.
async fn identify(state: &AppState, parts: &mut Parts) -> Result<Option<Caller>, ApiError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION).cloned() {
        return credentials::from_authorization(state, &value)
            .await
            .map(Some);
    }
    session::caller(state, parts).await
}
