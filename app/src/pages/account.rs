//! Who is logged in: the header's user menu (name and a "Log out" button), its admin
//! link, and the current user that pages such as the runs grid's "My runs" read. The server provides a
//! [`CurrentUser`] in the Leptos context of every request made through a login session
//! (`server/src/ui/mod.rs`); under `--auth none` there is none.

use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// What runs created by this user carry as `user_id`.
    pub username: String,
    pub is_admin: bool,
}

/// The logged-in user of this request, if any.
#[server(prefix = "/_fn", endpoint = "current_user")]
pub async fn load_current_user() -> Result<Option<CurrentUser>, ServerFnError> {
    Ok(use_context::<CurrentUser>())
}

/// The logged-in user, loaded once per page for the header: `App` provides it.
#[derive(Clone, Copy)]
pub struct UserResource(pub Resource<Result<Option<CurrentUser>, ServerFnError>>);

impl UserResource {
    pub fn load() -> Self {
        Self(Resource::new(|| (), |_| load_current_user()))
    }
}

/// The header's link to the admin pages, for admins only (without login, everyone is one).
#[component]
pub fn AdminLink() -> impl IntoView {
    let UserResource(user) = expect_context();
    view! {
        <Suspense fallback=|| ()>
            {move || user.get().and_then(Result::ok).map(|u| {
                u.is_none_or(|u| u.is_admin).then(|| view! { <A href="/admin">"Admin"</A> })
            })}
        </Suspense>
    }
}

/// The header's right-hand side: who is logged in and a logout button (a plain form POST,
/// so it works before the page is interactive).
#[component]
pub fn UserMenu() -> impl IntoView {
    let UserResource(user) = expect_context();
    view! {
        <Suspense fallback=|| ()>
            {move || user.get().and_then(|u| u.ok().flatten()).map(|u| view! {
                <div class="user-menu">
                    <span class="user" id="current-user">
                        {u.username.clone()}
                        {u.is_admin.then(|| view! { <span class="badge">"admin"</span> })}
                    </span>
                    <a href="/settings/tokens" id="tokens-link">"API tokens"</a>
                    <form method="post" action="/logout">
                        <button type="submit" id="logout">"Log out"</button>
                    </form>
                </div>
            })}
        </Suspense>
    }
}
