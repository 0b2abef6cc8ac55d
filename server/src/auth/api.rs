//! The permission API (MLflow's auth plugin endpoints, under the tracking prefixes) and
//! ferroflow's token and service-account API (`/api/2.0/ferroflow/...`).
//!
//! Permission endpoints take `username` as MLflow's do, or `group` (a ferroflow extension)
//! for a group grant; every one needs MANAGE on the experiment or model.

use super::permissions::{self, Grant, Kind};
use super::{Caller, Permission, tokens, users};
use crate::api::{Mlflow, Route, empty, write};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};

/// The permission routes, relative to the tracking prefix.
pub fn routes() -> (Router<AppState>, Vec<Route>) {
    let list = [
        ("post", "create"),
        ("get", "get"),
        ("get", "list"),
        ("patch", "update"),
        ("delete", "delete"),
    ];
    let mut router = Router::new();
    let mut routes = Vec::new();
    for (what, kind) in [
        ("experiments", Kind::Experiment),
        ("registered-models", Kind::RegisteredModel),
    ] {
        for (method, action) in list {
            let path = format!("/{what}/permissions/{action}");
            let handler =
                move |state: State<AppState>, caller: Caller, req: Mlflow<GrantRequest>| {
                    handle(state, caller, req, kind, action)
                };
            router = router.route(
                &path,
                match method {
                    "post" => post(handler),
                    "get" => get(handler),
                    "patch" => patch(handler),
                    _ => delete(handler),
                },
            );
            routes.push(Route { method, path });
        }
    }
    (router, routes)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct GrantRequest {
    experiment_id: Option<String>,
    name: Option<String>,
    username: Option<String>,
    group: Option<String>,
    permission: Option<String>,
}

async fn handle(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<GrantRequest>,
    kind: Kind,
    action: &'static str,
) -> Result<Json<Value>> {
    let (id, label) = match kind {
        Kind::Experiment => {
            let raw =
                crate::api::validate::required(req.experiment_id.as_deref(), "experiment_id")?;
            let id = crate::store::experiments::parse_id(raw)?;
            crate::store::experiments::get(&state.db, id).await?;
            (id, json!({ "experiment_id": raw }))
        }
        Kind::RegisteredModel => {
            let name = crate::api::validate::required(req.name.as_deref(), "name")?;
            let id = crate::store::registry::models::id_of(&state.db, name).await?;
            (id, json!({ "name": name }))
        }
    };
    match kind {
        Kind::Experiment => {
            permissions::require_experiment(&state, &caller, id, Permission::Manage).await?
        }
        Kind::RegisteredModel => {
            let name = req.name.as_deref().unwrap_or_default();
            permissions::require_model(&state, &caller, name, Permission::Manage).await?
        }
    }
    let grants = permissions::list(&state, kind, id).await?;
    if action == "list" {
        return Ok(Json(json!({ "permissions": grants })));
    }
    let (principal_kind, principal) = match (req.username.as_deref(), req.group.as_deref()) {
        (Some(u), None) if !u.trim().is_empty() => ("user", u.trim().to_owned()),
        (None, Some(g)) if !g.trim().is_empty() => ("group", g.trim().to_owned()),
        _ => {
            return Err(ApiError::invalid(
                "Give exactly one of 'username' or 'group'.",
            ));
        }
    };
    let existing = grants
        .iter()
        .find(|g| g.principal_kind == principal_kind && g.principal == principal)
        .cloned();
    let missing = || {
        ApiError::not_found(format!(
            "No permission for {principal_kind} '{principal}' on this resource."
        ))
    };
    let permission = match action {
        "create" | "update" => {
            let raw = crate::api::validate::required(req.permission.as_deref(), "permission")?;
            Some(Permission::parse(raw).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Invalid permission '{raw}'. Valid permissions are: READ, EDIT, MANAGE, NO_PERMISSIONS."
                ))
            })?)
        }
        _ => None,
    };
    match (action, &existing) {
        ("create", Some(_)) => {
            return Err(ApiError::already_exists(format!(
                "A permission for {principal_kind} '{principal}' already exists on this resource."
            )));
        }
        ("get", None) | ("update", None) | ("delete", None) => return Err(missing()),
        _ => {}
    }
    let key = match kind {
        Kind::Experiment => "experiment_permission",
        Kind::RegisteredModel => "registered_model_permission",
    };
    let answer = |g: &Grant| {
        let mut v = label.clone();
        v["user_id"] = json!(g.principal);
        v["principal_kind"] = json!(g.principal_kind);
        v["permission"] = json!(g.permission);
        Json(json!({ key: v }))
    };
    match action {
        "get" => Ok(answer(existing.as_ref().ok_or_else(missing)?)),
        "delete" => {
            write(
                &state.db,
                (kind, id, principal_kind, principal),
                |conn, (kind, id, pk, p)| {
                    Box::pin(
                        async move { permissions::revoke(conn, *kind, *id, pk, p).await.map(drop) },
                    )
                },
            )
            .await?;
            Ok(empty())
        }
        _ => {
            let permission = permission.unwrap_or(Permission::NoPermissions);
            let grant = Grant {
                principal_kind: principal_kind.to_owned(),
                principal: principal.clone(),
                permission: permission.as_str().to_owned(),
            };
            write(
                &state.db,
                (kind, id, principal_kind, principal, permission),
                |conn, (kind, id, pk, p, perm)| {
                    Box::pin(permissions::grant(conn, *kind, *id, pk, p, *perm))
                },
            )
            .await?;
            Ok(answer(&grant))
        }
    }
}

