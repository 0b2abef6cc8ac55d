//! Browser sessions from an OIDC login.
//!
//! `tower-sessions` handles the cookie (HttpOnly, SameSite=Lax, Secure behind an https
//! `--public-url`), id rotation and expiry; [`DbStore`] keeps the records in the `sessions`
//! table, so a session survives a restart and is valid on every replica. Expiry is on
//! inactivity (`--session-ttl`); [`caller`] pushes it forward at most every
//! [`TOUCH_FRACTION`]th of the TTL, so an active user costs one write now and then, not
//! one per request. Expired rows are deleted by the upkeep job ([`delete_expired`]).

use super::{Caller, OidcConfig, Via, users};
use crate::db::Db;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::now_ms;
use axum::http::request::Parts;
use sqlx::Row;
use tower_sessions::cookie::{SameSite, time::OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// The session cookie's name.
pub const COOKIE: &str = "ferroflow_session";
/// Session key: the logged-in user's `users.id`.
const USER_ID: &str = "user_id";
/// Session key: when the expiry was last pushed forward (ms since the epoch).
const TOUCHED: &str = "touched_ms";
/// The expiry moves forward once this fraction of the TTL has passed since the last move.
const TOUCH_FRACTION: u32 = 20;

/// The session layer for `--auth oidc`.
pub fn layer(db: Db, oidc: &OidcConfig) -> SessionManagerLayer<DbStore> {
    let secure = oidc
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let ttl = tower_sessions::cookie::time::Duration::try_from(oidc.session_ttl)
        .unwrap_or(tower_sessions::cookie::time::Duration::days(7));
    SessionManagerLayer::new(DbStore { db })
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(ttl))
}

/// Makes `session` the login session of `user_id` (its id was rotated by the caller).
pub async fn log_in(session: &Session, user_id: i64) -> Result<(), ApiError> {
    session
        .insert(USER_ID, user_id)
        .await
        .map_err(store_error)?;
    session.insert(TOUCHED, now_ms()).await.map_err(store_error)
}

/// The caller of a request's browser session, if it has a live one.
pub async fn caller(state: &AppState, parts: &mut Parts) -> Result<Option<Caller>, ApiError> {
    let Some(session) = parts.extensions.get::<Session>().cloned() else {
        return Ok(None);
    };
    let Some(user_id) = session.get::<i64>(USER_ID).await.map_err(store_error)? else {
        return Ok(None);
    };
    let Some(user) = users::get(&state.db, user_id).await? else {
        // The user row is gone: the session names nobody.
        session.flush().await.map_err(store_error)?;
        return Ok(None);
    };
    if let Some(oidc) = state.config.auth.oidc() {
        touch(&session, oidc).await?;
    }
    Ok(Some(user.caller(Via::Session)))
}

/// Marks the session modified when its expiry is due to move forward, so the session
/// layer saves it (with a fresh expiry) and re-sends the cookie.
async fn touch(session: &Session, oidc: &OidcConfig) -> Result<(), ApiError> {
    let now = now_ms();
    let step = (oidc.session_ttl / TOUCH_FRACTION).as_millis() as i64;
    let touched = session
        .get::<i64>(TOUCHED)
        .await
        .map_err(store_error)?
        .unwrap_or(0);
    if now - touched >= step {
        session.insert(TOUCHED, now).await.map_err(store_error)?;
    }
    Ok(())
}

pub fn store_error(e: tower_sessions::session::Error) -> ApiError {
    tracing::error!(error = %e, "session store error");
    ApiError::internal("The session store failed; see the server log.")
}

/// Deletes sessions past their expiry; returns how many.
pub async fn delete_expired(db: &Db) -> crate::error::Result<u64> {
    db.writer
        .run(|conn| {
            Box::pin(async move {
                let done = sqlx::query("DELETE FROM sessions WHERE expiry_date < $1")
                    .bind(now_ms())
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected())
            })
        })
        .await
}

/// tower-sessions records in the `sessions` table: the id as tower-sessions prints it,
/// the data as JSON, the expiry in milliseconds since the epoch.
#[derive(Clone)]
pub struct DbStore {
    db: Db,
}

impl std::fmt::Debug for DbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbStore")
    }
}

fn expiry_ms(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

fn backend(e: ApiError) -> session_store::Error {
    session_store::Error::Backend(e.message)
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    serde_json::to_vec(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait::async_trait]
impl SessionStore for DbStore {
    /// Inserts under a fresh id, drawing another on the (astronomically unlikely) clash.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let expiry = expiry_ms(record);
        loop {
            let id = record.id.to_string();
            let data = data.clone();
            let inserted = self
                .db
                .writer
                .run(move |conn| {
                    let (id, data) = (id.clone(), data.clone());
                    Box::pin(async move {
                        let done = sqlx::query(
                            "INSERT INTO sessions (id, data, expiry_date) VALUES ($1, $2, $3) \
                             ON CONFLICT (id) DO NOTHING",
                        )
                        .bind(id)
                        .bind(data)
                        .bind(expiry)
                        .execute(&mut *conn)
                        .await?;
                        Ok(done.rows_affected() == 1)
                    })
                })
                .await
                .map_err(backend)?;
            if inserted {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (id, data, expiry) = (record.id.to_string(), encode(record)?, expiry_ms(record));
        self.db
            .writer
            .run(move |conn| {
                let (id, data) = (id.clone(), data.clone());
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO sessions (id, data, expiry_date) VALUES ($1, $2, $3) \
                         ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
                         expiry_date = excluded.expiry_date",
                    )
                    .bind(id)
                    .bind(data)
                    .bind(expiry)
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query(
            "SELECT data, expiry_date FROM sessions WHERE id = $1 AND expiry_date > $2",
        )
        .bind(id.to_string())
        .bind(now_ms())
        .fetch_optional(&self.db.pool)
        .await
        .map_err(|e| backend(e.into()))?;
        let Some(row) = row else { return Ok(None) };
        let data: Vec<u8> = row.try_get(0).map_err(|e| backend(e.into()))?;
        let expiry: i64 = row.try_get(1).map_err(|e| backend(e.into()))?;
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_slice(&data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: OffsetDateTime::from_unix_timestamp_nanos(i128::from(expiry) * 1_000_000)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let id = id.to_string();
        self.db
            .writer
            .run(move |conn| {
                let id = id.clone();
                Box::pin(async move {
                    sqlx::query("DELETE FROM sessions WHERE id = $1")
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .await
            .map_err(backend)
    }
}
