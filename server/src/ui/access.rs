//! The access pages' store (`app::pages::access`): tokens and service accounts through
//! `auth::tokens`, grants through `auth::permissions`, each acting as the request's
//! caller with the same checks as the API.

use crate::auth::permissions::{self, Kind};
use crate::auth::{Caller, Permission, tokens, users};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use app::pages::access::{GrantRow, ServiceAccountRow, TokenRow, TokensView, ssr::AccessStore};
use app::pages::ssr::BoxFuture;

pub struct Store(pub AppState);

fn row(t: tokens::TokenInfo) -> TokenRow {
    TokenRow {
        id: t.id,
        name: t.name,
        prefix: t.prefix,
        created: t.created_time,
        expires: t.expiry_time,
        revoked: t.revoked_time,
        last_used: t.last_used_time,
    }
}

/// The user whose tokens these are: the caller, or (admins only) a service account.
async fn owner(
    state: &AppState,
    caller: &Caller,
    service_account: Option<&str>,
) -> Result<users::User> {
    if let Some(name) = service_account {
        permissions::require_admin(caller)?;
        return users::by_username(&state.db, name)
            .await?
            .filter(|u| u.kind == "service")
            .ok_or_else(|| ApiError::not_found(format!("No service account named '{name}'.")));
    }
    let id = caller
        .user_id
        .ok_or_else(|| permissions::denied("have tokens without a user account (log in first)"))?;
    users::get(&state.db, id)
        .await?
        .ok_or_else(crate::auth::unauthenticated)
}

/// [`managed`], refusing with 403 what the caller may not manage.
async fn must_manage(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    id: &str,
) -> Result<(Kind, i64)> {
    managed(state, caller, kind, id)
        .await?
        .ok_or_else(|| permissions::denied("manage these permissions"))
}

/// The resource a panel is about, and MANAGE on it (`Ok(None)` without MANAGE).
async fn managed(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    id: &str,
) -> Result<Option<(Kind, i64)>> {
    let (kind, resource) = match kind {
        "experiment" => {
            let id = crate::store::experiments::parse_id(id)?;
            (Kind::Experiment, id)
        }
        "registered-model" => {
            let model = crate::store::registry::models::id_of(&state.db, id).await?;
            (Kind::RegisteredModel, model)
        }
        other => return Err(ApiError::invalid(format!("Nothing is called a '{other}'."))),
    };
    let have = permissions::effective(state, caller, kind, resource).await?;
    Ok((have >= Permission::Manage).then_some((kind, resource)))
}

impl AccessStore for Store {
    fn tokens(&self) -> BoxFuture<'_, Result<TokensView, String>> {
        let caller = super::caller();
        Box::pin(async move {
            let run = async {
                let me = owner(&self.0, &caller, None).await?;
                let mine = tokens::list(&self.0.db, me.id).await?;
                let mut service_accounts = Vec::new();
                if caller.is_admin {
                    for sa in tokens::service_accounts(&self.0.db).await? {
                        let list = tokens::list(&self.0.db, sa.id).await?;
                        service_accounts.push(ServiceAccountRow {
                            name: sa.username,
                            tokens: list.into_iter().map(row).collect(),
                        });
                    }
                }
                Ok::<_, ApiError>(TokensView {
                    username: me.username,
                    is_admin: caller.is_admin,
                    tokens: mine.into_iter().map(row).collect(),
                    service_accounts,
                })
            };
            run.await.map_err(|e| e.message)
        })
    }

    fn create_token(
        &self,
        service_account: Option<String>,
        name: String,
        expires_in_days: Option<i64>,
    ) -> BoxFuture<'_, Result<String, String>> {
        let caller = super::caller();
        Box::pin(async move {
            let run = async {
                let user = owner(&self.0, &caller, service_account.as_deref()).await?;
                let expiry = match expires_in_days {
                    None => None,
                    Some(d) if (1..=3650).contains(&d) => {
                        Some(crate::store::now_ms() + d * 86_400_000)
                    }
                    Some(d) => {
                        return Err(ApiError::invalid(format!(
                            "A token expires in 1 to 3650 days, not {d}."
                        )));
                    }
                };
                Ok(tokens::create(&self.0.db, &user, &name, expiry)
                    .await?
                    .token)
            };
            run.await.map_err(|e| e.message)
        })
    }

    fn revoke_token(
        &self,
        service_account: Option<String>,
        id: i64,
    ) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            let run = async {
                let user = owner(&self.0, &caller, service_account.as_deref()).await?;
                tokens::revoke(&self.0.db, user.id, id).await
            };
            run.await.map_err(|e| e.message)
        })
    }

    fn create_service_account(&self, name: String) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            let run = async {
                permissions::require_admin(&caller)?;
                tokens::create_service_account(&self.0.db, &name)
                    .await
                    .map(drop)
            };
            run.await.map_err(|e| e.message)
        })
    }

    fn grants(
        &self,
        kind: String,
        id: String,
    ) -> BoxFuture<'_, Result<Option<Vec<GrantRow>>, String>> {
        let caller = super::caller();
        Box::pin(async move {
            let run = async {
                let Some((kind, resource)) = managed(&self.0, &caller, &kind, &id).await? else {
                    return Ok(None);
                };
                let list = permissions::list(&self.0, kind, resource).await?;
                Ok::<_, ApiError>(Some(
                    list.into_iter()
                        .map(|g| GrantRow {
                            principal_kind: g.principal_kind,
                            principal: g.principal,
                            permission: g.permission,
                        })
                        .collect(),
                ))
            };
            run.await.map_err(|e| e.message)
        })
    }

    fn set_grant(
        &self,
        kind: String,
        id: String,
        grant: GrantRow,
    ) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            let run = async {
                let (kind, resource) = must_manage(&self.0, &caller, &kind, &id).await?;
                let principal_kind = match grant.principal_kind.as_str() {
                    "user" => "user",
                    "group" => "group",
                    other => {
                        return Err(ApiError::invalid(format!(
                            "A grant is for a user or a group, not a '{other}'."
                        )));
                    }
                };
                let principal = grant.principal.trim().to_owned();
                if principal.is_empty() {
                    return Err(ApiError::invalid("Name the user or group."));
                }
                let permission = Permission::parse(&grant.permission).ok_or_else(|| {
                    ApiError::invalid(format!("Invalid permission '{}'.", grant.permission))
                })?;
                crate::api::write(
                    &self.0.db,
                    (kind, resource, principal_kind, principal, permission),
                    |conn, (kind, id, pk, p, perm)| {
                        Box::pin(permissions::grant(conn, *kind, *id, pk, p, *perm))
                    },
                )
                .await
            };
            run.await.map_err(|e| e.message)
        })
    }

    fn remove_grant(
        &self,
        kind: String,
        id: String,
        principal_kind: String,
        principal: String,
    ) -> BoxFuture<'_, Result<(), String>> {
        let caller = super::caller();
        Box::pin(async move {
            let run = async {
                let (kind, resource) = must_manage(&self.0, &caller, &kind, &id).await?;
                crate::api::write(
                    &self.0.db,
                    (kind, resource, principal_kind, principal),
                    |conn, (kind, id, pk, p)| {
                        Box::pin(async move {
                            permissions::revoke(conn, *kind, *id, pk, p).await.map(drop)
                        })
                    },
                )
                .await
            };
            run.await.map_err(|e| e.message)
        })
    }
}
