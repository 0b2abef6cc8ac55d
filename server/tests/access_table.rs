//! Issue 8's access table: every route the server has (from `api::route_table` and
//! `ui::route_table`, the lists the routers are built from, server functions included)
//! × {no credential, expired token, revoked token, insufficient permission}. A route
//! added without an entry here fails the test, and so does an entry whose route lets the
//! wrong caller through.

mod common;

use common::TestApp;
use common::auth::*;
use ferroflow::auth::{Permission, tokens};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_sqlite() {
    every_route(&spawn_auth("sqlite", Permission::NoPermissions).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_postgres() {
    every_route(&spawn_auth("postgres", Permission::NoPermissions).await).await
}

/// What Bob (no grant; `--default-permission NO_PERMISSIONS`) gets.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// 403 PERMISSION_DENIED.
    Denied,
    /// A search: 200, with none of Alice's things in it.
    Filtered,
    /// Allowed to everyone signed in (creates, server-info, one's own tokens): this status.
    Status(u16),
    /// A page: rendered, saying permission is denied, showing none of Alice's things.
    PageDenied,
    /// A page with nothing of Alice's on it (lists, forms): rendered.
    Page,
    /// An error (not 200) whose text holds this.
    Refused(&'static str),
}

/// The ids of Alice's things.
struct Ids {
    exp: String,
    run: String,
    model: String,
    logged: String,
    alice_token_id: i64,
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", UNIQUE.fetch_add(1, Ordering::Relaxed))
}

const PREFIXES: [&str; 4] = [
    "/api/2.0/mlflow-artifacts",
    "/ajax-api/2.0/mlflow-artifacts",
    "/api/2.0/mlflow",
    "/ajax-api/2.0/mlflow",
];

/// The request and the expectation for one route; `None` if the table has no entry.
fn case(method: &str, full: &str, ids: &Ids) -> Option<(String, Value, Expect)> {
    use Expect::*;
    let (prefix, path) = PREFIXES
        .iter()
        .find_map(|p| full.strip_prefix(p).map(|rest| (*p, rest)))
        .unwrap_or(("", full));
    let artifacts = prefix.ends_with("mlflow-artifacts");
    let (e, r, m, lm) = (&ids.exp, &ids.run, &ids.model, &ids.logged);
    let exp = json!({ "experiment_id": e });
    let run = json!({ "run_id": r });
    let model = json!({ "name": m });
    let version = json!({ "name": m, "version": "1" });
    let grant_e = json!({ "experiment_id": e, "username": "bob", "permission": "MANAGE" });
    let grant_m = json!({ "name": m, "username": "bob", "permission": "MANAGE" });
    let art = format!("{e}/{r}/artifacts/file.txt");
    let (target, body, expect) = match (artifacts, method, path) {
        (true, "get", "/artifacts") => (None, json!({ "path": format!("{e}/{r}") }), Denied),
        (true, _, "/artifacts/{*path}") => (Some(format!("/artifacts/{art}")), json!({}), Denied),
        (true, "post", p) if p.starts_with("/mpu/") => {
            (Some(p.replace("{*path}", &art)), json!({}), Status(501))
        }
        (true, ..) => return None,
        (_, "post", "/experiments/create") => (None, json!({ "name": unique("bob") }), Status(200)),
        (_, "get", "/experiments/get") => (None, exp, Denied),
        (_, "get", "/experiments/get-by-name") => {
            (None, json!({ "experiment_name": "alice-exp" }), Denied)
        }
        (_, _, "/experiments/search") => (None, json!({ "max_results": 100 }), Filtered),
        (_, "post", "/experiments/update") => {
            (None, json!({ "experiment_id": e, "new_name": "x" }), Denied)
        }
        (_, "post", "/experiments/delete" | "/experiments/restore") => (None, exp, Denied),
        (_, "post", "/experiments/set-experiment-tag" | "/experiments/delete-experiment-tag") => (
            None,
            json!({ "experiment_id": e, "key": "k", "value": "v" }),
            Denied,
        ),
        (_, "post", "/runs/create") => (None, exp, Denied),
        (_, "get", "/runs/get") => (None, run, Denied),
        (_, "post", "/runs/update") => (None, json!({ "run_id": r, "status": "FINISHED" }), Denied),
        (_, "post", "/runs/delete" | "/runs/restore") => (None, run, Denied),
        (_, _, "/runs/search") => (None, json!({ "experiment_ids": [e] }), Filtered),
        (_, "post", "/runs/log-metric") => (
            None,
            json!({ "run_id": r, "key": "m", "value": 1.0, "timestamp": 1, "step": 0 }),
            Denied,
        ),
        (_, "post", "/runs/log-parameter" | "/runs/set-tag" | "/runs/delete-tag") => (
            None,
            json!({ "run_id": r, "key": "k", "value": "v" }),
            Denied,
        ),
        (_, "post", "/runs/log-batch" | "/runs/log-inputs" | "/runs/outputs") => {
            (None, run, Denied)
        }
        (_, "post", "/runs/log-model") => (
            None,
            json!({ "run_id": r, "model_json": "{\"artifact_path\":\"m\",\"flavors\":{},\"utc_time_created\":\"x\",\"run_id\":\"x\"}" }),
            Denied,
        ),
        (_, "get", "/metrics/get-history") => {
            (None, json!({ "run_id": r, "metric_key": "m" }), Denied)
        }
        (_, "get", "/metrics/get-history-bulk-interval" | "/metrics/get-history-bulk") => {
            (None, json!({ "run_ids": [r], "metric_key": "m" }), Denied)
        }
        (_, "get", "/artifacts/list") => (None, run, Denied),
        (_, "post", "/logged-models") => (None, exp, Denied),
        (_, "post", "/logged-models/search") => (None, json!({ "experiment_ids": [e] }), Filtered),
        (_, _, p) if p.starts_with("/logged-models/{model_id}") => {
            let p = p.replace("{model_id}", lm).replace("{tag_key}", "k");
            let body = match (method, p.ends_with("/tags")) {
                ("patch", true) => json!({ "tags": [{ "key": "k", "value": "v" }] }),
                ("patch", false) => json!({ "status": "LOGGED_MODEL_READY" }),
                ("post", _) => json!({ "params": [{ "key": "k", "value": "v" }] }),
                _ => json!({ "artifact_file_path": "f", "artifact_directory_path": "" }),
            };
            (Some(p), body, Denied)
        }
        (_, "post", "/registered-models/create") => {
            (None, json!({ "name": unique("bob-model") }), Status(200))
        }
        (_, _, "/registered-models/search" | "/model-versions/search") => {
            (None, json!({ "max_results": 100 }), Filtered)
        }
        (_, _, "/registered-models/rename") => {
            (None, json!({ "name": m, "new_name": "stolen" }), Denied)
        }
        (_, _, "/registered-models/alias") => (
            None,
            json!({ "name": m, "alias": "champion", "version": "1" }),
            Denied,
        ),
        (
            _,
            _,
            "/registered-models/get"
            | "/registered-models/update"
            | "/registered-models/delete"
            | "/registered-models/get-latest-versions"
            | "/registered-models/set-tag"
            | "/registered-models/delete-tag",
        ) => {
            let mut b = model;
            b["key"] = json!("k");
            b["value"] = json!("v");
            b["description"] = json!("d");
            (None, b, Denied)
        }
        (_, "post", "/model-versions/create") => (
            None,
            json!({ "name": m, "source": format!("runs:/{r}/model"), "run_id": r }),
            Denied,
        ),
        (_, "post", "/model-versions/transition-stage") => {
            let mut b = version;
            b["stage"] = json!("Staging");
            b["archive_existing_versions"] = json!(false);
            (None, b, Denied)
        }
        (_, _, p) if p.starts_with("/model-versions/") => {
            let mut b = version;
            b["key"] = json!("k");
            b["value"] = json!("v");
            b["description"] = json!("d");
            b["path"] = json!("f");
            (None, b, Denied)
        }
        (_, _, p) if p.starts_with("/experiments/permissions/") => (None, grant_e, Denied),
        (_, _, p) if p.starts_with("/registered-models/permissions/") => (None, grant_m, Denied),
        (_, "get", "/api/3.0/mlflow/server-info" | "/ajax-api/3.0/mlflow/server-info") => {
            (None, json!({}), Status(200))
        }
        // The API's description holds nothing of anyone's.
        (false, "get", "/openapi.json") => (None, json!({}), Status(200)),
        (_, "get", "/get-artifact") => (None, json!({ "run_id": r, "path": "f" }), Denied),
        (_, "post", "/api/2.0/ferroflow/tokens/create") => {
            (None, json!({ "name": "bob's" }), Status(200))
        }
        (_, "get", "/api/2.0/ferroflow/tokens/list") => (None, json!({}), Status(200)),
        // Someone else's token is not found among one's own.
        (_, "post", "/api/2.0/ferroflow/tokens/revoke") => {
            (None, json!({ "token_id": ids.alice_token_id }), Status(404))
        }
        (_, _, "/api/2.0/ferroflow/service-accounts/create") => {
            (None, json!({ "name": unique("sa") }), Denied)
        }
        (_, "get", "/api/2.0/ferroflow/service-accounts/list") => (None, json!({}), Denied),
        // The UI.
        (_, "get", "/plot.svg") => (None, json!({ "runs": r, "keys": "m" }), Denied),
        (_, "get", "/export/runs.csv") => (None, json!({ "experiments": e }), Denied),
        (_, "get", "/") => (None, json!({}), Page),
        (_, "get", "/admin" | "/admin/trash") => (None, json!({}), PageDenied),
        (_, "get", "/runs/{run_id}") => (Some(format!("/runs/{r}")), json!({}), PageDenied),
        (_, "get", "/experiments/{ids}") => {
            (Some(format!("/experiments/{e}")), json!({}), PageDenied)
        }
        (_, "get", "/plot") => (None, json!({ "runs": r, "keys": "m" }), PageDenied),
        (_, "get", "/compare") => (None, json!({ "runs": r }), PageDenied),
        (_, "get", "/models") => (None, json!({}), Page),
        (_, "get", "/settings/tokens") => (None, json!({}), Page),
        (_, "get", "/models/{name}") => (Some(format!("/models/{m}")), json!({}), PageDenied),
        (_, "get", "/models/{name}/versions/{version}") => (
            Some(format!("/models/{m}/versions/1")),
            json!({}),
            PageDenied,
        ),
        _ => return None,
    };
    let target = match target {
        Some(t) => format!("{prefix}{t}"),
        None => full.to_owned(),
    };
    Some((target, body, expect))
}

/// A server function (`/_fn/<name><hash>`): its arguments, as the page sends them, and
/// what Bob gets. A denial is the function's error, whose text says so.
fn server_fn_case(path: &str, ids: &Ids) -> Option<(Value, Expect)> {
    use Expect::*;
    let name = path
        .strip_prefix("/_fn/")?
        .trim_end_matches(|c: char| c.is_ascii_digit());
    let (e, r, m) = (&ids.exp, &ids.run, &ids.model);
    let grant = json!({ "kind": "experiment", "id": e, "principal_kind": "user",
                        "principal": "bob", "permission": "MANAGE" });
    Some(match name {
        "load_artifacts" => (json!({ "run_id": r, "path": "" }), Denied),
        "current_user" => (json!({}), Status(200)),
        "load_plot" => (
            json!({ "query": { "runs": [r], "keys": ["m"], "x": "Step", "scale": "Linear", "smooth": 0.0 } }),
            Denied,
        ),
        "search_models" => (json!({ "query": "" }), Filtered),
        "model_page" => (json!({ "name": m }), Denied),
        "version_page" => (json!({ "name": m, "version": "1" }), Denied),
        "compared_runs" => (json!({ "run_ids": [r] }), Denied),
        "draw_scatter" => (
            json!({ "run_ids": [r], "x": "metrics.m", "y": "metrics.m" }),
            Denied,
        ),
        "list_tokens" => (json!({}), Filtered),
        "create_token" => (
            json!({ "service_account": "", "name": unique("bob"), "expires_in_days": "" }),
            Status(200),
        ),
        // Someone else's token is not found among one's own.
        "revoke_token" => (
            json!({ "service_account": "", "id": ids.alice_token_id }),
            Refused("No token with id"),
        ),
        "create_service_account" => (json!({ "name": unique("sa") }), Denied),
        // The panel is for MANAGE: to anyone else the function says there is nothing.
        "permission_grants" => (json!({ "kind": "experiment", "id": e }), Filtered),
        "set_permission" => (grant, Denied),
        "remove_permission" => (grant, Denied),
        "get_run_details" => (json!({ "run_id": r }), Denied),
        "set_run_tag" => (json!({ "run_id": r, "key": "k", "value": "v" }), Denied),
        "delete_run_tag" => (json!({ "run_id": r, "key": "k" }), Denied),
        "runs_grid" => (
            json!({ "request": {
                "experiment_ids": [e], "query": null, "filters": [], "rest": "", "columns": [],
                "sort": null, "ascending": false, "view": "Active", "user": null, "mine": false,
                "page": "", "back": [], "page_size": 100, "selected": [] } }),
            Denied,
        ),
        "list_experiments" => (json!({ "filter": "", "view": "active" }), Filtered),
        "create_experiment" => (json!({ "name": unique("bob") }), Status(200)),
        "rename_experiment" => (json!({ "id": e, "new_name": "stolen" }), Denied),
        "delete_experiment" | "restore_experiment" => (json!({ "id": e }), Denied),
        "load_admin_overview" | "load_gc_preview" | "list_trash" => (json!({}), Denied),
        "run_job_now" => (json!({ "job": "gc" }), Denied),
        "restore_item" | "delete_item_now" => (json!({ "kind": "experiment", "id": e }), Denied),
        _ => return None,
    })
}

/// Calls a server function as the page does: form-encoded arguments (JSON for the one
/// declared with a JSON input). Returns the status and the answer (JSON when it is JSON).
async fn call_fn(app: &TestApp, auth: Option<&str>, path: &str, args: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(format!("{}{path}", app.base));
    req = if path.starts_with("/_fn/runs_grid") {
        req.json(args)
    } else {
        req.header("content-type", "application/x-www-form-urlencoded")
            .body(serde_qs::to_string(args).unwrap())
    };
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn every_route(app: &TestApp) {
    let alice = who(app, "alice", &["team-a"], false).await;
    let bob = who(app, "bob", &["team-b"], false).await;
    let expired = token(app, &bob.user).await;
    sqlx::query("UPDATE api_tokens SET expiry_time = 1 WHERE token_hash = $1")
        .bind(tokens::hash(&expired))
        .execute(&app.db.pool)
        .await
        .unwrap();
    let revoked = tokens::create(&app.db, &bob.user, "revoked", None)
        .await
        .unwrap();
    tokens::revoke(&app.db, bob.user.id, revoked.info.id)
        .await
        .unwrap();

    let exp = experiment(app, &alice, "alice-exp").await;
    let run_id = run(app, &alice, &exp).await;
    ok(
        app,
        &alice,
        "post",
        "registered-models/create",
        json!({ "name": "alice-model" }),
    )
    .await;
    ok(
        app,
        &alice,
        "post",
        "model-versions/create",
        json!({ "name": "alice-model", "source": format!("runs:/{run_id}/model"), "run_id": run_id }),
    )
    .await;
    ok(
        app,
        &alice,
        "post",
        "registered-models/alias",
        json!({ "name": "alice-model", "alias": "champion", "version": "1" }),
    )
    .await;
    let logged = ok(
        app,
        &alice,
        "post",
        "logged-models",
        json!({ "experiment_id": exp }),
    )
    .await;
    let ids = Ids {
        exp: exp.clone(),
        run: run_id.clone(),
        model: "alice-model".into(),
        logged: logged["model"]["info"]["model_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        alice_token_id: tokens::list(&app.db, alice.user.id).await.unwrap()[0].id,
    };

    let mut routes = ferroflow::api::route_table();
    routes.extend(ferroflow::ui::route_table());
    assert!(
        routes.len() > 150,
        "the route table looks short: {}",
        routes.len()
    );
    let mut missing = Vec::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for route in &routes {
        let server_fn = route.path.starts_with("/_fn/");
        let entry = if server_fn {
            server_fn_case(&route.path, &ids).map(|(args, e)| (route.path.clone(), args, e))
        } else {
            case(route.method, &route.path, &ids)
        };
        let Some((target, body, expect)) = entry else {
            missing.push(format!("{} {}", route.method, route.path));
            continue;
        };
        let page = matches!(expect, Expect::Page | Expect::PageDenied);
        let send = async |auth: Option<&str>| {
            if server_fn {
                call_fn(app, auth, &target, &body).await
            } else {
                call(app, auth, route.method, &target, &body).await
            }
        };
        // No credential: 401 on the API, the login page for pages.
        let (status, answer) = send(None).await;
        let want = if page { 303 } else { 401 };
        let code_ok = page || answer["error_code"] == "UNAUTHENTICATED";
        if status != want || !code_ok {
            failures.push(format!(
                "{} {target} without credential: {status} {answer}",
                route.method
            ));
        }
        for (label, t) in [("expired", &expired), ("revoked", &revoked.token)] {
            let got = send(Some(&bearer(t))).await;
            if got.0 != 401 || got.1["error_code"] != "UNAUTHENTICATED" {
                failures.push(format!(
                    "{} {target} with a {label} token: {} {}",
                    route.method, got.0, got.1
                ));
            }
        }
        // Bob's valid token, no grant on Alice's things.
        let got = if page {
            page_as(app, &bob.token, &target, &body).await
        } else {
            send(Some(&bearer(&bob.token))).await
        };
        let text = got.1.to_string();
        let fine = match expect {
            Expect::Denied if server_fn => got.0 != 200 && text.contains("Permission denied"),
            Expect::Denied => got.0 == 403 && got.1["error_code"] == "PERMISSION_DENIED",
            Expect::Refused(what) => got.0 != 200 && text.contains(what),
            Expect::Status(s) => got.0 == s,
            Expect::Filtered => {
                got.0 == 200
                    && !text.contains("alice-exp")
                    && !text.contains(&run_id)
                    && !text.contains("alice-model")
            }
            Expect::PageDenied => {
                let text = got.1.as_str().unwrap_or_default();
                text.contains("Permission denied")
                    && !text.contains("alice-exp")
                    && !text.contains("alice-model")
            }
            Expect::Page => {
                let text = got.1.as_str().unwrap_or_default();
                got.0 == 200 && !text.contains("alice-exp") && !text.contains("alice-model")
            }
        };
        if !fine {
            let mut shown = got.1.to_string();
            shown.truncate(300);
            failures.push(format!(
                "{} {target} as Bob: expected {expect:?}, got {} {shown}",
                route.method, got.0
            ));
        }
        checked += 1;
    }
    assert!(
        missing.is_empty(),
        "routes without an entry in the access table: {missing:#?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} routes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing Bob tried changed Alice's things.
    let still = ok(
        app,
        &alice,
        "get",
        "experiments/get",
        json!({ "experiment_id": exp }),
    )
    .await;
    assert_eq!(still["experiment"]["name"], "alice-exp");
    assert_eq!(still["experiment"]["lifecycle_stage"], "active");
    ok(
        app,
        &alice,
        "get",
        "registered-models/get",
        json!({ "name": "alice-model" }),
    )
    .await;
}

/// A page as Bob: status and the HTML as a JSON string.
async fn page_as(app: &TestApp, token: &str, target: &str, query: &Value) -> (u16, Value) {
    let query: Vec<(String, String)> = query
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let r = reqwest::Client::new()
        .get(format!("{}{target}", app.base))
        .query(&query)
        .header("authorization", bearer(token))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, Value::String(r.text().await.unwrap_or_default()))
}
