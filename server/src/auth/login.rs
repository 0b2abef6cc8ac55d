//! The browser login routes: `/login` (the page with the "Log in with …" button),
//! `/auth/login` (off to the provider), `/auth/callback` (back from it: verify, record the
//! user, rotate the session id, go where the user was headed) and `POST /logout`.
//! The pages are plain HTML from the server: they must work before anyone is logged in,
//! with nothing else loaded.

use super::oidc::{Identity, Oidc, Pending};
use super::session::store_error;
use super::{Caller, OidcConfig, users};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use tower_sessions::Session;

/// Session key of the login in flight (see [`Pending`]).
const PENDING: &str = "oidc_pending";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page))
        .route("/auth/login", get(start))
        .route("/auth/callback", get(callback))
        .route("/logout", post(logout))
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    error: Option<String>,
}

/// A path on this server, or `/`: never another origin (`//host`, `/\host`, `http:`).
pub fn same_origin_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/pkg/ferroflow.css\"><title>{} · ferroflow</title></head>\
         <body><header class=\"topbar\"><span class=\"brand\">ferroflow</span></header>\
         <main class=\"login\">{body}</main></body></html>",
        escape(title)
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn oidc(state: &AppState) -> Option<&Oidc> {
    state.oidc.as_ref()
}

async fn login_page(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = same_origin_path(q.next.as_deref());
    let Some(oidc) = oidc(&state) else {
        // `--auth none`: nobody logs in.
        return Redirect::to(&next).into_response();
    };
    if let Some(Extension(c)) = caller
        && !c.is_anonymous()
        && q.error.is_none()
    {
        return Redirect::to(&next).into_response();
    }
    let error = q
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(&e)))
        .unwrap_or_default();
    let href = format!("/auth/login?next={}", app::pages::url_encode(&next));
    page(
        StatusCode::OK,
        "Log in",
        &format!(
            "<h1>Log in</h1>{error}<p><a class=\"button\" id=\"login\" href=\"{}\">Log in with {}</a></p>",
            escape(&href),
            escape(&oidc.provider_name())
        ),
    )
}

/// The address the provider sends the browser back to.
fn callback_url(config: &OidcConfig, headers: &HeaderMap) -> String {
    match &config.public_url {
        Some(base) => format!("{base}/auth/callback"),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}/auth/callback")
        }
    }
}

/// Ends a failed login attempt (its session deleted) and says why on the login page.
async fn fail(session: &Session, next: &str, message: &str) -> Result<Response, ApiError> {
    session.flush().await.map_err(store_error)?;
    Ok(to_login_with_error(next, message))
}

fn to_login_with_error(next: &str, message: &str) -> Response {
    Redirect::to(&format!(
        "/login?next={}&error={}",
        app::pages::url_encode(next),
        app::pages::url_encode(message)
    ))
    .into_response()
}

async fn start(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let next = same_origin_path(q.next.as_deref());
    let (Some(oidc), Some(Extension(session))) = (oidc(&state), session) else {
        return Ok(Redirect::to(&next).into_response());
    };
    let redirect_uri = callback_url(oidc.config(), &headers);
    match oidc.begin(redirect_uri, next.clone()) {
        Ok((url, pending)) => {
            session
                .insert(PENDING, pending)
                .await
                .map_err(store_error)?;
            Ok(Redirect::to(&url).into_response())
        }
        Err(e) => Ok(to_login_with_error(&next, &e.0)),
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let (Some(oidc), Some(Extension(session))) = (oidc(&state), session) else {
        return Ok(Redirect::to("/").into_response());
    };
    // One use only: whatever happens next, this login attempt is over.
    let pending: Option<Pending> = session.remove(PENDING).await.map_err(store_error)?;
    let Some(pending) = pending else {
        return fail(
            &session,
            "/",
            "The login expired or was started in another browser; please log in again.",
        )
        .await;
    };
    if let Some(error) = q.error {
        let detail = q.error_description.unwrap_or(error);
        let message = format!("The identity provider did not log you in: {detail}");
        return fail(&session, &pending.next, &message).await;
    }
    if q.state.as_deref() != Some(pending.state.as_str()) {
        return fail(
            &session,
            &pending.next,
            "The login response does not belong to this login (state mismatch); please log in again.",
        )
        .await;
    }
    let Some(code) = q.code else {
        return fail(
            &session,
            &pending.next,
            "The identity provider sent no code.",
        )
        .await;
    };
    let identity = match oidc.finish(&pending, code).await {
        Ok(identity) => identity,
        Err(e) => return fail(&session, &pending.next, &e.0).await,
    };
    // From here on, success or refusal, the pre-login session is done with.
    session.cycle_id().await.map_err(store_error)?;
    let config = oidc.config();
    if !config.allowed_groups.is_empty()
        && !identity
            .groups
            .iter()
            .any(|g| config.allowed_groups.contains(g))
    {
        tracing::info!(subject = %identity.subject, "login refused: not in an allowed group");
        session.flush().await.map_err(store_error)?;
        let who = identity
            .preferred_username
            .clone()
            .or(identity.email.clone())
            .unwrap_or(identity.subject.clone());
        return Ok(page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!(
                "<h1>Not allowed</h1><p class=\"error\" id=\"refused\">{} is not in a group \
                 allowed to use this server.</p><p class=\"muted\">Ask an administrator \
                 for access.</p>",
                escape(&who)
            ),
        ));
    }
    let user = users::record_login(&state.db, login_of(&state, config, identity).await?).await?;
    super::session::log_in(&session, user.id).await?;
    tracing::info!(user = %user.username, "logged in");
    Ok(Redirect::to(&pending.next).into_response())
}

/// The user record for an identity. The username (what runs carry) is the preferred
/// username, else the email, else the subject; one already taken by someone else falls
/// to the next choice.
async fn login_of(
    state: &AppState,
    config: &OidcConfig,
    id: Identity,
) -> Result<users::Login, ApiError> {
    let mut username = id.subject.clone();
    if let Some(existing) = users::by_subject(&state.db, &id.subject).await? {
        username = existing.username;
    } else {
        for candidate in [id.preferred_username.as_deref(), id.email.as_deref()]
            .into_iter()
            .flatten()
        {
            if users::by_username(&state.db, candidate).await?.is_none() {
                username = candidate.to_owned();
                break;
            }
        }
    }
    let is_admin = id.groups.iter().any(|g| config.admin_groups.contains(g));
    Ok(users::Login {
        subject: id.subject,
        username,
        email: id.email,
        display_name: id.name,
        groups: id.groups,
        is_admin,
    })
}

/// Ends the session (its row deleted, so every replica forgets it) and goes to the login
/// page. The CSRF check ran in the `authenticate` layer, as for every POST.
async fn logout(session: Option<Extension<Session>>) -> Result<Response, ApiError> {
    if let Some(Extension(session)) = session {
        session.flush().await.map_err(store_error)?;
    }
    Ok(Redirect::to("/login").into_response())
}

#[cfg(test)]
mod tests {
    use super::same_origin_path;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(
            same_origin_path(Some("/experiments/1?x=1")),
            "/experiments/1?x=1"
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "",
        ] {
            assert_eq!(same_origin_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(same_origin_path(None), "/");
    }
}
