//! Running it for a company: `/metrics` (parsed with a Prometheus text-format parser),
//! request ids and JSON log lines, credentials kept out of logs, `/health` and `/ready`.
//!
//! The metric and log tests run the real binary in its own process, so its metrics count
//! only this test's requests and its stderr can be read.

mod common;

use common::{TestApp, start_process};
use openmetrics_parser::{PrometheusType, PrometheusValue, prometheus::parse_prometheus};
use serde_json::{Value, json};
use std::collections::BTreeMap;

on_both_backends!(ready_when_migrated, not_ready_when_the_schema_is_behind);

// ---------------------------------------------------------------- /metrics

/// One series: name, labels, value (a histogram's count).
#[derive(Debug)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

struct Scrape {
    series: Vec<Series>,
    families: BTreeMap<String, (PrometheusType, String)>,
}

impl Scrape {
    /// The value of the series `name` with exactly `labels`; 0 when it does not exist yet.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<&Series> = self
            .series
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .collect();
        assert!(found.len() <= 1, "{name}{labels:?} appears twice");
        found.first().map_or(0.0, |s| s.value)
    }

    fn label_values(&self, label: &str) -> Vec<&str> {
        self.series
            .iter()
            .filter_map(|s| s.labels.get(label).map(String::as_str))
            .collect()
    }
}

async fn scrape(base: &str) -> Scrape {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse(&response.text().await.unwrap())
}

