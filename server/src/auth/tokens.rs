//! ferroflow API tokens: personal ones (`ffp_…`) and service-account ones (`ffs_…`).
//!
//! The secret is 40 random base62 characters (about 238 bits). Only its SHA-256 is stored,
//! and a token is found by that hash through a unique index, so a lookup compares no
//! secret bytes in Rust and leaks nothing about a prefix. `prefix` (the first characters)
//! is kept only so lists can tell tokens apart.

use super::users::{self, User};
use crate::db::Db;
use crate::error::{ApiError, Result};
use crate::store::now_ms;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Personal access tokens start with this.
pub const PERSONAL: &str = "ffp_";
/// Service-account tokens start with this.
pub const SERVICE: &str = "ffs_";
const SECRET_LEN: usize = 40;
/// Characters of the token kept in the clear, to tell tokens apart in a list.
const SHOWN: usize = 8;
/// `last_used_time` is written at most this often per token.
const LAST_USED_EVERY_MS: i64 = 60_000;

/// A token as lists show it (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_time: i64,
    pub expiry_time: Option<i64>,
    pub revoked_time: Option<i64>,
    pub last_used_time: Option<i64>,
}

/// A new token: the secret is shown once, here.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NewToken {
    pub token: String,
    pub info: TokenInfo,
}

/// The stored form of a secret.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a string has the shape of a ferroflow token (not a JWT, not junk).
pub fn looks_like_token(s: &str) -> bool {
    (s.starts_with(PERSONAL) || s.starts_with(SERVICE))
        && s.len() == PERSONAL.len() + SECRET_LEN
        && s[PERSONAL.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

fn generate(kind: &str) -> String {
    let secret: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(SECRET_LEN)
        .map(char::from)
        .collect();
    let prefix = if kind == "service" { SERVICE } else { PERSONAL };
    format!("{prefix}{secret}")
}

const SELECT: &str = "SELECT id, user_id, name, prefix, created_time, expiry_time, revoked_time, \
                      last_used_time FROM api_tokens";

fn info_from_row(row: &sqlx::any::AnyRow) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        name: row.try_get(2)?,
        prefix: row.try_get(3)?,
        created_time: row.try_get(4)?,
        expiry_time: row.try_get(5)?,
        revoked_time: row.try_get(6)?,
        last_used_time: row.try_get(7)?,
    })
}

/// Creates a token for `user`; `expiry_time` (ms since the epoch) must be in the future.
pub async fn create(
    db: &Db,
    user: &User,
    name: &str,
    expiry_time: Option<i64>,
) -> Result<NewToken> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "A token needs a name of 1 to 100 characters.",
        ));
    }
    let now = now_ms();
    if expiry_time.is_some_and(|t| t <= now) {
        return Err(ApiError::invalid("A token's expiry must be in the future."));
    }
    let token = generate(&user.kind);
    let data = std::sync::Arc::new((
        user.id,
        name.to_owned(),
        token[..PERSONAL.len() + SHOWN].to_owned(),
        hash(&token),
        expiry_time,
    ));
    let id = db
        .writer
        .run(move |conn| {
            let d = data.clone();
            Box::pin(async move {
                let row = sqlx::query(
                    "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_time, \
                     expiry_time) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(d.0)
                .bind(&d.1)
                .bind(&d.2)
                .bind(&d.3)
                .bind(now)
                .bind(d.4)
                .fetch_one(&mut *conn)
                .await?;
                Ok(row.try_get::<i64, _>(0)?)
            })
        })
        .await?;
    let info = get(db, id)
        .await?
        .ok_or_else(|| ApiError::internal("token vanished"))?;
    Ok(NewToken { token, info })
}

pub async fn get(db: &Db, id: i64) -> Result<Option<TokenInfo>> {
    let row = sqlx::query(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(info_from_row).transpose()
}

/// A user's tokens, newest first (revoked ones included, marked).
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<TokenInfo>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE user_id = $1 ORDER BY created_time DESC, id DESC"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(info_from_row).collect()
}

/// Revokes a token of `user_id`; revoking twice is a no-op, someone else's token is 404.
pub async fn revoke(db: &Db, user_id: i64, token_id: i64) -> Result<()> {
    let found = db
        .writer
        .run(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_time = COALESCE(revoked_time, $1) \
                     WHERE id = $2 AND user_id = $3",
                )
                .bind(now_ms())
                .bind(token_id)
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected() > 0)
            })
        })
        .await?;
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("No token with id {token_id}.")))
    }
}

/// The user a presented token belongs to, if it is known, unrevoked and unexpired.
/// Notes the use (at most once a minute per token, off the request's path).
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<User>> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT id, user_id, expiry_time, revoked_time, last_used_time FROM api_tokens \
         WHERE token_hash = $1",
    )
    .bind(hash(token))
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: i64 = row.try_get(0)?;
    let user_id: i64 = row.try_get(1)?;
    let expiry: Option<i64> = row.try_get(2)?;
    let revoked: Option<i64> = row.try_get(3)?;
    let last_used: Option<i64> = row.try_get(4)?;
    let now = now_ms();
    if revoked.is_some() || expiry.is_some_and(|t| t <= now) {
        return Ok(None);
    }
    if last_used.is_none_or(|t| now - t >= LAST_USED_EVERY_MS) {
        let db = db.clone();
        tokio::spawn(async move {
            let _ = db
                .writer
                .run(move |conn| {
                    Box::pin(async move {
                        sqlx::query("UPDATE api_tokens SET last_used_time = $1 WHERE id = $2")
                            .bind(now)
                            .bind(id)
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                })
                .await;
        });
    }
    users::get(db, user_id).await
}

/// Creates a service account (a `users` row of kind `service`, no subject).
pub async fn create_service_account(db: &Db, username: &str) -> Result<User> {
    let username = username.trim().to_owned();
    if username.is_empty() || username.chars().count() > 100 {
        return Err(ApiError::invalid(
            "A service account needs a name of 1 to 100 characters.",
        ));
    }
    if users::by_username(db, &username).await?.is_some() {
        return Err(ApiError::already_exists(format!(
            "A user named {username:?} already exists."
        )));
    }
    let name = std::sync::Arc::new(username.clone());
    db.writer
        .run(move |conn| {
            let n = name.clone();
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO users (username, kind, created_time) VALUES ($1, 'service', $2)",
                )
                .bind(n.as_str())
                .bind(now_ms())
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await?;
    users::by_username(db, &username)
        .await?
        .ok_or_else(|| ApiError::internal("service account vanished"))
}

/// Every service account, by name.
pub async fn service_accounts(db: &Db) -> Result<Vec<User>> {
    let mut all = Vec::new();
    let rows = sqlx::query("SELECT username FROM users WHERE kind = 'service' ORDER BY username")
        .fetch_all(&db.pool)
        .await?;
    for row in rows {
        let name: String = row.try_get(0)?;
        if let Some(u) = users::by_username(db, &name).await? {
            all.push(u);
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_their_shape_and_hash_stably() {
        let t = generate("person");
        assert!(t.starts_with(PERSONAL) && looks_like_token(&t), "{t}");
        assert!(generate("service").starts_with(SERVICE));
        assert_ne!(generate("person"), t);
        assert_eq!(hash(&t), hash(&t));
        assert_eq!(hash(&t).len(), 64);
        assert!(!looks_like_token("ffp_short"));
        assert!(!looks_like_token(&format!("{}!", &t[..t.len() - 1])));
        assert!(!looks_like_token("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
    }
}
