//! API tokens (Bearer and Basic), permissions and search filtering with `--auth oidc`,
//! on both backends.

mod common;

use common::auth::*;
use common::{TestApp, assert_error};
use ferroflow::auth::tokens;
use serde_json::{Value, json};

macro_rules! both {
    ($($name:ident($default:expr)),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(&super::spawn_auth("sqlite", $default).await).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(&super::spawn_auth("postgres", $default).await).await }
            )*
        }
    };
}

both!(
    tokens_as_bearer_and_basic(ferroflow::auth::Permission::Read),
    bad_credentials_are_401(ferroflow::auth::Permission::Read),
    token_api_creates_lists_and_revokes(ferroflow::auth::Permission::Read),
    edits_need_a_grant(ferroflow::auth::Permission::Read),
    group_grants_and_user_grants(ferroflow::auth::Permission::NoPermissions),
    searches_return_only_what_the_caller_may_read(ferroflow::auth::Permission::NoPermissions),
    admins_bypass(ferroflow::auth::Permission::NoPermissions),
    runs_carry_the_callers_name(ferroflow::auth::Permission::Read),
    pages_show_panels_and_tokens(ferroflow::auth::Permission::Read),
);

const SEARCH: &str = "/api/2.0/mlflow/experiments/search";

async fn search_as(app: &TestApp, auth: &str) -> (u16, Value) {
    call(
        app,
        Some(auth),
        "get",
        SEARCH,
        &json!({ "max_results": 10 }),
    )
    .await
}

