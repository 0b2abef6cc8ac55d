//! Test harness: the real server on port 0, against a fresh SQLite file or a fresh
//! PostgreSQL database per test.

#![allow(dead_code)]

pub mod auth;

use ferroflow::config::Config;
use ferroflow::db::DatabaseUri;
use ferroflow::startup::Application;
use serde_json::{Value, json};
use sqlx::Connection;

pub mod oidc;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: ferroflow::db::Db,
    /// The backend store URI, as `--backend-store-uri` takes it.
    pub store_uri: String,
    /// The artifact destination; its parent is the test's temporary folder.
    pub artifacts_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// The admin connection used to create throwaway PostgreSQL databases.
pub fn postgres_admin_url() -> String {
    std::env::var("FERROFLOW_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty PostgreSQL database; returns its URL.
pub async fn fresh_postgres() -> String {
    let admin = postgres_admin_url();
    let name = format!("ff_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL must be running for the PostgreSQL tests (see .ci/run)");
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let (prefix, _) = admin.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

pub async fn spawn(backend: &str) -> TestApp {
    spawn_with(backend, |_| {}).await
}

/// `spawn` with the configuration changed by `configure` first.
pub async fn spawn_with(backend: &str, configure: impl FnOnce(&mut Config)) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let database = match backend {
        "sqlite" => DatabaseUri::Sqlite(dir.path().join("ff.db")),
        "postgres" => DatabaseUri::Postgres(fresh_postgres().await),
        other => panic!("unknown backend {other}"),
    };
    let store_uri = match &database {
        DatabaseUri::Sqlite(path) => format!("sqlite:///{}", path.display()),
        DatabaseUri::Postgres(url) => url.clone(),
    };
    let config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        database,
        default_artifact_root: "mlflow-artifacts:/".into(),
        artifacts_destination: dir.path().join("artifacts").to_string_lossy().into_owned(),
        site_root: dir.path().join("site"),
        shutdown_timeout: std::time::Duration::from_secs(30),
        max_in_flight: 512,
        // Jobs are driven by the tests that test them, never behind another test's back.
        jobs: ferroflow::jobs::JobsConfig::disabled(),
        auth: ferroflow::auth::AuthConfig::None,
    };
    let mut config = config;
    configure(&mut config);
    let app = Application::build(config).await.expect("server starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.db().clone();
    tokio::spawn(app.run_until_stopped());
    let artifacts_dir = dir.path().join("artifacts");
    TestApp {
        base,
        // A request that never gets an answer fails its test instead of stalling CI.
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap(),
        db,
        store_uri,
        artifacts_dir,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow/{path}", self.base)
    }

    /// POSTs JSON; returns status and body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send_json(self.client.post(self.url(path)), &body).await
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .query(query)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POSTs and asserts a 200.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, body_out) = self.post(path, body.clone()).await;
        let mut sent = body.to_string();
        sent.truncate(300);
        assert_eq!(status, 200, "{path} {sent} -> {body_out}");
        body_out
    }

    pub async fn experiment(&self, name: &str) -> String {
        self.ok("experiments/create", json!({ "name": name })).await["experiment_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn run(&self, experiment_id: &str) -> String {
        self.ok(
            "runs/create",
            json!({ "experiment_id": experiment_id, "start_time": 1000 }),
        )
        .await["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn get_run(&self, run_id: &str) -> Value {
        let (status, body) = self.get("runs/get", &[("run_id", run_id)]).await;
        assert_eq!(status, 200, "{body}");
        body["run"].clone()
    }
}

/// Sends `request` with a JSON body; returns the status and the JSON answer (`null` when
/// the answer is not JSON).
pub async fn send_json(request: reqwest::RequestBuilder, body: &Value) -> (u16, Value) {
    let r = request.json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Sends a request line exactly as given (no client-side normalisation of `..` or
/// percent escapes, which URL libraries apply); returns the status and body.
pub async fn raw(base: &str, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Asserts an MLflow error: status and error_code.
pub fn assert_error(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "unexpected status; body: {}", got.1);
    assert_eq!(
        got.1["error_code"], code,
        "unexpected code; body: {}",
        got.1
    );
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {}",
        got.1
    );
}

/// Generates one test per backend from an async fn taking `&TestApp`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(&$crate::common::spawn("sqlite").await).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(&$crate::common::spawn("postgres").await).await }
            )*
        }
    };
}

