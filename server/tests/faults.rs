//! Faults injected under load, on the real binary:
//! - PostgreSQL stops mid-load and comes back: requests fail cleanly (503 with MLflow's
//!   JSON) while it is down, the server reconnects by itself, and every write that got a
//!   200 is in the database. The cluster is a private one (initdb in a temporary folder,
//!   on a free port), never the shared one other tests use.
//! - `kill -9` of the server mid-ingest, on SQLite and on PostgreSQL: after a restart on
//!   the same database, every acknowledged point is there exactly once and the metric
//!   summaries (`latest_metrics`) agree with the histories.

mod common;

use common::{Process, fresh_postgres, start_process_on};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// A PostgreSQL cluster of this test's own.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql (Debian's postgresql)")
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .expect("initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("chown").arg("postgres:").arg(dir.path()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self { dir, bin, port };
        pg.as_postgres(&[
            "initdb",
            "-D",
            &pg.data(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        pg.up();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one of the server's programs as user postgres (PostgreSQL refuses root).
    fn as_postgres(&self, args: &[&str]) {
        let program = self.bin.join(args[0]);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        run(command.args(&args[1..]));
    }

    fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("pg.log").display().to_string();
        self.as_postgres(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-o",
            &options,
            "-l",
            &log,
            "-w",
            "start",
        ]);
    }

    /// A fast shutdown: open sessions are terminated, as at a restart by an operator.
    fn down(&self) {
        self.as_postgres(&["pg_ctl", "-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run(command: &mut Command) {
    let out = command.output().expect("command starts");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a client saw for one log-metric call.
#[derive(Default)]
struct Outcomes {
    acknowledged: Vec<i64>,
    unavailable: usize,
    other: Vec<String>,
}

/// `writers` clients logging points with unique steps (one run) until `stop` is set.
fn start_load(
    base: &str,
    run_id: &str,
    writers: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Outcomes>> {
    let next = Arc::new(AtomicI64::new(0));
    (0..writers)
        .map(|_| {
            let url = format!("{base}/api/2.0/mlflow/runs/log-metric");
            let run_id = run_id.to_owned();
            let stop = stop.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()
                    .unwrap();
                let mut seen = Outcomes::default();
                while !stop.load(Ordering::Relaxed) {
                    let step = next.fetch_add(1, Ordering::Relaxed);
                    let body = json!({"run_id": run_id, "key": "m", "value": step as f64 / 7.0,
                                      "timestamp": 1000 + step, "step": step});
                    match client.post(&url).json(&body).send().await {
                        Ok(r) if r.status() == 200 => seen.acknowledged.push(step),
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let retry_after = r.headers().contains_key("retry-after");
                            let body: Value = r.json().await.unwrap_or(Value::Null);
                            if status == 503
                                && retry_after
                                && body["error_code"] == "TEMPORARILY_UNAVAILABLE"
                            {
                                seen.unavailable += 1;
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            } else {
                                seen.other.push(format!("{status} {body}"));
                            }
                        }
                        // The connection dropped: only expected when the server is killed.
                        Err(e) => {
                            seen.other.push(format!("transport: {e}"));
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                seen
            })
        })
        .collect()
}

async fn finish_load(tasks: Vec<tokio::task::JoinHandle<Outcomes>>) -> Outcomes {
    let mut all = Outcomes::default();
    for t in tasks {
        let o = t.await.unwrap();
        all.acknowledged.extend(o.acknowledged);
        all.unavailable += o.unavailable;
        all.other.extend(o.other);
    }
    all.acknowledged.sort_unstable();
    all
}

/// The steps of metric `m` of `run_id`, sorted, as the server returns them.
async fn stored_steps(base: &str, run_id: &str) -> Vec<i64> {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/2.0/mlflow/metrics/get-history"))
        .query(&[("run_id", run_id), ("metric_key", "m")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let mut steps: Vec<i64> = body["metrics"]
        .as_array()
        .map(|a| a.iter().map(|m| m["step"].as_i64().unwrap()).collect())
        .unwrap_or_default();
    steps.sort_unstable();
    steps
}

/// Waits (polling, bounded) until `done` returns true.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never happened: {what}");
}

async fn status_of(url: &str) -> u16 {
    match reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(60))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_goes_away_mid_load_and_comes_back() {
    let pg = PrivatePostgres::start();
    let server = start_process_on(pg.url(), tempfile::tempdir().unwrap(), &[]).await;
    let run_id = server.run("outage").await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&server.base, &run_id, 8, stop.clone());
    // Some writes land before the outage.
    eventually("points before the outage", async || {
        stored_steps(&server.base, &run_id).await.len() >= 50
    })
    .await;

    pg.down();
    // While it is down: readiness says so, and API calls fail with 503 and MLflow's JSON
    // (once the pool's wait for a connection runs out).
    let ready = server.base.clone() + "/ready";
    eventually("/ready reports the database down", async || {
        status_of(&ready).await == 503
    })
    .await;
    let r = reqwest::Client::new()
        .post(server.url("runs/search"))
        .json(&json!({"experiment_ids": ["1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_code"], "TEMPORARILY_UNAVAILABLE", "{body}");
    assert_eq!(status_of(&(server.base.clone() + "/health")).await, 200);

    pg.up();
    // The server reconnects by itself; the load goes on.
    eventually("/ready again", async || status_of(&ready).await == 200).await;
    let before = stored_steps(&server.base, &run_id).await.len();
    eventually("writes after the outage", async || {
        stored_steps(&server.base, &run_id).await.len() >= before + 50
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = finish_load(load).await;

    assert!(
        seen.other.is_empty(),
        "answers other than 200 or 503: {:?}\nserver errors:\n{}",
        seen.other,
        server
            .logs()
            .iter()
            .filter(|l| l.contains("ERROR"))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(seen.unavailable > 0, "no request saw the outage");
    let stored = stored_steps(&server.base, &run_id).await;
    let mut unique = stored.clone();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "a point stored twice");
    for step in &seen.acknowledged {
        assert!(
            stored.binary_search(step).is_ok(),
            "acknowledged step {step} lost"
        );
    }
    eprintln!(
        "outage: {} acknowledged, {} answered 503, {} stored",
        seen.acknowledged.len(),
        seen.unavailable,
        stored.len()
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_kill_9_mid_ingest_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("ff.db").display());
    kill_mid_ingest(uri).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_kill_9_mid_ingest_loses_nothing_acknowledged() {
    kill_mid_ingest(fresh_postgres().await).await;
}

async fn kill_mid_ingest(uri: String) {
    let mut server = start_process_on(uri.clone(), tempfile::tempdir().unwrap(), &[]).await;
    let run_id = server.run("killed").await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&server.base, &run_id, 8, stop.clone());
    // Batches too, so multi-row writes and their summaries are cut as well.
    let batches = {
        let url = server.url("runs/log-batch");
        let run_id = run_id.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut acknowledged = Vec::new();
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let metrics: Vec<Value> = (0..100)
                    .map(|j| {
                        json!({"key": format!("b{}", i % 3), "value": (i * 100 + j) as f64,
                                    "timestamp": 5, "step": i * 100 + j})
                    })
                    .collect();
                let answer = client
                    .post(&url)
                    .json(&json!({"run_id": run_id, "metrics": metrics}))
                    .send()
                    .await;
                if answer.is_ok_and(|r| r.status() == 200) {
                    acknowledged.push(i);
                }
                i += 1;
            }
            acknowledged
        })
    };
    let base = server.base.clone();
    eventually("ingest under way", async || {
        stored_steps(&base, &run_id).await.len() >= 200
    })
    .await;
    server.child.kill().unwrap(); // SIGKILL
    server.wait().await;
    stop.store(true, Ordering::Relaxed);
    let seen = finish_load(load).await;
    let batches_acknowledged = batches.await.unwrap();
    for o in &seen.other {
        // Calls cut off by the kill: no answer, so nothing was promised.
        assert!(o.starts_with("transport"), "unexpected answer: {o}");
    }

    let restarted: Process = start_process_on(uri.clone(), tempfile::tempdir().unwrap(), &[]).await;
    let stored = stored_steps(&restarted.base, &run_id).await;
    let mut unique = stored.clone();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "a point stored twice");
    for step in &seen.acknowledged {
        assert!(
            stored.binary_search(step).is_ok(),
            "acknowledged step {step} lost"
        );
    }
    // Every acknowledged batch is there whole (a batch is one transaction).
    for i in &batches_acknowledged {
        let key = format!("b{}", i % 3);
        let r = reqwest::Client::new()
            .get(restarted.url("metrics/get-history"))
            .query(&[("run_id", run_id.as_str()), ("metric_key", key.as_str())])
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        let steps: Vec<i64> = body["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["step"].as_i64().unwrap())
            .filter(|s| s / 100 == *i)
            .collect();
        assert_eq!(steps.len(), 100, "acknowledged batch {i} incomplete");
    }
    assert_summaries_agree(&uri).await;
    eprintln!(
        "kill -9: {} points and {} batches acknowledged, {} points of m stored",
        seen.acknowledged.len(),
        batches_acknowledged.len(),
        stored.len()
    );
}

/// Every `latest_metrics` row has the count, min, max and latest step of its history,
/// and every history has a summary.
async fn assert_summaries_agree(uri: &str) {
    use sqlx::Row;
    let db = ferroflow::db::Db::connect(&ferroflow::db::DatabaseUri::parse(uri).unwrap())
        .await
        .unwrap();
    let histories = sqlx::query(
        "SELECT run_id, key, COUNT(*) AS n, MIN(value) AS lo, MAX(value) AS hi, MAX(step) AS last \
         FROM metrics GROUP BY run_id, key ORDER BY run_id, key",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let summaries = sqlx::query(
        "SELECT run_id, key, count AS n, min_value AS lo, max_value AS hi, step AS last \
         FROM latest_metrics ORDER BY run_id, key",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let rows = |rows: &[sqlx::any::AnyRow]| -> Vec<(i64, String, i64, f64, f64, i64)> {
        rows.iter()
            .map(|r| {
                (
                    r.get::<i64, _>("run_id"),
                    r.get::<String, _>("key"),
                    r.get::<i64, _>("n"),
                    r.get::<f64, _>("lo"),
                    r.get::<f64, _>("hi"),
                    r.get::<i64, _>("last"),
                )
            })
            .collect()
    };
    let (histories, summaries) = (rows(&histories), rows(&summaries));
    assert!(!histories.is_empty());
    assert_eq!(
        histories, summaries,
        "latest_metrics disagrees with metrics"
    );
    db.close().await;
}