async fn tokens_as_bearer_and_basic(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    assert_eq!(search_as(app, &bearer(&alice.token)).await.0, 200);
    assert_eq!(search_as(app, &basic("alice", &alice.token)).await.0, 200);
    // The mlflow client's scheme name may come in any case.
    let lower = format!("bearer {}", alice.token);
    assert_eq!(search_as(app, &lower).await.0, 200);
    // Using a token notes its last use (off the request's path: wait for it).
    let mut used = None;
    for _ in 0..200 {
        used = tokens::list(&app.db, alice.user.id).await.unwrap()[0].last_used_time;
        if used.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(used.is_some(), "last_used_time was never written");
}

async fn bad_credentials_are_401(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    let bob = who(app, "bob", &["team-b"], false).await;
    let mut tampered = alice.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    let expired = token(app, &alice.user).await;
    sqlx::query("UPDATE api_tokens SET expiry_time = 1 WHERE token_hash = $1")
        .bind(tokens::hash(&expired))
        .execute(&app.db.pool)
        .await
        .unwrap();
    let revoked = token(app, &alice.user).await;
    let id = tokens::list(&app.db, alice.user.id).await.unwrap()[0].id;
    tokens::revoke(&app.db, alice.user.id, id).await.unwrap();
    let unknown = format!("ffp_{}", "x".repeat(40));
    for (what, auth) in [
        ("no credential", None),
        ("tampered", Some(bearer(&tampered))),
        ("expired", Some(bearer(&expired))),
        ("revoked", Some(bearer(&revoked))),
        ("unknown", Some(bearer(&unknown))),
        ("malformed bearer", Some("Bearer not-a-token".to_owned())),
        ("empty bearer", Some("Bearer ".to_owned())),
        ("unknown scheme", Some(format!("Token {}", alice.token))),
        (
            "basic with another user's token",
            Some(basic("bob", &alice.token)),
        ),
        ("basic with no colon", Some(format!("Basic {}", "YWxpY2U="))),
        ("basic not base64", Some("Basic %%%".to_owned())),
        ("expired as basic", Some(basic("alice", &expired))),
        (
            "a JWT nobody can verify",
            Some(bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")),
        ),
    ] {
        let got = call(app, auth.as_deref(), "get", SEARCH, &json!({})).await;
        assert_error(&got, 401, "UNAUTHENTICATED");
        let _ = what;
    }
    // Bob's own token is fine.
    assert_eq!(search_as(app, &basic("bob", &bob.token)).await.0, 200);
}

async fn token_api_creates_lists_and_revokes(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    let auth = bearer(&alice.token);
    let created = call(
        app,
        Some(&auth),
        "post",
        "/api/2.0/ferroflow/tokens/create",
        &json!({ "name": "ci job", "expires_in_days": 30 }),
    )
    .await;
    assert_eq!(created.0, 200, "{}", created.1);
    let new = created.1["token"].as_str().unwrap().to_owned();
    assert!(new.starts_with("ffp_"));
    assert!(created.1["token_info"]["expiry_time"].as_i64().unwrap() > 0);
    assert_eq!(search_as(app, &bearer(&new)).await.0, 200);
    let listed = call(
        app,
        Some(&auth),
        "get",
        "/api/2.0/ferroflow/tokens/list",
        &json!({}),
    )
    .await;
    let list = listed.1["tokens"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        !listed.1.to_string().contains(&new),
        "a list never shows a secret"
    );
    let id = created.1["token_info"]["id"].as_i64().unwrap();
    // Bob cannot revoke Alice's token.
    let bob = who(app, "bob", &[], false).await;
    let theirs = call(
        app,
        Some(&bearer(&bob.token)),
        "post",
        "/api/2.0/ferroflow/tokens/revoke",
        &json!({ "token_id": id }),
    )
    .await;
    assert_error(&theirs, 404, "RESOURCE_DOES_NOT_EXIST");
    let revoked = call(
        app,
        Some(&auth),
        "post",
        "/api/2.0/ferroflow/tokens/revoke",
        &json!({ "token_id": id }),
    )
    .await;
    assert_eq!(revoked.0, 200);
    assert_error(&search_as(app, &bearer(&new)).await, 401, "UNAUTHENTICATED");
    // Bad input is a 400.
    for body in [
        json!({ "name": "" }),
        json!({ "name": "x", "expires_in_days": 0 }),
    ] {
        let got = call(
            app,
            Some(&auth),
            "post",
            "/api/2.0/ferroflow/tokens/create",
            &body,
        )
        .await;
        assert_error(&got, 400, "INVALID_PARAMETER_VALUE");
    }
    // Service accounts are for admins.
    let denied = call(
        app,
        Some(&auth),
        "post",
        "/api/2.0/ferroflow/service-accounts/create",
        &json!({ "name": "trainer" }),
    )
    .await;
    assert_error(&denied, 403, "PERMISSION_DENIED");
    let carol = who(app, "carol", &["ferroflow-admins"], true).await;
    let admin = bearer(&carol.token);
    let sa = call(
        app,
        Some(&admin),
        "post",
        "/api/2.0/ferroflow/service-accounts/create",
        &json!({ "name": "trainer" }),
    )
    .await;
    assert_eq!(sa.0, 200, "{}", sa.1);
    let sa_token = call(
        app,
        Some(&admin),
        "post",
        "/api/2.0/ferroflow/tokens/create",
        &json!({ "name": "nightly", "service_account": "trainer" }),
    )
    .await;
    let sa_token = sa_token.1["token"].as_str().unwrap().to_owned();
    assert!(sa_token.starts_with("ffs_"));
    assert_eq!(search_as(app, &basic("trainer", &sa_token)).await.0, 200);
}

async fn edits_need_a_grant(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    let bob = who(app, "bob", &["team-b"], false).await;
    let exp = experiment(app, &alice, "alice-exp").await;
    let run_id = run(app, &alice, &exp).await;
    // The creator holds MANAGE.
    let got = ok(
        app,
        &alice,
        "get",
        "experiments/permissions/get",
        json!({ "experiment_id": exp, "username": "alice" }),
    )
    .await;
    assert_eq!(got["experiment_permission"]["permission"], "MANAGE");
    // Bob may read (the default is READ) but not edit.
    ok(
        app,
        &bob,
        "get",
        "experiments/get",
        json!({ "experiment_id": exp }),
    )
    .await;
    ok(app, &bob, "get", "runs/get", json!({ "run_id": run_id })).await;
    let tag = json!({ "run_id": run_id, "key": "k", "value": "v" });
    assert_error(
        &try_call(app, &bob, "post", "runs/set-tag", tag.clone()).await,
        403,
        "PERMISSION_DENIED",
    );
    assert_error(
        &try_call(
            app,
            &bob,
            "post",
            "runs/create",
            json!({ "experiment_id": exp }),
        )
        .await,
        403,
        "PERMISSION_DENIED",
    );
    assert_error(
        &try_call(
            app,
            &bob,
            "post",
            "experiments/permissions/create",
            json!({ "experiment_id": exp, "username": "bob", "permission": "MANAGE" }),
        )
        .await,
        403,
        "PERMISSION_DENIED",
    );
    // Alice gives Bob EDIT: he may log, not delete.
    ok(
        app,
        &alice,
        "post",
        "experiments/permissions/create",
        json!({ "experiment_id": exp, "username": "bob", "permission": "EDIT" }),
    )
    .await;
    ok(app, &bob, "post", "runs/set-tag", tag.clone()).await;
    ok(
        app,
        &bob,
        "post",
        "runs/create",
        json!({ "experiment_id": exp }),
    )
    .await;
    assert_error(
        &try_call(
            app,
            &bob,
            "post",
            "runs/delete",
            json!({ "run_id": run_id }),
        )
        .await,
        403,
        "PERMISSION_DENIED",
    );
    assert_error(
        &try_call(
            app,
            &bob,
            "post",
            "experiments/delete",
            json!({ "experiment_id": exp }),
        )
        .await,
        403,
        "PERMISSION_DENIED",
    );
    // Creating it twice, a bad permission, an unknown grant.
    assert_error(
        &try_call(
            app,
            &alice,
            "post",
            "experiments/permissions/create",
            json!({ "experiment_id": exp, "username": "bob", "permission": "READ" }),
        )
        .await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );
    assert_error(
        &try_call(
            app,
            &alice,
            "patch",
            "experiments/permissions/update",
            json!({ "experiment_id": exp, "username": "bob", "permission": "OWNER" }),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &try_call(
            app,
            &alice,
            "delete",
            "experiments/permissions/delete",
            json!({ "experiment_id": exp, "username": "nobody" }),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    // Downgraded to READ, Bob can no longer log.
    ok(
        app,
        &alice,
        "patch",
        "experiments/permissions/update",
        json!({ "experiment_id": exp, "username": "bob", "permission": "READ" }),
    )
    .await;
    assert_error(
        &try_call(app, &bob, "post", "runs/set-tag", tag).await,
        403,
        "PERMISSION_DENIED",
    );
    // The same on a registered model.
    ok(
        app,
        &alice,
        "post",
        "registered-models/create",
        json!({ "name": "m1" }),
    )
    .await;
    assert_error(
        &try_call(
            app,
            &bob,
            "patch",
            "registered-models/update",
            json!({ "name": "m1", "description": "x" }),
        )
        .await,
        403,
        "PERMISSION_DENIED",
    );
    ok(
        app,
        &alice,
        "post",
        "registered-models/permissions/create",
        json!({ "name": "m1", "username": "bob", "permission": "EDIT" }),
    )
    .await;
    ok(
        app,
        &bob,
        "patch",
        "registered-models/update",
        json!({ "name": "m1", "description": "x" }),
    )
    .await;
    assert_error(
        &try_call(
            app,
            &bob,
            "delete",
            "registered-models/delete",
            json!({ "name": "m1" }),
        )
        .await,
        403,
        "PERMISSION_DENIED",
    );
}

async fn group_grants_and_user_grants(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    let bob = who(app, "bob", &["team-b", "readers"], false).await;
    let exp = experiment(app, &alice, "alice-exp").await;
    let get = json!({ "experiment_id": exp });
    // Default NO_PERMISSIONS: Bob sees nothing.
    assert_error(
        &try_call(app, &bob, "get", "experiments/get", get.clone()).await,
        403,
        "PERMISSION_DENIED",
    );
    // A group of his may read; another may edit: he gets the most of them.
    for (group, perm) in [("readers", "READ"), ("team-b", "EDIT")] {
        ok(
            app,
            &alice,
            "post",
            "experiments/permissions/create",
            json!({ "experiment_id": exp, "group": group, "permission": perm }),
        )
        .await;
    }
    ok(app, &bob, "get", "experiments/get", get.clone()).await;
    ok(
        app,
        &bob,
        "post",
        "experiments/set-experiment-tag",
        json!({ "experiment_id": exp, "key": "k", "value": "v" }),
    )
    .await;
    // A user grant wins over his groups' grants, even a lower one.
    ok(
        app,
        &alice,
        "post",
        "experiments/permissions/create",
        json!({ "experiment_id": exp, "username": "bob", "permission": "NO_PERMISSIONS" }),
    )
    .await;
    assert_error(
        &try_call(app, &bob, "get", "experiments/get", get.clone()).await,
        403,
        "PERMISSION_DENIED",
    );
    let listed = ok(
        app,
        &alice,
        "get",
        "experiments/permissions/list",
        json!({ "experiment_id": exp }),
    )
    .await;
    assert_eq!(
        listed["permissions"].as_array().unwrap().len(),
        4,
        "{listed}"
    );
}

/// Every page of a search, following the page tokens.
async fn all_pages(
    app: &TestApp,
    who: &Who,
    method: &str,
    path: &str,
    mut body: Value,
    key: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let page = ok(app, who, method, path, body.clone()).await;
        let items = page[key].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 2, "page larger than asked: {page}");
        out.extend(items);
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => body["page_token"] = json!(t),
            _ => return out,
        }
    }
}

async fn searches_return_only_what_the_caller_may_read(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    let bob = who(app, "bob", &["team-b"], false).await;
    let mut alice_exps = Vec::new();
    for i in 0..5 {
        alice_exps.push(experiment(app, &alice, &format!("a{i}")).await);
    }
    let mut bob_exps = Vec::new();
    for i in 0..3 {
        bob_exps.push(experiment(app, &bob, &format!("b{i}")).await);
    }
    // A group grant makes one of Alice's visible to Bob.
    ok(
        app,
        &alice,
        "post",
        "experiments/permissions/create",
        json!({ "experiment_id": alice_exps[0], "group": "team-b", "permission": "READ" }),
    )
    .await;
    let seen = all_pages(
        app,
        &bob,
        "get",
        "experiments/search",
        json!({ "max_results": 2 }),
        "experiments",
    )
    .await;
    let mut ids: Vec<String> = seen
        .iter()
        .map(|e| e["experiment_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut want = bob_exps.clone();
    want.push(alice_exps[0].clone());
    want.sort();
    assert_eq!(ids, want, "Bob's experiment search");
    let alice_seen = all_pages(
        app,
        &alice,
        "get",
        "experiments/search",
        json!({ "max_results": 2 }),
        "experiments",
    )
    .await;
    assert_eq!(alice_seen.len(), 5);

    // Runs: searching Alice's and Bob's experiments returns only what Bob may read.
    let hidden_run = run(app, &alice, &alice_exps[1]).await;
    let shared_run = run(app, &alice, &alice_exps[0]).await;
    let mut bob_runs = vec![shared_run];
    for _ in 0..3 {
        bob_runs.push(run(app, &bob, &bob_exps[0]).await);
    }
    let mut every = alice_exps.clone();
    every.extend(bob_exps.clone());
    let runs = all_pages(
        app,
        &bob,
        "post",
        "runs/search",
        json!({ "experiment_ids": every, "max_results": 2 }),
        "runs",
    )
    .await;
    let mut got: Vec<String> = runs
        .iter()
        .map(|r| r["info"]["run_id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    bob_runs.sort();
    assert_eq!(got, bob_runs);
    assert!(!got.contains(&hidden_run));

    // Registered models and their versions.
    for i in 0..3 {
        ok(
            app,
            &alice,
            "post",
            "registered-models/create",
            json!({ "name": format!("alice-m{i}") }),
        )
        .await;
        ok(
            app,
            &bob,
            "post",
            "registered-models/create",
            json!({ "name": format!("bob-m{i}") }),
        )
        .await;
    }
    let models = all_pages(
        app,
        &bob,
        "get",
        "registered-models/search",
        json!({ "max_results": 2 }),
        "registered_models",
    )
    .await;
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bob-m0", "bob-m1", "bob-m2"]);
    for (who_, name) in [(&alice, "alice-m0"), (&bob, "bob-m0")] {
        let run_id = run(
            app,
            who_,
            if who_.user.username == "alice" {
                &alice_exps[0]
            } else {
                &bob_exps[0]
            },
        )
        .await;
        ok(
            app,
            who_,
            "post",
            "model-versions/create",
            json!({ "name": name, "source": format!("runs:/{run_id}/model"), "run_id": run_id }),
        )
        .await;
    }
    let versions = all_pages(
        app,
        &bob,
        "get",
        "model-versions/search",
        json!({ "max_results": 2 }),
        "model_versions",
    )
    .await;
    let names: Vec<&str> = versions
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob-m0"]);
}

async fn admins_bypass(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    let carol = who(app, "carol", &["ferroflow-admins"], true).await;
    let exp = experiment(app, &alice, "alice-exp").await;
    let run_id = run(app, &alice, &exp).await;
    ok(app, &carol, "get", "runs/get", json!({ "run_id": run_id })).await;
    let found = ok(
        app,
        &carol,
        "get",
        "experiments/search",
        json!({ "max_results": 100 }),
    )
    .await;
    assert!(
        found["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["experiment_id"] == exp.as_str())
    );
    ok(
        app,
        &carol,
        "post",
        "experiments/permissions/create",
        json!({ "experiment_id": exp, "username": "dave", "permission": "READ" }),
    )
    .await;
    ok(
        app,
        &carol,
        "post",
        "experiments/delete",
        json!({ "experiment_id": exp }),
    )
    .await;
}

async fn runs_carry_the_callers_name(app: &TestApp) {
    let bob = who(app, "bob", &["team-b"], false).await;
    let exp = experiment(app, &bob, "bob-exp").await;
    let made = ok(
        app,
        &bob,
        "post",
        "runs/create",
        json!({
            "experiment_id": exp,
            "user_id": "mallory",
            "tags": [{ "key": "mlflow.user", "value": "mallory" }],
        }),
    )
    .await;
    assert_eq!(made["run"]["info"]["user_id"], "bob");
    let tags = made["run"]["data"]["tags"].as_array().unwrap();
    let users: Vec<&Value> = tags.iter().filter(|t| t["key"] == "mlflow.user").collect();
    assert_eq!(users.len(), 1, "{tags:?}");
    assert_eq!(users[0]["value"], "bob");
}

/// A page as someone: status and HTML.
async fn page(app: &TestApp, who: &Who, path: &str) -> (u16, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.base))
        .header("authorization", bearer(&who.token))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn pages_show_panels_and_tokens(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    let bob = who(app, "bob", &["team-b"], false).await;
    let carol = who(app, "carol", &["ferroflow-admins"], true).await;
    let exp = experiment(app, &alice, "alice-exp").await;
    ok(
        app,
        &alice,
        "post",
        "registered-models/create",
        json!({ "name": "m1" }),
    )
    .await;
    ok(
        app,
        &alice,
        "post",
        "experiments/permissions/create",
        json!({ "experiment_id": exp, "group": "team-b", "permission": "EDIT" }),
    )
    .await;
    // Alice manages her experiment and model: the panel lists the grants.
    for path in [format!("/experiments/{exp}"), "/models/m1".to_owned()] {
        let (status, html) = page(app, &alice, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains(r#"id="permissions""#), "{path}: no panel");
        assert!(html.contains("MANAGE"), "{path}: no grant listed");
    }
    let (_, html) = page(app, &alice, &format!("/experiments/{exp}")).await;
    assert!(
        html.contains("team-b") && html.contains("EDIT"),
        "group grant not listed"
    );
    // Bob may read (and edit) but not manage: no panel.
    let (status, html) = page(app, &bob, &format!("/experiments/{exp}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("alice-exp"), "Bob may read the experiment");
    assert!(!html.contains(r#"id="permissions""#), "Bob sees the panel");
    // Tokens: one's own, never a secret; service accounts for admins only.
    let (status, html) = page(app, &alice, "/settings/tokens").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Your tokens") && html.contains(&alice.token[..12]),
        "{html}"
    );
    assert!(!html.contains(&alice.token), "the page shows a secret");
    assert!(!html.contains("Service accounts"));
    let (_, html) = page(app, &carol, "/settings/tokens").await;
    assert!(html.contains("Service accounts"));
    let (_, html) = page(app, &bob, "/admin").await;
    assert!(html.contains("Permission denied"), "the admin page for Bob");
    let (_, html) = page(app, &carol, "/admin").await;
    assert!(
        !html.contains("Permission denied"),
        "the admin page for Carol"
    );
}
