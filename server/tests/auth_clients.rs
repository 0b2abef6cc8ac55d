//! Credentials from real clients: the stock `mlflow` Python client with a personal token
//! (`MLFLOW_TRACKING_TOKEN`) and with Basic auth (`MLFLOW_TRACKING_USERNAME`/`_PASSWORD`),
//! good, wrong, expired and revoked, and JWTs from the OIDC provider fixture's
//! client-credentials grant: good, forged, for another audience, and expired.
//!
//! They need node (`npm ci` in end2end) and the python venv, so plain `cargo test` skips
//! them; `scripts/test.sh` runs them with `--ignored`.

mod common;

use base64::Engine;
use common::TestApp;
use common::auth::*;
use common::oidc::Provider;
use ferroflow::auth::Permission;
use serde_json::{Value, json};

const SCRIPT: &str = r#"
import mlflow
mlflow.set_experiment("client-exp")
with mlflow.start_run(run_name="from-python") as run:
    mlflow.log_param("lr", 0.1)
    mlflow.log_metric("loss", 0.5, step=1)
    mlflow.set_tag("t", "v")
print(run.info.run_id)
"#;

/// Runs the script with `env`; returns (success, the run id it printed, stderr).
fn mlflow_client(app: &TestApp, env: &[(&str, &str)]) -> (bool, String, String) {
    let out = std::process::Command::new(python())
        .args(["-c", SCRIPT])
        .env("MLFLOW_TRACKING_URI", &app.base)
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        // The client prints links to the run first; the script's own line is the last.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_mlflow_client(backend: &str) {
    let app = spawn_auth(backend, Permission::Read).await;
    let alice = who(&app, "alice", &["team-a"], false).await;
    let bob = who(&app, "bob", &["team-b"], false).await;
    let (ok_, run_id, err) = mlflow_client(&app, &[("MLFLOW_TRACKING_TOKEN", &alice.token)]);
    assert!(ok_, "mlflow with a token failed: {err}");
    let run = ok(&app, &alice, "get", "runs/get", json!({ "run_id": run_id })).await;
    assert_eq!(run["run"]["info"]["user_id"], "alice");
    assert_eq!(run["run"]["data"]["metrics"][0]["value"], 0.5);
    // Alice created the experiment, so Bob (default READ) may not log into it.
    let (ok_, _, err) = mlflow_client(
        &app,
        &[
            ("MLFLOW_TRACKING_USERNAME", "bob"),
            ("MLFLOW_TRACKING_PASSWORD", &bob.token),
        ],
    );
    assert!(!ok_, "Bob logged into Alice's experiment");
    assert!(err.contains("PERMISSION_DENIED"), "{err}");
    // Basic auth for Alice works; a bad token and another user's name raise.
    let (ok_, run_id, err) = mlflow_client(
        &app,
        &[
            ("MLFLOW_TRACKING_USERNAME", "alice"),
            ("MLFLOW_TRACKING_PASSWORD", &alice.token),
        ],
    );
    assert!(ok_, "mlflow with Basic auth failed: {err}");
    let run = ok(&app, &alice, "get", "runs/get", json!({ "run_id": run_id })).await;
    assert_eq!(run["run"]["info"]["user_id"], "alice");
    let wrong = format!("ffp_{}", "0".repeat(40));
    // Alice's tokens that were good: one past its expiry, one revoked.
    let expired = token(&app, &alice.user).await;
    sqlx::query("UPDATE api_tokens SET expiry_time = 1 WHERE token_hash = $1")
        .bind(ferroflow::auth::tokens::hash(&expired))
        .execute(&app.db.pool)
        .await
        .unwrap();
    let revoked = ferroflow::auth::tokens::create(&app.db, &alice.user, "revoked", None)
        .await
        .unwrap();
    ferroflow::auth::tokens::revoke(&app.db, alice.user.id, revoked.info.id)
        .await
        .unwrap();
    for env in [
        vec![("MLFLOW_TRACKING_TOKEN", wrong.as_str())],
        vec![("MLFLOW_TRACKING_TOKEN", expired.as_str())],
        vec![("MLFLOW_TRACKING_TOKEN", revoked.token.as_str())],
        vec![
            ("MLFLOW_TRACKING_USERNAME", "alice"),
            ("MLFLOW_TRACKING_PASSWORD", revoked.token.as_str()),
        ],
        vec![
            ("MLFLOW_TRACKING_USERNAME", "bob"),
            ("MLFLOW_TRACKING_PASSWORD", alice.token.as_str()),
        ],
        vec![],
    ] {
        let (ok_, _, err) = mlflow_client(&app, &env);
        assert!(!ok_, "mlflow succeeded with {env:?}");
        assert!(
            err.contains("UNAUTHENTICATED") || err.contains("401"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the python venv; scripts/test.sh runs it"]
async fn the_mlflow_client_on_sqlite() {
    the_mlflow_client("sqlite").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the python venv; scripts/test.sh runs it"]
async fn the_mlflow_client_on_postgres() {
    the_mlflow_client("postgres").await
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn part(token: &str, i: usize) -> Value {
    let raw = token.split('.').nth(i).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .unwrap(),
    )
    .unwrap()
}

const SEARCH: &str = "/api/2.0/mlflow/experiments/search";

/// An experiment search with `token` as the Bearer credential: status and body.
async fn search_with(app: &TestApp, token: &str) -> (u16, Value) {
    call(app, Some(&bearer(token)), "get", SEARCH, &json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs node and end2end/node_modules; scripts/test.sh runs it"]
async fn provider_jwts() {
    // A provider whose job tokens live one second: accepted now, refused once expired
    // (past the verifier's 30 s leeway), at the end of this test.
    let short = Provider::start_with(&[("OIDC_ACCESS_TOKEN_TTL", "1")]);
    let app_of_short = spawn_with_auth_issuer(&short.issuer).await;
    let short_lived = short.job_token().await;
    let issued = std::time::Instant::now();
    let got = search_with(&app_of_short, &short_lived).await;
    assert_eq!(got.0, 200, "a fresh short-lived token: {}", got.1);

    let provider = Provider::start();
    let app = spawn_with_auth_issuer(&provider.issuer).await;
    let jwt = provider.job_token().await;
    assert_eq!(part(&jwt, 0)["alg"], "RS256");
    // Accepted: the job is a caller named after its client id.
    let got = call(
        &app,
        Some(&bearer(&jwt)),
        "post",
        "/api/2.0/mlflow/experiments/create",
        &json!({ "name": "by-job" }),
    )
    .await;
    assert_eq!(got.0, 200, "{}", got.1);
    let exp = got.1["experiment_id"].as_str().unwrap().to_owned();
    let made = call(
        &app,
        Some(&bearer(&jwt)),
        "post",
        "/api/2.0/mlflow/runs/create",
        &json!({ "experiment_id": exp }),
    )
    .await;
    assert_eq!(made.0, 200, "{}", made.1);
    assert_eq!(made.1["run"]["info"]["user_id"], "ferroflow-job");

    // Forgeries.
    let header = part(&jwt, 0);
    let claims = part(&jwt, 1);
    let signature = jwt.rsplit('.').next().unwrap().to_owned();
    let jwks: Value = reqwest::get(format!("{}/jwks", provider.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = jwks["keys"][0].clone();
    let mut forged = Vec::new();
    // alg none.
    let mut none = header.clone();
    none["alg"] = json!("none");
    forged.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(none.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        ),
    ));
    // HS256 keyed with the provider's public key.
    for (what, secret) in [
        ("HS256 with the public JWK", public.to_string()),
        (
            "HS256 with the modulus",
            public["n"].as_str().unwrap().to_owned(),
        ),
    ] {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = header["kid"].as_str().map(str::to_owned);
        let t = jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        forged.push((what, t));
    }
    // A changed claim under the real signature.
    let mut admin = claims.clone();
    admin["sub"] = json!("carol");
    forged.push((
        "tampered",
        format!(
            "{}.{}.{signature}",
            b64(header.to_string().as_bytes()),
            b64(admin.to_string().as_bytes())
        ),
    ));
    // `exp` moved into the past under the old signature (a real, signed expiry: below).
    let mut old = claims.clone();
    old["exp"] = json!(1);
    forged.push((
        "expired",
        format!(
            "{}.{}.{signature}",
            b64(header.to_string().as_bytes()),
            b64(old.to_string().as_bytes())
        ),
    ));
    // Truncated signature.
    forged.push(("truncated", jwt[..jwt.len() - 10].to_owned()));
    for (what, token) in &forged {
        let got = search_with(&app, token).await;
        assert_eq!(got.0, 401, "{what} was accepted: {}", got.1);
        assert_eq!(got.1["error_code"], "UNAUTHENTICATED", "{what}");
    }

    // Another provider's tokens (its own key, its own issuer) and a wrong audience.
    let other = Provider::start_with(&[("OIDC_AUDIENCE", "another-api")]);
    let foreign = other.job_token().await;
    let got = search_with(&app, &foreign).await;
    assert_eq!(got.0, 401, "a foreign provider's token was accepted");
    let app_of_other = spawn_with_auth_issuer(&other.issuer).await;
    let got = search_with(&app_of_other, &foreign).await;
    assert_eq!(
        got.0, 401,
        "a token for another audience was accepted: {}",
        got.1
    );
    assert_eq!(part(&foreign, 1)["aud"], "another-api");

    // The short-lived token, validly signed, once expired.
    let exp = part(&short_lived, 1)["exp"].as_u64().unwrap();
    let iat = part(&short_lived, 1)["iat"].as_u64().unwrap();
    assert_eq!(exp - iat, 1, "the fixture's TTL");
    let wait = std::time::Duration::from_secs(1 + 30 + 2).saturating_sub(issued.elapsed());
    tokio::time::sleep(wait).await;
    let got = search_with(&app_of_short, &short_lived).await;
    assert_eq!(
        got.0, 401,
        "an expired, validly signed token was accepted: {}",
        got.1
    );
    assert_eq!(got.1["error_code"], "UNAUTHENTICATED");
}

async fn spawn_with_auth_issuer(issuer: &str) -> TestApp {
    common::spawn_with("sqlite", |c| c.auth = oidc(Permission::Read, issuer)).await
}
