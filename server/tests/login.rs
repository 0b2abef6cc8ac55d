//! Browser login with `--auth oidc` against the real provider (`end2end/oidc/provider.mjs`):
//! the code flow through the provider's login form, the session cookie, the refusal of
//! users outside `--allowed-groups`, cross-site request forgery, logout, and one session
//! shared by two server processes on one PostgreSQL database.

mod common;

use common::oidc::{self, Provider};
use common::{assert_error, send_json, spawn_with, start_process, start_process_on};
use reqwest::header;
use serde_json::{Value, json};

async fn api_get(client: &reqwest::Client, base: &str, path: &str) -> (u16, Value) {
    let r = client
        .get(format!("{base}/api/2.0/mlflow/{path}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A POST as the browser sends it from one of ferroflow's own pages.
fn same_origin_post(client: &reqwest::Client, base: &str, path: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}{path}"))
        .header(header::ORIGIN, base)
        .header("sec-fetch-site", "same-origin")
}

async fn session_rows(db: &ferroflow::db::Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_records_the_user_and_keeps_a_rotated_http_only_session() {
    let provider = Provider::start();
    let app = spawn_with("sqlite", |c| c.auth = provider.auth(&[])).await;
    let (browser, jar) = oidc::browser();

    // Not logged in: the API says 401, pages send the browser to the login page.
    assert_error(
        &api_get(&browser, &app.base, "experiments/search?max_results=5").await,
        401,
        "UNAUTHENTICATED",
    );
    let page = browser
        .get(format!("{}/experiments/0?x=1", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.url().path(), "/login");
    assert_eq!(
        page.url().query(),
        Some("next=%2Fexperiments%2F0%3Fx%3D1"),
        "the login page knows where the user was going"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Log in with 127.0.0.1:"), "{html}");

    // The login flow keeps its state in a session from the first step on.
    oidc::login_form(&browser, &app.base, "/models").await;
    let before = oidc::session_cookie(&jar, &app.base).expect("a session for the login flow");

    let done = oidc::login(&browser, &app.base, "/models", "alice", "alice-password").await;
    assert_eq!(done.status(), 200);
    assert_eq!(done.url().as_str(), format!("{}/models", app.base));
    let after = oidc::session_cookie(&jar, &app.base).expect("a session after login");
    assert_ne!(before, after, "the session id is rotated at login");
    assert_eq!(
        session_rows(&app.db).await,
        1,
        "the pre-login session is gone"
    );

    let (status, body) = api_get(&browser, &app.base, "experiments/search?max_results=5").await;
    assert_eq!(status, 200, "{body}");

    let user = ferroflow::auth::users::by_subject(&app.db, "alice")
        .await
        .unwrap()
        .expect("alice is recorded");
    assert_eq!(user.username, "alice");
    assert_eq!(user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(user.display_name.as_deref(), Some("Alice Anders"));
    assert_eq!(user.groups, ["team-a"]);
    assert!(!user.is_admin);
    assert!(user.last_login_time.is_some());

    // The header shows who is logged in.
    let html = browser
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"current-user\""), "{html}");
    assert!(
        html.contains(">alice<") || html.contains(">alice"),
        "{html}"
    );

    // A stolen-looking cookie (not in the store) is nobody.
    let (stranger, stranger_jar) = oidc::browser();
    stranger_jar.add_cookie_str(
        "ferroflow_session=AAAAAAAAAAAAAAAAAAAAAA",
        &app.base.parse().unwrap(),
    );
    assert_error(
        &api_get(&stranger, &app.base, "experiments/search?max_results=5").await,
        401,
        "UNAUTHENTICATED",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let provider = Provider::start();
    let app = spawn_with("sqlite", |c| c.auth = provider.auth(&[])).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain
        .get(format!("{}/auth/login", app.base))
        .send()
        .await
        .unwrap();
    // Discovery may still be under way: then the answer is the login page with an error,
    // which sets no cookie. Wait for the provider's redirect.
    let mut r = r;
    for _ in 0..100 {
        let location = r
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default();
        if location.starts_with(&provider.issuer) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        r = plain
            .get(format!("{}/auth/login", app.base))
            .send()
            .await
            .unwrap();
    }
    let location = r.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/auth?", provider.issuer)),
        "{location}"
    );
    for part in [
        "code_challenge=",
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "scope=openid",
    ] {
        assert!(location.contains(part), "{part} missing in {location}");
    }
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("ferroflow_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http: no Secure flag: {cookie}"
    );
    assert!(cookie.contains("Path=/"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_outside_the_allowed_groups_are_refused() {
    let provider = Provider::start();
    let app = spawn_with("sqlite", |c| {
        c.auth = provider.auth(&["team-a", "ferroflow-admins"])
    })
    .await;

    let (browser, _) = oidc::browser();
    let refused = oidc::login(&browser, &app.base, "/", "bob", "bob-password").await;
    assert_eq!(refused.status(), 403);
    let html = refused.text().await.unwrap();
    assert!(html.contains("bob is not in a group allowed"), "{html}");
    assert_error(
        &api_get(&browser, &app.base, "experiments/search?max_results=5").await,
        401,
        "UNAUTHENTICATED",
    );
    assert!(
        ferroflow::auth::users::by_subject(&app.db, "bob")
            .await
            .unwrap()
            .is_none(),
        "a refused user is not recorded"
    );

    // carol is in the admin group: allowed, and an admin.
    let (browser, _) = oidc::browser();
    let ok = oidc::login(&browser, &app.base, "/", "carol", "carol-password").await;
    assert_eq!(ok.status(), 200);
    let carol = ferroflow::auth::users::by_subject(&app.db, "carol")
        .await
        .unwrap()
        .unwrap();
    assert!(carol.is_admin);

    // A wrong password never gets past the provider.
    let (browser, _) = oidc::browser();
    let wrong = oidc::login(&browser, &app.base, "/", "alice", "nope").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.url().as_str().starts_with(&provider.issuer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_with_the_session_cookie_are_refused() {
    let provider = Provider::start();
    let app = spawn_with("sqlite", |c| c.auth = provider.auth(&[])).await;
    let (browser, _) = oidc::browser();
    let done = oidc::login(&browser, &app.base, "/", "alice", "alice-password").await;
    assert_eq!(done.status(), 200);
    let create = |name: &str| json!({ "name": name });
    let url = format!("{}/api/2.0/mlflow/experiments/create", app.base);

    // From another site: refused, and nothing is created.
    let evil = browser
        .post(&url)
        .header(header::ORIGIN, "http://evil.example")
        .header("sec-fetch-site", "cross-site");
    assert_error(
        &send_json(evil, &create("evil")).await,
        403,
        "PERMISSION_DENIED",
    );
    // The same with only a Referer, or with the right Origin but Sec-Fetch-Site saying
    // otherwise, or with no origin at all.
    let by_referer = browser
        .post(&url)
        .header(header::REFERER, "http://evil.example/page");
    assert_error(
        &send_json(by_referer, &create("evil2")).await,
        403,
        "PERMISSION_DENIED",
    );
    let lying = browser
        .post(&url)
        .header(header::ORIGIN, &app.base)
        .header("sec-fetch-site", "cross-site");
    assert_error(
        &send_json(lying, &create("evil3")).await,
        403,
        "PERMISSION_DENIED",
    );
    assert_error(
        &send_json(browser.post(&url), &create("evil4")).await,
        403,
        "PERMISSION_DENIED",
    );
    // Logout is a POST too: a cross-site one does not end the session.
    let r = browser
        .post(format!("{}/logout", app.base))
        .header(header::ORIGIN, "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (status, body) = api_get(
        &browser,
        &app.base,
        "experiments/get-by-name?experiment_name=evil",
    )
    .await;
    assert_eq!(status, 404, "nothing was created: {body}");

    // From ferroflow's own pages: accepted.
    let (status, body) = send_json(
        same_origin_post(&browser, &app.base, "/api/2.0/mlflow/experiments/create"),
        &create("mine"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let by_referer = browser
        .post(&url)
        .header(header::REFERER, format!("{}/experiments/1", app.base));
    let (status, body) = send_json(by_referer, &create("mine2")).await;
    assert_eq!(status, 200, "{body}");

    // Without the cookie there is nothing to forge: 401 as for any request without a
    // credential (what the mlflow client gets), not a CSRF refusal.
    assert_error(
        &send_json(
            reqwest::Client::new()
                .post(&url)
                .header(header::ORIGIN, "http://evil.example"),
            &create("x"),
        )
        .await,
        401,
        "UNAUTHENTICATED",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_and_next_stays_on_this_server() {
    let provider = Provider::start();
    let app = spawn_with("sqlite", |c| c.auth = provider.auth(&[])).await;
    let (browser, _) = oidc::browser();
    // An absolute or protocol-relative `next` is not followed off this server.
    let done = oidc::login(
        &browser,
        &app.base,
        "//evil.example/x",
        "alice",
        "alice-password",
    )
    .await;
    assert_eq!(done.status(), 200);
    assert_eq!(done.url().as_str(), format!("{}/", app.base));
    assert_eq!(session_rows(&app.db).await, 1);

    let out = same_origin_post(&browser, &app.base, "/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(out.url().path(), "/login", "logout lands on the login page");
    assert_eq!(out.status(), 200);
    assert_eq!(session_rows(&app.db).await, 0, "the session row is deleted");
    assert_error(
        &api_get(&browser, &app.base, "experiments/search?max_results=5").await,
        401,
        "UNAUTHENTICATED",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_refused_and_removed_by_upkeep() {
    let provider = Provider::start();
    let app = spawn_with("sqlite", |c| c.auth = provider.auth(&[])).await;
    let (browser, _) = oidc::browser();
    assert_eq!(
        oidc::login(&browser, &app.base, "/", "alice", "alice-password")
            .await
            .status(),
        200
    );
    sqlx::query("UPDATE sessions SET expiry_date = 1")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_error(
        &api_get(&browser, &app.base, "experiments/search?max_results=5").await,
        401,
        "UNAUTHENTICATED",
    );
    ferroflow::jobs::upkeep::run(&app.db).await.unwrap();
    assert_eq!(session_rows(&app.db).await, 0);
}

/// One session, two replicas: logging in through one is logging in on both, and logging
/// out on one logs out on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_shared_by_two_processes_on_postgres() {
    let provider = Provider::start();
    let flags = provider.flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let a = start_process("postgres", &flags).await;
    let b = start_process_on(a.store_uri.clone(), tempfile::tempdir().unwrap(), &flags).await;

    let (browser, jar) = oidc::browser();
    let done = oidc::login(&browser, &a.base, "/", "alice", "alice-password").await;
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
    let cookie = oidc::session_cookie(&jar, &a.base).unwrap();
    // The cookie is host-only; hand it to replica b as a load balancer in front would.
    jar.add_cookie_str(
        &format!("ferroflow_session={cookie}"),
        &b.base.parse().unwrap(),
    );

    let (status, body) = api_get(&browser, &b.base, "experiments/search?max_results=5").await;
    assert_eq!(status, 200, "b knows a's session: {body}");
    let (status, body) = send_json(
        same_origin_post(&browser, &b.base, "/api/2.0/mlflow/experiments/create"),
        &json!({ "name": "from-b" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let out = same_origin_post(&browser, &a.base, "/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(out.url().path(), "/login");
    jar.add_cookie_str(
        &format!("ferroflow_session={cookie}"),
        &b.base.parse().unwrap(),
    );
    assert_error(
        &api_get(&browser, &b.base, "experiments/search?max_results=5").await,
        401,
        "UNAUTHENTICATED",
    );
    a.terminate();
    b.terminate();
}

/// A provider that is down at start-up: ferroflow starts anyway, says so in its log and on
/// the login page, and offers login once the provider answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_waits_for_a_provider_that_is_down_at_start_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let flags = oidc::flags(&format!("http://127.0.0.1:{port}"));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut server = start_process("sqlite", &flags).await;
    server
        .wait_for_log(|l| l.contains("cannot read the OIDC provider's discovery document"))
        .await;
    let (browser, _) = oidc::browser();
    let page = browser
        .get(format!("{}/auth/login?next=/models", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.url().path(), "/login");
    let html = page.text().await.unwrap();
    assert!(html.contains("has not answered yet"), "{html}");

    let _provider = Provider::start_on(port);
    // Discovery is retried in the background (`oidc::login` waits for the provider's form).
    let done = oidc::login(&browser, &server.base, "/models", "alice", "alice-password").await;
    assert_eq!(done.status(), 200);
    assert_eq!(done.url().path(), "/models");
    server.terminate();
}

/// Logged in, "My runs" (the grid's `mine=1`, on the page and in its CSV export) are the
/// logged-in user's, whatever `?user=` says; and a run is the caller's whatever `user_id`
/// the client claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_runs_are_the_logged_in_users() {
    let provider = Provider::start();
    // Everyone may add runs to the Default experiment, so both users can.
    let app = spawn_with("sqlite", |c| {
        c.auth = provider.auth(&[]);
        if let ferroflow::auth::AuthConfig::Oidc(oidc) = &mut c.auth {
            oidc.default_permission = ferroflow::auth::Permission::Edit;
        }
    })
    .await;
    let (browser, _) = oidc::browser();
    let (bobs_browser, _) = oidc::browser();
    for (b, user) in [(&browser, "alice"), (&bobs_browser, "bob")] {
        let password = format!("{user}-password");
        assert_eq!(
            oidc::login(b, &app.base, "/", user, &password)
                .await
                .status(),
            200
        );
    }
    // Each claims to be the other: the server records who really sent it.
    for (b, claimed, name) in [
        (&browser, "bob", "run-of-alice"),
        (&bobs_browser, "alice", "run-of-bob"),
    ] {
        let (status, body) = send_json(
            same_origin_post(b, &app.base, "/api/2.0/mlflow/runs/create"),
            &json!({ "experiment_id": "0", "user_id": claimed, "run_name": name }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let owner = if name == "run-of-alice" {
            "alice"
        } else {
            "bob"
        };
        assert_eq!(body["run"]["info"]["user_id"], owner, "{body}");
    }
    let get = |path: String| {
        let browser = browser.clone();
        async move {
            let r = browser.get(path).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let everyone = get(format!("{}/experiments/0", app.base)).await;
    assert!(everyone.contains("run-of-alice") && everyone.contains("run-of-bob"));
    let mine = get(format!("{}/experiments/0?mine=1&user=bob", app.base)).await;
    assert!(mine.contains("run-of-alice"), "{mine}");
    assert!(!mine.contains("run-of-bob"), "{mine}");
    let csv = get(format!(
        "{}/export/runs.csv?experiments=0&mine=1&user=bob",
        app.base
    ))
    .await;
    assert!(csv.contains("run-of-alice"), "{csv}");
    assert!(!csv.contains("run-of-bob"), "{csv}");
}
