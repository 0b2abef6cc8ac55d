//! The `users` table: people recorded at each OIDC login, and service accounts.

use crate::db::Db;
use crate::error::Result;
use crate::store::now_ms;
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// The provider's subject; `None` for service accounts.
    pub subject: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    pub is_admin: bool,
    /// `person` or `service`.
    pub kind: String,
    pub created_time: i64,
    pub last_login_time: Option<i64>,
}

/// What a login tells us about a person.
#[derive(Clone, Debug)]
pub struct Login {
    pub subject: String,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    pub is_admin: bool,
}

const SELECT: &str = "SELECT id, username, subject, email, display_name, groups, is_admin, kind, \
                      created_time, last_login_time FROM users";

fn from_row(row: &sqlx::any::AnyRow) -> Result<User> {
    let groups: String = row.try_get(5)?;
    Ok(User {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        subject: row.try_get(2)?,
        email: row.try_get(3)?,
        display_name: row.try_get(4)?,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        is_admin: row.try_get::<i64, _>(6)? != 0,
        kind: row.try_get(7)?,
        created_time: row.try_get(8)?,
        last_login_time: row.try_get(9)?,
    })
}

impl User {
    /// The caller this user is, proven by `via`.
    pub fn caller(&self, via: super::Via) -> super::Caller {
        super::Caller {
            user_id: Some(self.id),
            username: self.username.clone(),
            groups: self.groups.clone(),
            is_admin: self.is_admin,
            via,
        }
    }
}

pub async fn get(db: &Db, id: i64) -> Result<Option<User>> {
    let row = sqlx::query(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_username(db: &Db, username: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("{SELECT} WHERE username = $1"))
        .bind(username)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_subject(db: &Db, subject: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("{SELECT} WHERE subject = $1"))
        .bind(subject)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records a login: creates the user at their first one, refreshes what the provider says
/// (email, name, groups, admin) at every one. The username is fixed at the first login,
/// since runs carry it.
pub async fn record_login(db: &Db, login: Login) -> Result<User> {
    let login = std::sync::Arc::new(login);
    db.writer
        .run(move |conn| {
            let l = login.clone();
            Box::pin(async move {
                let now = now_ms();
                let groups = serde_json::to_string(&l.groups).unwrap_or_else(|_| "[]".into());
                sqlx::query(
                    "INSERT INTO users (username, subject, email, display_name, groups, is_admin, \
                     kind, created_time, last_login_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'person', $7, $7) \
                     ON CONFLICT (subject) DO UPDATE SET email = excluded.email, \
                     display_name = excluded.display_name, groups = excluded.groups, \
                     is_admin = excluded.is_admin, last_login_time = excluded.last_login_time",
                )
                .bind(&l.username)
                .bind(&l.subject)
                .bind(&l.email)
                .bind(&l.display_name)
                .bind(groups)
                .bind(i64::from(l.is_admin))
                .bind(now)
                .execute(&mut *conn)
                .await?;
                let row = sqlx::query(&format!("{SELECT} WHERE subject = $1"))
                    .bind(&l.subject)
                    .fetch_one(&mut *conn)
                    .await?;
                from_row(&row)
            })
        })
        .await
}
