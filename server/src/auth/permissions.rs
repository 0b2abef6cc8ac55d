//! Who may do what: MLflow's permission model on experiments (covering their runs,
//! metrics, artifacts, datasets and logged models) and registered models (covering their
//! versions, aliases and tags).
//!
//! A caller's permission on a resource is, in order:
//! 1. MANAGE for admins (they bypass every check);
//! 2. their user grant, if they have one (a user grant wins over group grants, so a
//!    `NO_PERMISSIONS` user grant shuts one member of a permitted group out);
//! 3. the highest of their groups' grants (MLflow's auth plugin has only user grants; a
//!    member of several groups gets the most any of them is given);
//! 4. `--default-permission`.
//!
//! The creator of an experiment or registered model gets a MANAGE user grant, written in
//! the same transaction as the create. Searches filter in SQL with [`readable`].

use super::{Caller, Permission};
use crate::db::Conn;
use crate::error::{ApiError, Result};
use crate::state::AppState;
use app::models::ErrorCode;
use sea_query::{Alias, Expr, Query, SimpleExpr};
use sqlx::Row;

/// What a grant is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Experiment,
    RegisteredModel,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Self::Experiment => "experiment_permissions",
            Self::RegisteredModel => "registered_model_permissions",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Self::Experiment => "experiment_id",
            Self::RegisteredModel => "model_id",
        }
    }
}

/// The permission nobody granted anything: `--default-permission`, or MANAGE without auth.
pub fn default_permission(state: &AppState) -> Permission {
    state
        .config
        .auth
        .oidc()
        .map_or(Permission::Manage, |o| o.default_permission)
}

/// MLflow's answer to a request the caller may not make.
pub fn denied(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PermissionDenied,
        format!("Permission denied: you may not {what}."),
    )
}

/// The caller's permission on one experiment or registered model (see the module docs).
pub async fn effective(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    id: i64,
) -> Result<Permission> {
    if caller.is_admin {
        return Ok(Permission::Manage);
    }
    let mut p = crate::store::Params::new(state.db.backend);
    let (id_p, user_p) = (p.placeholder(), p.placeholder());
    let groups: Vec<String> = caller.groups.iter().map(|_| p.placeholder()).collect();
    let group_test = if groups.is_empty() {
        String::new()
    } else {
        format!(
            " OR (principal_kind = 'group' AND principal IN ({}))",
            groups.join(", ")
        )
    };
    let sql = format!(
        "SELECT principal_kind, permission FROM {} WHERE {} = {id_p} AND \
         ((principal_kind = 'user' AND principal = {user_p}){group_test})",
        kind.table(),
        kind.column()
    );
    let mut q = sqlx::query(&sql).bind(id).bind(&caller.username);
    for g in &caller.groups {
        q = q.bind(g);
    }
    let mut user = None;
    let mut group: Option<Permission> = None;
    for row in q.fetch_all(&state.db.pool).await? {
        let principal_kind: String = row.try_get(0)?;
        let perm =
            Permission::parse(&row.try_get::<String, _>(1)?).unwrap_or(Permission::NoPermissions);
        if principal_kind == "user" {
            user = Some(perm);
        } else {
            group = Some(group.map_or(perm, |g| g.max(perm)));
        }
    }
    Ok(user.or(group).unwrap_or_else(|| default_permission(state)))
}

async fn require(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    id: i64,
    need: Permission,
) -> Result<()> {
    if caller.is_admin || effective(state, caller, kind, id).await? >= need {
        return Ok(());
    }
    let what = match (kind, need) {
        (Kind::Experiment, Permission::Read) => "read this experiment",
        (Kind::Experiment, Permission::Edit) => "change this experiment or its runs",
        (Kind::Experiment, _) => "delete this experiment, its runs, or manage its permissions",
        (Kind::RegisteredModel, Permission::Read) => "read this registered model",
        (Kind::RegisteredModel, Permission::Edit) => "change this registered model",
        (Kind::RegisteredModel, _) => "delete this registered model or manage its permissions",
    };
    Err(denied(what))
}

pub async fn require_experiment(
    state: &AppState,
    caller: &Caller,
    experiment_id: i64,
    need: Permission,
) -> Result<()> {
    require(state, caller, Kind::Experiment, experiment_id, need).await
}

/// A run's experiment. An unknown run passes: the handler answers 404 for it.
pub async fn require_run(
    state: &AppState,
    caller: &Caller,
    run_id: &str,
    need: Permission,
) -> Result<()> {
    if caller.is_admin {
        return Ok(());
    }
    let exp: Option<i64> = sqlx::query_scalar("SELECT experiment_id FROM runs WHERE run_uuid = $1")
        .bind(run_id)
        .fetch_optional(&state.db.pool)
        .await?;
    match exp {
        Some(e) => require_experiment(state, caller, e, need).await,
        None => Ok(()),
    }
}

/// Each of several runs (the compare and plot pages).
pub async fn require_runs(
    state: &AppState,
    caller: &Caller,
    run_ids: &[String],
    need: Permission,
) -> Result<()> {
    for id in run_ids {
        require_run(state, caller, id, need).await?;
    }
    Ok(())
}

