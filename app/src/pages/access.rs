//! Who may do what, in the browser: `/settings/tokens` (one's API tokens: create, shown
//! once; list; revoke; admins also manage service accounts and their tokens) and the
//! permissions panel on the experiment (runs grid) and model pages, shown to those with
//! MANAGE. The checks are the server's (`server/src/ui/access.rs` through
//! `auth::permissions` and `auth::tokens`); this module only draws forms.

use crate::pages::error_text;
use crate::pages::experiments::format_ms;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A token as the list shows it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// Its first characters, to tell tokens apart.
    pub prefix: String,
    pub created: i64,
    pub expires: Option<i64>,
    pub revoked: Option<i64>,
    pub last_used: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceAccountRow {
    pub name: String,
    pub tokens: Vec<TokenRow>,
}

/// What `/settings/tokens` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokensView {
    pub username: String,
    /// Only admins get the service accounts (an empty list for everyone else).
    pub is_admin: bool,
    pub tokens: Vec<TokenRow>,
    pub service_accounts: Vec<ServiceAccountRow>,
}

/// One grant on an experiment or a registered model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrantRow {
    /// `user` or `group`.
    pub principal_kind: String,
    pub principal: String,
    pub permission: String,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::pages::ssr::BoxFuture;

    /// Implemented in `server/src/ui/access.rs`; every method acts as the request's caller.
    pub trait AccessStore: Send + Sync + 'static {
        fn tokens(&self) -> BoxFuture<'_, Result<TokensView, String>>;
        /// A new token of the caller, or (admins) of a service account; its secret.
        fn create_token(
            &self,
            service_account: Option<String>,
            name: String,
            expires_in_days: Option<i64>,
        ) -> BoxFuture<'_, Result<String, String>>;
        fn revoke_token(
            &self,
            service_account: Option<String>,
            id: i64,
        ) -> BoxFuture<'_, Result<(), String>>;
        fn create_service_account(&self, name: String) -> BoxFuture<'_, Result<(), String>>;
        /// The grants on an experiment (`kind` = `experiment`, `id` its id) or a model
        /// (`registered-model`, its name); `None` unless the caller holds MANAGE.
        fn grants(
            &self,
            kind: String,
            id: String,
        ) -> BoxFuture<'_, Result<Option<Vec<GrantRow>>, String>>;
        fn set_grant(
            &self,
            kind: String,
            id: String,
            grant: GrantRow,
        ) -> BoxFuture<'_, Result<(), String>>;
        fn remove_grant(
            &self,
            kind: String,
            id: String,
            principal_kind: String,
            principal: String,
        ) -> BoxFuture<'_, Result<(), String>>;
    }
}

#[cfg(feature = "ssr")]
fn store() -> Result<std::sync::Arc<dyn ssr::AccessStore>, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::AccessStore>()
}

#[cfg(feature = "ssr")]
fn optional(s: String) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

#[server(prefix = "/_fn")]
pub async fn list_tokens() -> Result<TokensView, ServerFnError> {
    store()?.tokens().await.map_err(ServerFnError::new)
}