/// The real `ferroflow` binary in a process of its own, for what only a process shows:
/// its log output, its answer to signals, its exit status, a metrics registry of its own.
pub struct Process {
    pub child: std::process::Child,
    pub base: String,
    /// The `--backend-store-uri` it was started with.
    pub store_uri: String,
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

/// Starts `ferroflow server` on a free port against a fresh database of `backend`, with
/// `args` added, and waits until it listens.
pub async fn start_process(backend: &str, args: &[&str]) -> Process {
    let dir = tempfile::tempdir().unwrap();
    let store_uri = match backend {
        "sqlite" => format!("sqlite:///{}", dir.path().join("ff.db").display()),
        "postgres" => fresh_postgres().await,
        other => panic!("unknown backend {other}"),
    };
    start_process_on(store_uri, dir, args).await
}

/// `start_process` against `store_uri`, with `dir` for artifacts.
pub async fn start_process_on(store_uri: String, dir: tempfile::TempDir, args: &[&str]) -> Process {
    use std::io::BufRead;
    let artifacts = dir.path().join("artifacts");
    let site = dir.path().join("site");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ferroflow"));
    command
        .args(["server", "--host", "127.0.0.1", "--port", "0"])
        .args(["--backend-store-uri", &store_uri])
        .arg("--artifacts-destination")
        .arg(&artifacts)
        .arg("--site-root")
        .arg(&site)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("FERROFLOW_") || key == "RUST_LOG" || key == "LEPTOS_SITE_ROOT" {
            command.env_remove(key);
        }
    }
    let mut child = command.spawn().expect("the ferroflow binary starts");
    let stderr = child.stderr.take().unwrap();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    let mut process = Process {
        child,
        base: String::new(),
        store_uri,
        logs,
        _dir: dir,
    };
    let line = process
        .wait_for_log(|l| l.contains("listening on http://127.0.0.1:"))
        .await;
    let port: String = line
        .split("listening on http://127.0.0.1:")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    process.base = format!("http://127.0.0.1:{port}");
    process
}

impl Process {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow/{path}", self.base)
    }

    /// POSTs JSON to the API; returns status and body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send_json(reqwest::Client::new().post(self.url(path)), &body).await
    }

    /// POSTs and asserts a 200.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, out) = self.post(path, body).await;
        assert_eq!(status, 200, "{path} -> {out}");
        out
    }

    /// A new run in a new experiment named `name`.
    pub async fn run(&self, name: &str) -> String {
        let experiment = self.ok("experiments/create", json!({ "name": name })).await;
        self.ok(
            "runs/create",
            json!({ "experiment_id": experiment["experiment_id"], "start_time": 1000 }),
        )
        .await["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Everything the process wrote to stderr so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits for a stderr line matching `pred` and returns it. Panics if the process
    /// exits first or nothing matches within two minutes (a guard against hanging, not a
    /// timing assertion).
    pub async fn wait_for_log(&mut self, pred: impl Fn(&str) -> bool) -> String {
        for _ in 0..6000 {
            if let Some(line) = self.logs().into_iter().find(|l| pred(l)) {
                return line;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("ferroflow exited ({status}): {:#?}", self.logs());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no such log line; logs: {:#?}", self.logs());
    }

    /// Sends SIGTERM (by process id, with the `kill` command).
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit and returns its status. Panics if it is still
    /// running after three minutes (a guard against hanging, not a timing assertion).
    pub async fn wait(&mut self) -> std::process::ExitStatus {
        for _ in 0..9000 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("ferroflow did not exit; logs: {:#?}", self.logs());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