/// A logged model's experiment. An unknown model passes: the handler answers 404.
pub async fn require_logged_model(
    state: &AppState,
    caller: &Caller,
    model_id: &str,
    need: Permission,
) -> Result<()> {
    if caller.is_admin {
        return Ok(());
    }
    let exp: Option<i64> =
        sqlx::query_scalar("SELECT experiment_id FROM logged_models WHERE model_id = $1")
            .bind(model_id)
            .fetch_optional(&state.db.pool)
            .await?;
    match exp {
        Some(e) => require_experiment(state, caller, e, need).await,
        None => Ok(()),
    }
}

/// A registered model by name. An unknown name passes: the handler answers 404.
pub async fn require_model(
    state: &AppState,
    caller: &Caller,
    name: &str,
    need: Permission,
) -> Result<()> {
    if caller.is_admin {
        return Ok(());
    }
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM registered_models WHERE name = $1")
        .bind(name)
        .fetch_optional(&state.db.pool)
        .await?;
    match id {
        Some(id) => require(state, caller, Kind::RegisteredModel, id, need).await,
        None => Ok(()),
    }
}

/// Admins only (the admin pages, service accounts).
pub fn require_admin(caller: &Caller) -> Result<()> {
    if caller.is_admin {
        Ok(())
    } else {
        Err(denied("use the administration pages"))
    }
}

/// The SQL condition "the caller may read the row whose id is `outer`" (a table and its
/// id column, e.g. `("experiments", "experiment_id")`), for search statements; `None`
/// for admins. It is the rule of [`effective`] in SQL: a user grant decides if there is
/// one, else any group grant, else the default.
pub fn readable(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    outer: (&str, &str),
) -> Option<SimpleExpr> {
    if caller.is_admin {
        return None;
    }
    let g = Alias::new("ff_g");
    let col = |name: &str| Expr::col((g.clone(), Alias::new(name)));
    let grant = |principal: SimpleExpr, allowed: bool| {
        let mut sub = Query::select();
        sub.expr(Expr::val(1))
            .from_as(Alias::new(kind.table()), g.clone())
            .and_where(col(kind.column()).equals((Alias::new(outer.0), Alias::new(outer.1))))
            .and_where(principal);
        if allowed {
            sub.and_where(col("permission").ne(Permission::NoPermissions.as_str()));
        }
        Expr::exists(sub)
    };
    let user = col("principal_kind")
        .eq("user")
        .and(col("principal").eq(caller.username.as_str()));
    let mut case = Expr::case(grant(user.clone(), false), grant(user, true));
    if !caller.groups.is_empty() {
        let group = col("principal_kind")
            .eq("group")
            .and(col("principal").is_in(caller.groups.iter().map(String::as_str)));
        case = case.case(grant(group.clone(), false), grant(group, true));
    }
    let default_readable = default_permission(state) >= Permission::Read;
    let otherwise = Expr::val(1).eq(if default_readable { 1 } else { 0 });
    Some(case.finally(otherwise).into())
}

/// Of `ids`, the experiments the caller may read (one statement).
pub async fn readable_experiments(
    state: &AppState,
    caller: &Caller,
    ids: &[i64],
) -> Result<Vec<i64>> {
    let Some(cond) = readable(
        state,
        caller,
        Kind::Experiment,
        ("experiments", "experiment_id"),
    ) else {
        return Ok(ids.to_vec());
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::select();
    q.column(Alias::new("experiment_id"))
        .from(Alias::new("experiments"))
        .and_where(Expr::col(Alias::new("experiment_id")).is_in(ids.iter().copied()))
        .and_where(cond);
    let (sql, values) = crate::store::build(&q, state.db.backend);
    let found: Vec<i64> = sqlx::query_scalar_with(&sql, values)
        .fetch_all(&state.db.pool)
        .await?;
    Ok(ids.iter().copied().filter(|i| found.contains(i)).collect())
}

/// Gives `principal` `permission` on a resource (replacing what it had). In the caller's
/// transaction, so a create and its creator's grant commit together.
pub async fn grant(
    conn: &mut Conn,
    kind: Kind,
    id: i64,
    principal_kind: &str,
    principal: &str,
    permission: Permission,
) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO {t} ({c}, principal_kind, principal, permission) VALUES ($1, $2, $3, $4) \
         ON CONFLICT ({c}, principal_kind, principal) DO UPDATE SET permission = excluded.permission",
        t = kind.table(),
        c = kind.column()
    ))
    .bind(id)
    .bind(principal_kind)
    .bind(principal)
    .bind(permission.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes a grant; false when there was none.
pub async fn revoke(
    conn: &mut Conn,
    kind: Kind,
    id: i64,
    principal_kind: &str,
    principal: &str,
) -> Result<bool> {
    let done = sqlx::query(&format!(
        "DELETE FROM {t} WHERE {c} = $1 AND principal_kind = $2 AND principal = $3",
        t = kind.table(),
        c = kind.column()
    ))
    .bind(id)
    .bind(principal_kind)
    .bind(principal)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// One grant, as the permission API and panels show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Grant {
    pub principal_kind: String,
    pub principal: String,
    pub permission: String,
}

/// Every grant on a resource, users first, by name.
pub async fn list(state: &AppState, kind: Kind, id: i64) -> Result<Vec<Grant>> {
    let rows = sqlx::query(&format!(
        "SELECT principal_kind, principal, permission FROM {} WHERE {} = $1 \
         ORDER BY principal_kind DESC, principal",
        kind.table(),
        kind.column()
    ))
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Grant {
                principal_kind: r.try_get(0)?,
                principal: r.try_get(1)?,
                permission: r.try_get(2)?,
            })
        })
        .collect()
}