/// Parses the Prometheus text format; panics if `text` is not in it.
fn parse(text: &str) -> Scrape {
    // Nothing recorded yet: valid, but the parser's grammar wants one family at least.
    if text.trim().is_empty() {
        return Scrape {
            series: Vec::new(),
            families: BTreeMap::new(),
        };
    }
    let exposition = parse_prometheus(text)
        .unwrap_or_else(|e| panic!("not the Prometheus text format: {e:?}\n{text}"));
    let mut series = Vec::new();
    let mut families = BTreeMap::new();
    for (name, family) in &exposition.families {
        families.insert(
            name.clone(),
            (family.family_type.clone(), family.help.clone()),
        );
        for sample in family.iter_samples() {
            let labelset = sample.get_labelset().unwrap();
            let labels = labelset
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let value = match &sample.value {
                PrometheusValue::Counter(c) => c.value.as_f64(),
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
                PrometheusValue::Histogram(h) => h.count.unwrap_or_default() as f64,
                PrometheusValue::Summary(s) => s.count.unwrap_or_default() as f64,
            };
            series.push(Series {
                name: name.clone(),
                labels,
                value,
            });
        }
    }
    Scrape { series, families }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_writes_sqlite() {
    metrics_count_requests_and_writes("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_writes_postgres() {
    metrics_count_requests_and_writes("postgres").await;
}

const LOG_METRIC: &str = "/api/2.0/mlflow/runs/log-metric";
const LOG_BATCH: &str = "/api/2.0/mlflow/runs/log-batch";
const REQUESTS: &str = "ferroflow_http_requests_total";

async fn metrics_count_requests_and_writes(backend: &str) {
    let server = start_process(backend, &[]).await;
    let run = server.run("metrics").await;
    let before = scrape(&server.base).await;

    const CALLS: usize = 7;
    for i in 0..CALLS {
        server
            .ok(
                "runs/log-metric",
                json!({"run_id": run, "key": "loss", "value": i, "timestamp": 1, "step": i}),
            )
            .await;
    }
    let points: Vec<Value> = (0..5)
        .map(|i| json!({"key": "acc", "value": i, "timestamp": 1, "step": i}))
        .collect();
    server
        .ok(
            "runs/log-batch",
            json!({
                "run_id": run,
                "metrics": points,
                "params": [{"key": "lr", "value": "0.1"}, {"key": "depth", "value": "3"}],
                "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}, {"key": "c", "value": "3"}],
            }),
        )
        .await;
    // A 400: no key. Nothing is written, nothing counted as written.
    let (status, _) = server
        .post("runs/log-metric", json!({"run_id": run, "value": 1}))
        .await;
    assert_eq!(status, 400);
    // No route: an API path, a page path; and a static asset.
    let client = reqwest::Client::new();
    for path in [
        "/api/2.0/mlflow/no/such/endpoint",
        "/no-such-page/secret-looking-path?token=abc",
        "/pkg/no-such-asset.js",
    ] {
        let r = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }

    let after = scrape(&server.base).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let ok_metric = [("route", LOG_METRIC), ("method", "POST"), ("status", "200")];
    assert_eq!(delta(REQUESTS, &ok_metric), CALLS as f64);
    assert_eq!(
        delta(
            REQUESTS,
            &[("route", LOG_METRIC), ("method", "POST"), ("status", "400")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            REQUESTS,
            &[("route", LOG_BATCH), ("method", "POST"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            REQUESTS,
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ),
        2.0
    );
    assert_eq!(
        delta(
            REQUESTS,
            &[
                ("route", "/pkg/{*path}"),
                ("method", "GET"),
                ("status", "404")
            ]
        ),
        1.0
    );
    // Routes are templates: no raw path reaches a label.
    for route in after.label_values("route") {
        assert!(
            !route.contains("no-such") && !route.contains("no/such") && !route.contains('?'),
            "raw path in a label: {route}"
        );
    }
    // The duration histogram saw every log-metric call, the 400 included.
    assert_eq!(
        delta(
            "ferroflow_http_request_duration_seconds",
            &[("route", LOG_METRIC), ("method", "POST")]
        ),
        CALLS as f64 + 1.0
    );
    assert_eq!(
        after.families["ferroflow_http_request_duration_seconds"].0,
        PrometheusType::Histogram
    );
    // Written counters: committed points, params and tags, not the refused call.
    assert_eq!(
        delta("ferroflow_metric_points_written_total", &[]),
        CALLS as f64 + 5.0
    );
    assert_eq!(delta("ferroflow_params_written_total", &[]), 2.0);
    assert_eq!(delta("ferroflow_tags_written_total", &[]), 3.0);
    // The scrape itself is the one request in flight.
    assert_eq!(after.value("ferroflow_http_requests_in_flight", &[]), 1.0);

    let backend_label = if backend == "sqlite" {
        "sqlite"
    } else {
        "postgresql"
    };
    assert_eq!(
        after.value(
            "ferroflow_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("backend", backend_label)
            ]
        ),
        1.0
    );
    // Pools: sampled at scrape; the writer's connections are a pool of their own (one
    // connection on SQLite), held by the writer between batches.
    for pool in ["main", "writer"] {
        let max = after.value("ferroflow_db_pool_max_connections", &[("pool", pool)]);
        let idle = after.value(
            "ferroflow_db_pool_connections",
            &[("pool", pool), ("state", "idle")],
        );
        let in_use = after.value(
            "ferroflow_db_pool_connections",
            &[("pool", pool), ("state", "in_use")],
        );
        assert!(max >= 1.0, "{pool}: max {max}");
        assert!(idle + in_use >= 1.0 && idle + in_use <= max, "{pool}");
    }
    assert_eq!(
        after.value("ferroflow_db_pool_max_connections", &[("pool", "writer")]),
        if backend == "sqlite" { 1.0 } else { 4.0 }
    );
    // Everything above was written, so the writer holds its connection.
    assert!(
        after.value(
            "ferroflow_db_pool_connections",
            &[("pool", "writer"), ("state", "in_use")]
        ) >= 1.0
    );
    for (name, kind) in [
        (REQUESTS, PrometheusType::Counter),
        ("ferroflow_http_requests_in_flight", PrometheusType::Gauge),
        ("ferroflow_db_pool_connections", PrometheusType::Gauge),
        (
            "ferroflow_metric_points_written_total",
            PrometheusType::Counter,
        ),
    ] {
        let (got, help) = &after.families[name];
        assert_eq!(got, &kind, "{name}");
        assert!(!help.is_empty(), "{name} has no HELP");
    }
}

// ---------------------------------------------------------------- request ids and logs

fn uuid_header(r: &reqwest::Response) -> String {
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&id).unwrap_or_else(|_| panic!("not a generated id: {id}"));
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_echoed_or_generated_and_logged_as_json() {
    let mut server = start_process("sqlite", &["--log-format", "json"]).await;
    let client = reqwest::Client::new();
    let health = format!("{}/health", server.base);

    let echoed = client
        .get(&health)
        .header("x-request-id", "ops-check-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "ops-check-42");

    let generated = uuid_header(&client.get(&health).send().await.unwrap());
    let other = uuid_header(&client.get(&health).send().await.unwrap());
    assert_ne!(generated, other);
    for insane in ["has spaces", "quote\"d", &"x".repeat(129)] {
        let r = client
            .get(&health)
            .header("x-request-id", insane)
            .send()
            .await
            .unwrap();
        assert_ne!(uuid_header(&r), insane);
    }
    // Errors carry the id too.
    let bad = client
        .post(format!("{}/api/2.0/mlflow/runs/log-metric", server.base))
        .header("x-request-id", "bad-write-1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.headers()["x-request-id"], "bad-write-1");

    let line = server.wait_for_log(|l| l.contains("ops-check-42")).await;
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["request_id"], "ops-check-42", "{line}");
    assert_eq!(entry["route"], "/health", "{line}");
    assert_eq!(entry["method"], "GET", "{line}");
    assert_eq!(entry["status"], 200, "{line}");
    assert!(
        entry["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    assert_eq!(entry["level"], "INFO", "{line}");

    let line = server.wait_for_log(|l| l.contains(&generated)).await;
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["request_id"], generated.as_str());

    let line = server.wait_for_log(|l| l.contains("bad-write-1")).await;
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["status"], 400);
    assert_eq!(entry["route"], LOG_METRIC);

    for line in server.logs() {
        assert!(
            serde_json::from_str::<Value>(&line).is_ok(),
            "not JSON: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_logs() {
    for format in ["text", "json"] {
        let mut server = start_process("sqlite", &["--log-format", format]).await;
        let client = reqwest::Client::new();
        let r = client
            .get(format!(
                "{}/api/2.0/mlflow/experiments/get?experiment_id=0&token=SEKRIT-query",
                server.base
            ))
            .header("authorization", "Bearer SEKRIT-bearer")
            .header("cookie", "session=SEKRIT-cookie")
            .header("x-request-id", "creds-1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client
            .get(format!(
                "{}/no/such/page?access_token=SEKRIT-unmatched",
                server.base
            ))
            .basic_auth("user", Some("SEKRIT-basic"))
            .header("x-request-id", "creds-2")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        server.wait_for_log(|l| l.contains("creds-1")).await;
        server.wait_for_log(|l| l.contains("creds-2")).await;
        let logs = server.logs();
        assert!(
            logs.iter().all(|l| !l.contains("SEKRIT")),
            "{format}: {logs:#?}"
        );
    }
    // A database password in the store URI. The test PostgreSQL trusts local connections,
    // so the password is ignored there; it only has to stay out of the logs.
    let url = common::fresh_postgres().await;
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = match rest.split_once('@') {
        Some((userinfo, host)) => (userinfo.split(':').next().unwrap(), host),
        None => ("postgres", rest),
    };
    let with_password = format!("{scheme}://{user}:SEKRIT-pw@{host}");
    let server = common::start_process_on(with_password, tempfile::tempdir().unwrap(), &[]).await;
    let logs = server.logs();
    assert!(logs.iter().any(|l| l.contains(":***@")), "{logs:#?}");
    assert!(logs.iter().all(|l| !l.contains("SEKRIT")), "{logs:#?}");
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    for (flag, value) in [("--log-format", "xml"), ("--shutdown-timeout", "soon")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferroflow"))
            .args(["server", flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
}

// ---------------------------------------------------------------- /health and /ready

async fn get_json(url: String) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn ready_when_migrated(app: &TestApp) {
    let (status, body) = get_json(format!("{}/ready", app.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["schema_version"], app.db.newest_migration());
    let health = reqwest::get(format!("{}/health", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "OK");
}

async fn not_ready_when_the_schema_is_behind(app: &TestApp) {
    let newest = app.db.newest_migration();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(newest)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = get_json(format!("{}/ready", app.base)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["failed_check"], "schema", "{body}");
    assert_eq!(body["expected_schema_version"], newest);
    assert!(body["schema_version"].as_i64().unwrap() < newest);
    assert!(body["message"].as_str().unwrap().contains("db upgrade"));
    // Alive all the same.
    let health = reqwest::get(format!("{}/health", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_when_the_postgres_database_is_dropped() {
    let app = common::spawn("postgres").await;
    assert_eq!(get_json(format!("{}/ready", app.base)).await.0, 200);
    let name: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&common::postgres_admin_url())
            .await
            .unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (status, body) = get_json(format!("{}/ready", app.base)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["failed_check"], "database", "{body}");
    assert_eq!(body["status"], "not ready");
    let health = reqwest::get(format!("{}/health", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_when_the_sqlite_pool_is_closed() {
    let app = common::spawn("sqlite").await;
    assert_eq!(get_json(format!("{}/ready", app.base)).await.0, 200);
    app.db.pool.close().await;
    let (status, body) = get_json(format!("{}/ready", app.base)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["failed_check"], "database", "{body}");
}

// ---------------------------------------------------------------- series recorded in code

/// The process recorder's output, parsed (series by name and labels).
fn render() -> Scrape {
    let handle = ferroflow::telemetry::metrics::handle();
    parse(&handle.render())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_waits_are_recorded_only_when_no_connection_is_idle() {
    use ferroflow::telemetry::metrics::DB_POOL_WAIT;
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let labels = [("pool", "wait_test")];
    let waits = || render().value(DB_POOL_WAIT, &labels);
    let start = waits();

    // An idle connection is there: no wait.
    drop(ferroflow::db::acquire(&pool, "wait_test").await.unwrap());
    assert_eq!(waits(), start);

    // The only connection is taken: the next acquisition waits for it.
    let held = pool.acquire().await.unwrap();
    let mut waiting = Box::pin(ferroflow::db::acquire(&pool, "wait_test"));
    assert!(futures::poll!(&mut waiting).is_pending());
    drop(held);
    drop(waiting.await.unwrap());
    assert_eq!(waits(), start + 1.0);
}

#[test]
fn job_series_have_help_text() {
    use ferroflow::telemetry::metrics::{JOB_DURATION, JOB_ITEMS, JOB_RUNS};
    let handle = ferroflow::telemetry::metrics::handle();
    metrics::counter!(JOB_RUNS, "job" => "help_test", "outcome" => "ok").increment(1);
    metrics::histogram!(JOB_DURATION, "job" => "help_test").record(0.2);
    metrics::counter!(JOB_ITEMS, "job" => "help_test").increment(3);
    let scrape = parse(&handle.render());
    for (name, kind) in [
        (JOB_RUNS, PrometheusType::Counter),
        (JOB_DURATION, PrometheusType::Histogram),
        (JOB_ITEMS, PrometheusType::Counter),
    ] {
        let (got, help) = &scrape.families[name];
        assert_eq!(got, &kind, "{name}");
        assert!(!help.is_empty(), "{name} has no HELP");
    }
    assert!(scrape.value(JOB_RUNS, &[("job", "help_test"), ("outcome", "ok")]) >= 1.0);
}