/// ferroflow's token and service-account API: `/api/2.0/ferroflow/tokens/...`, and for
/// admins `/api/2.0/ferroflow/service-accounts/...`.
pub fn token_routes() -> (Router<AppState>, Vec<Route>) {
    const P: &str = "/api/2.0/ferroflow";
    let router = Router::new()
        .route(&format!("{P}/tokens/create"), post(create_token))
        .route(&format!("{P}/tokens/list"), get(list_tokens))
        .route(&format!("{P}/tokens/revoke"), post(revoke_token))
        .route(
            &format!("{P}/service-accounts/create"),
            post(create_service_account),
        )
        .route(
            &format!("{P}/service-accounts/list"),
            get(list_service_accounts),
        );
    let list = [
        ("post", "tokens/create"),
        ("get", "tokens/list"),
        ("post", "tokens/revoke"),
        ("post", "service-accounts/create"),
        ("get", "service-accounts/list"),
    ]
    .into_iter()
    .map(|(method, p)| Route {
        method,
        path: format!("{P}/{p}"),
    })
    .collect();
    (router, list)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct TokenRequest {
    /// A service account's name: an admin acting for it. Absent: the caller's own tokens.
    service_account: Option<String>,
    name: Option<String>,
    /// Expiry, milliseconds since the epoch.
    expiry_time: Option<i64>,
    /// Or: days from now.
    expires_in_days: Option<i64>,
    token_id: Option<i64>,
}

/// The user whose tokens a request is about: the caller, or (admins) a service account.
async fn owner(state: &AppState, caller: &Caller, req: &TokenRequest) -> Result<users::User> {
    if let Some(name) = req.service_account.as_deref() {
        permissions::require_admin(caller)?;
        return users::by_username(&state.db, name)
            .await?
            .filter(|u| u.kind == "service")
            .ok_or_else(|| ApiError::not_found(format!("No service account named '{name}'.")));
    }
    let id = caller.user_id.ok_or_else(|| {
        permissions::denied("manage tokens without a user account (log in first)")
    })?;
    users::get(&state.db, id)
        .await?
        .ok_or_else(super::unauthenticated)
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<TokenRequest>,
) -> Result<Json<Value>> {
    let user = owner(&state, &caller, &req).await?;
    let expiry = match (req.expiry_time, req.expires_in_days) {
        (Some(t), _) => Some(t),
        (None, Some(d)) if d > 0 && d <= 3650 => Some(crate::store::now_ms() + d * 86_400_000),
        (None, Some(d)) => {
            return Err(ApiError::invalid(format!(
                "expires_in_days must be 1 to 3650, not {d}."
            )));
        }
        (None, None) => None,
    };
    let new = tokens::create(
        &state.db,
        &user,
        req.name.as_deref().unwrap_or_default(),
        expiry,
    )
    .await?;
    Ok(Json(json!({ "token": new.token, "token_info": new.info })))
}

async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<TokenRequest>,
) -> Result<Json<Value>> {
    let user = owner(&state, &caller, &req).await?;
    Ok(Json(
        json!({ "tokens": tokens::list(&state.db, user.id).await? }),
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<TokenRequest>,
) -> Result<Json<Value>> {
    let user = owner(&state, &caller, &req).await?;
    let id = req.token_id.ok_or_else(|| ApiError::missing("token_id"))?;
    tokens::revoke(&state.db, user.id, id).await?;
    Ok(empty())
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct ServiceAccountRequest {
    name: Option<String>,
}

async fn create_service_account(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(req): Mlflow<ServiceAccountRequest>,
) -> Result<Json<Value>> {
    permissions::require_admin(&caller)?;
    let user =
        tokens::create_service_account(&state.db, req.name.as_deref().unwrap_or_default()).await?;
    Ok(Json(
        json!({ "service_account": { "id": user.id, "name": user.username } }),
    ))
}

async fn list_service_accounts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>> {
    permissions::require_admin(&caller)?;
    let list: Vec<Value> = tokens::service_accounts(&state.db)
        .await?
        .into_iter()
        .map(|u| json!({ "id": u.id, "name": u.username, "created_time": u.created_time }))
        .collect();
    Ok(Json(json!({ "service_accounts": list })))
}
