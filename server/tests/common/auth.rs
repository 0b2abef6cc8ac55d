//! Helpers for the access tests: a server with `--auth oidc`, users, tokens, and requests
//! that carry a credential.

use super::{TestApp, spawn_with};
use ferroflow::auth::{AuthConfig, OidcConfig, Permission, tokens, users};
use serde_json::{Value, json};

/// `--auth oidc` with `default` as `--default-permission`. The issuer is only read for
/// provider JWTs; `issuer` names one when a test uses them.
pub fn oidc(default: Permission, issuer: &str) -> AuthConfig {
    AuthConfig::Oidc(Box::new(OidcConfig {
        issuer: issuer.trim_end_matches('/').to_owned(),
        client_id: "ferroflow".into(),
        client_secret: "secret".into(),
        scopes: vec!["openid".into()],
        groups_claim: "groups".into(),
        audiences: vec!["ferroflow".into()],
        admin_groups: vec!["ferroflow-admins".into()],
        allowed_groups: Vec::new(),
        public_url: None,
        default_permission: default,
        session_ttl: std::time::Duration::from_secs(3600),
    }))
}

/// An issuer nobody listens on: for tests that use only ferroflow tokens.
pub const NO_ISSUER: &str = "http://127.0.0.1:9";

pub async fn spawn_auth(backend: &str, default: Permission) -> TestApp {
    spawn_with(backend, |c| c.auth = oidc(default, NO_ISSUER)).await
}

/// A person as a login records them; returns the user.
pub async fn person(app: &TestApp, name: &str, groups: &[&str], admin: bool) -> users::User {
    users::record_login(
        &app.db,
        users::Login {
            subject: format!("sub-{name}"),
            username: name.to_owned(),
            email: Some(format!("{name}@example.com")),
            display_name: Some(name.to_owned()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            is_admin: admin,
        },
    )
    .await
    .unwrap()
}

/// A fresh token of `user`.
pub async fn token(app: &TestApp, user: &users::User) -> String {
    tokens::create(&app.db, user, "test", None)
        .await
        .unwrap()
        .token
}

/// Someone with a token.
pub struct Who {
    pub user: users::User,
    pub token: String,
}

pub async fn who(app: &TestApp, name: &str, groups: &[&str], admin: bool) -> Who {
    let user = person(app, name, groups, admin).await;
    let token = token(app, &user).await;
    Who { user, token }
}

/// Sends `method path` (a full path) with `Authorization: <auth>` if given, JSON `body`
/// for non-GET and query `query` for GET; returns status and JSON (`null` if not JSON).
pub async fn call(
    app: &TestApp,
    auth: Option<&str>,
    method: &str,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let url = format!("{}{path}", app.base);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = match method {
        "get" => {
            let query: Vec<(String, String)> = body
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(k, v)| match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| (k.clone(), plain(i)))
                        .collect::<Vec<_>>(),
                    v => vec![(k.clone(), plain(v))],
                })
                .collect();
            client.get(&url).query(&query)
        }
        "post" => client.post(&url).json(body),
        "patch" => client.patch(&url).json(body),
        "put" => client.put(&url).body(body.to_string()),
        "delete" => client.delete(&url).json(body),
        other => panic!("method {other}"),
    };
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A call under the tracking prefix that must succeed; returns the body.
pub async fn ok(app: &TestApp, who: &Who, method: &str, path: &str, body: Value) -> Value {
    let got = call(
        app,
        Some(&bearer(&who.token)),
        method,
        &format!("/api/2.0/mlflow/{path}"),
        &body,
    )
    .await;
    assert_eq!(
        got.0, 200,
        "{method} {path} {body} as {} -> {}",
        who.user.username, got.1
    );
    got.1
}

/// A call under the tracking prefix; returns status and body.
pub async fn try_call(
    app: &TestApp,
    who: &Who,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    call(
        app,
        Some(&bearer(&who.token)),
        method,
        &format!("/api/2.0/mlflow/{path}"),
        &body,
    )
    .await
}

pub async fn experiment(app: &TestApp, who: &Who, name: &str) -> String {
    ok(
        app,
        who,
        "post",
        "experiments/create",
        json!({ "name": name }),
    )
    .await["experiment_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn run(app: &TestApp, who: &Who, experiment_id: &str) -> String {
    ok(
        app,
        who,
        "post",
        "runs/create",
        json!({ "experiment_id": experiment_id, "start_time": 1000 }),
    )
    .await["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The python of the compatibility suite's venv (created if missing; once per test
/// binary, so parallel tests do not race to create it).
pub fn python() -> String {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let out = std::process::Command::new(root.join("scripts/python-env.sh"))
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("scripts/python-env.sh runs");
            assert!(out.status.success(), "scripts/python-env.sh failed");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .clone()
}