/// `expires_in_days` empty: never.
#[server(prefix = "/_fn")]
pub async fn create_token(
    service_account: String,
    name: String,
    expires_in_days: String,
) -> Result<String, ServerFnError> {
    let days = match optional(expires_in_days) {
        None => None,
        Some(d) => Some(
            d.parse::<i64>()
                .map_err(|_| ServerFnError::new(format!("'{d}' is not a number of days.")))?,
        ),
    };
    store()?
        .create_token(optional(service_account), name, days)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn revoke_token(service_account: String, id: i64) -> Result<(), ServerFnError> {
    store()?
        .revoke_token(optional(service_account), id)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn create_service_account(name: String) -> Result<(), ServerFnError> {
    store()?
        .create_service_account(name)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn permission_grants(
    kind: String,
    id: String,
) -> Result<Option<Vec<GrantRow>>, ServerFnError> {
    store()?.grants(kind, id).await.map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn set_permission(
    kind: String,
    id: String,
    principal_kind: String,
    principal: String,
    permission: String,
) -> Result<(), ServerFnError> {
    let grant = GrantRow {
        principal_kind,
        principal,
        permission,
    };
    store()?
        .set_grant(kind, id, grant)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn")]
pub async fn remove_permission(
    kind: String,
    id: String,
    principal_kind: String,
    principal: String,
) -> Result<(), ServerFnError> {
    store()?
        .remove_grant(kind, id, principal_kind, principal)
        .await
        .map_err(ServerFnError::new)
}

fn when(t: Option<i64>, none: &'static str) -> String {
    t.map_or_else(|| none.to_owned(), format_ms)
}

#[component]
fn TokenTable(
    tokens: Vec<TokenRow>,
    service_account: String,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    if tokens.is_empty() {
        return view! { <p class="empty">"No tokens yet."</p> }.into_any();
    }
    view! {
        <table class="grid tokens">
            <thead><tr><th>"Name"</th><th>"Token"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
            <tbody>{tokens.into_iter().map(|t| {
                let sa = service_account.clone();
                let label = format!("Revoke {}", t.name);
                view! {
                    <tr class:revoked=t.revoked.is_some()>
                        <td>{t.name.clone()}</td>
                        <td class="mono">{format!("{}…", t.prefix)}</td>
                        <td><time>{format_ms(t.created)}</time></td>
                        <td>{when(t.expires, "never")}</td>
                        <td>{when(t.last_used, "never")}</td>
                        <td>{match t.revoked {
                            Some(r) => view! { "revoked " {format_ms(r)} }.into_any(),
                            None => view! {
                                <ActionForm action=revoke attr:class="inline">
                                    <input type="hidden" name="service_account" value=sa.clone()/>
                                    <input type="hidden" name="id" value=t.id.to_string()/>
                                    <button type="submit" class="danger" aria-label=label.clone()>"Revoke"</button>
                                </ActionForm>
                            }.into_any(),
                        }}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn NewTokenForm(create: ServerAction<CreateToken>, service_account: String) -> impl IntoView {
    view! {
        <ActionForm action=create attr:class="create">
            <input type="hidden" name="service_account" value=service_account/>
            <input type="text" name="name" required placeholder="token name" aria-label="Token name"/>
            <input type="number" name="expires_in_days" min="1" max="3650"
                placeholder="expires in days (empty: never)" aria-label="Expires in days"/>
            <button type="submit">"Create token"</button>
        </ActionForm>
    }
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let create_sa = ServerAction::<CreateServiceAccount>::new();
    let data = Resource::new(
        move || create.version().get() + revoke.version().get() + create_sa.version().get(),
        |_| list_tokens(),
    );
    let failure = move || {
        [
            revoke.value().get().and_then(Result::err),
            create_sa.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    view! {
        <section class="page">
            <h1>"API tokens"</h1>
            <p>"Scripts and the mlflow client authenticate with a token: set "
                <code>"MLFLOW_TRACKING_TOKEN"</code>" to it, or "<code>"MLFLOW_TRACKING_USERNAME"</code>
                " to your user name and "<code>"MLFLOW_TRACKING_PASSWORD"</code>" to the token."</p>
            {move || create.value().get().map(|r| match r {
                Ok(secret) => view! {
                    <div class="new-token" role="status">
                        <p>"Copy the new token now; it is not shown again:"</p>
                        <code id="new-token">{secret}</code>
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            })}
            {move || failure().map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                        Ok(v) => view! {
                            <h2>"Your tokens ("{v.username.clone()}")"</h2>
                            <NewTokenForm create service_account=String::new()/>
                            <TokenTable tokens=v.tokens.clone() service_account=String::new() revoke/>
                            {v.is_admin.then(|| view! {
                                <h2>"Service accounts"</h2>
                                <ActionForm action=create_sa attr:class="create">
                                    <input type="text" name="name" required placeholder="service account name"
                                        aria-label="Service account name"/>
                                    <button type="submit">"Create service account"</button>
                                </ActionForm>
                                {v.service_accounts.clone().into_iter().map(|sa| view! {
                                    <section class="service-account">
                                        <h3>{sa.name.clone()}</h3>
                                        <NewTokenForm create service_account=sa.name.clone()/>
                                        <TokenTable tokens=sa.tokens service_account=sa.name.clone() revoke/>
                                    </section>
                                }).collect_view()}
                            })}
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The permissions of an experiment or model, for those who hold MANAGE on it (nothing
/// for anyone else). `kind` is `experiment` or `registered-model`.
#[component]
pub fn PermissionsPanel(kind: &'static str, #[prop(into)] id: String) -> impl IntoView {
    let set = ServerAction::<SetPermission>::new();
    let remove = ServerAction::<RemovePermission>::new();
    let key = id.clone();
    let grants = Resource::new(
        move || set.version().get() + remove.version().get(),
        move |_| permission_grants(kind.to_owned(), key.clone()),
    );
    let failure = move || {
        [
            set.value().get().and_then(Result::err),
            remove.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    view! {
        <Transition fallback=|| ()>
            {move || {
                let id = id.clone();
                Suspend::new(async move {
                    let Ok(Some(list)) = grants.await else {
                        return ().into_any();
                    };
                    let id_set = id.clone();
                    view! {
                        <details class="permissions" id="permissions">
                            <summary>"Permissions"</summary>
                            {move || failure().map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })}
                            <table class="grid">
                                <thead><tr><th>"Who"</th><th>"Permission"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|g| {
                                    let id = id.clone();
                                    let label = format!("Remove {} {}", g.principal_kind, g.principal);
                                    view! {
                                        <tr>
                                            <td>{format!("{} {}", g.principal_kind, g.principal)}</td>
                                            <td>{g.permission.clone()}</td>
                                            <td>
                                                <ActionForm action=remove attr:class="inline">
                                                    <input type="hidden" name="kind" value=kind/>
                                                    <input type="hidden" name="id" value=id/>
                                                    <input type="hidden" name="principal_kind" value=g.principal_kind.clone()/>
                                                    <input type="hidden" name="principal" value=g.principal.clone()/>
                                                    <button type="submit" class="danger" aria-label=label>"Remove"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table>
                            <ActionForm action=set attr:class="create">
                                <input type="hidden" name="kind" value=kind/>
                                <input type="hidden" name="id" value=id_set/>
                                <select name="principal_kind" aria-label="User or group">
                                    <option value="user">"user"</option>
                                    <option value="group">"group"</option>
                                </select>
                                <input type="text" name="principal" required placeholder="user or group name"
                                    aria-label="User or group name"/>
                                <select name="permission" aria-label="Permission">
                                    <option value="READ">"READ"</option>
                                    <option value="EDIT">"EDIT"</option>
                                    <option value="MANAGE">"MANAGE"</option>
                                    <option value="NO_PERMISSIONS">"NO_PERMISSIONS"</option>
                                </select>
                                <button type="submit">"Grant"</button>
                            </ActionForm>
                        </details>
                    }.into_any()
                })
            }}
        </Transition>
    }
}
