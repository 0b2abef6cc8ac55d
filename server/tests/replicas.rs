//! Three `ferroflow server` processes against one fresh PostgreSQL database, with jobs
//! every 2 s and a 3 s lease: the schema is migrated once, each job runs once per period
//! (never two runs of a job within one interval, never overlapping), `kill -9` of a
//! replica in the middle of a job lets another take the job over once the lease expires,
//! and what is written through one replica is read back through the others.

mod common;

use serde_json::{Value, json};
use sqlx::{PgPool, Row};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INTERVAL_MS: i64 = 2_000;
const TTL_MS: i64 = 3_000;

/// The replicas; killed when the test ends, however it ends.
struct Replicas(Vec<(Child, String)>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(db_url: &str, dir: &std::path::Path, n: usize) -> (Child, String) {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("replica-{n}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--backend-store-uri", db_url])
        .arg("--artifacts-destination")
        .arg(dir.join("artifacts"))
        .arg("--site-root")
        .arg(dir.join("site"))
        .args([
            "--gc-interval",
            "2s",
            "--reaper-interval",
            "2s",
            "--upkeep-interval",
            "2s",
        ])
        .args(["--lease-ttl", "3s", "--gc-retention", "0s"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the ferroflow binary starts");
    (child, format!("http://127.0.0.1:{port}"))
}

/// Polls `check` until it returns `Some`, for at most `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let r = client
        .post(format!("{base}/api/2.0/mlflow/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path} via {base}");
    r.json().await.unwrap()
}

async fn get_run(client: &reqwest::Client, base: &str, run: &str) -> Value {
    let r = client
        .get(format!("{base}/api/2.0/mlflow/runs/get"))
        .query(&[("run_id", run)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

/// One recorded job run.
#[derive(Debug, Clone)]
struct JobRun {
    id: i64,
    job: String,
    holder: String,
    started_at: i64,
    ended_at: Option<i64>,
    outcome: String,
    error: Option<String>,
}

async fn job_runs(pool: &PgPool) -> Vec<JobRun> {
    sqlx::query("SELECT id, job, holder, started_at, ended_at, outcome, error FROM job_runs ORDER BY job, started_at, id")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| JobRun {
            id: r.get(0),
            job: r.get(1),
            holder: r.get(2),
            started_at: r.get(3),
            ended_at: r.get(4),
            outcome: r.get(5),
            error: r.get(6),
        })
        .collect()
}

/// Each job ran at most once per period: consecutive runs of a job start at least one
/// interval apart, and none starts before the previous one ended (or, for a run whose
/// holder died, before its lease could have expired).
fn assert_once_per_period(runs: &[JobRun]) {
    for pair in runs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.job != b.job {
            continue;
        }
        assert!(
            b.started_at - a.started_at >= INTERVAL_MS,
            "two runs of {} within one interval: {a:?} then {b:?}",
            a.job
        );
        match (a.outcome.as_str(), a.ended_at) {
            ("ok", Some(end)) => assert!(b.started_at >= end, "overlap: {a:?} {b:?}"),
            _ => assert!(
                b.started_at >= a.started_at + TTL_MS,
                "taken before expiry: {a:?} {b:?}"
            ),
        }
    }
}

fn pid_of(holder: &str) -> u32 {
    holder.split('-').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_jobs_and_data() {
    let db_url = common::fresh_postgres().await;
    let pool = PgPool::connect(&db_url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut replicas = Replicas((0..3).map(|n| start(&db_url, dir.path(), n)).collect());
    let client = reqwest::Client::new();
    let bases: Vec<String> = replicas.0.iter().map(|(_, b)| b.clone()).collect();
    for base in &bases {
        let client = client.clone();
        eventually(
            "a replica to answer /health",
            Duration::from_secs(120),
            || {
                let client = client.clone();
                let url = format!("{base}/health");
                async move {
                    client
                        .get(&url)
                        .send()
                        .await
                        .ok()
                        .filter(|r| r.status().is_success())
                }
            },
        )
        .await;
    }

    // Migrated once: each migration recorded once, and all of them.
    let files = std::fs::read_dir(format!(
        "{}/../migrations/postgres",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .count() as i64;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied, files);

    // A write through one replica is read through the others.
    let exp = post(
        &client,
        &bases[0],
        "experiments/create",
        json!({"name": "shared"}),
    )
    .await["experiment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = post(
        &client,
        &bases[1],
        "runs/create",
        json!({"experiment_id": exp}),
    )
    .await["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        &client,
        &bases[2],
        "runs/log-metric",
        json!({"run_id": run, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}),
    )
    .await;
    for base in &bases {
        let got = get_run(&client, base, &run).await;
        assert_eq!(
            got["run"]["data"]["metrics"][0]["value"],
            json!(0.5),
            "via {base}"
        );
    }

    // Every replica is listed as seen.
    let seen = eventually("three replica heartbeats", Duration::from_secs(30), || {
        let pool = pool.clone();
        async move {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM job_leases WHERE name LIKE 'replica/%'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            (n == 3).then_some(n)
        }
    })
    .await;
    assert_eq!(seen, 3);

    // A long gc: a deleted run with many points, which gc removes a few thousand at a time.
    // Kill the replica running it, mid-run, with SIGKILL.
    let trash_run = "0123456789abcdef0123456789abcdef";
    // One transaction: gc (retention 0) must not see the run before its points.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO runs (run_uuid, experiment_id, status, start_time, deleted_time, lifecycle_stage, artifact_uri) \
         VALUES ($1, $2, 'FINISHED', 0, 0, 'deleted', '')",
    )
    .bind(trash_run)
    .bind(exp.parse::<i64>().unwrap())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO metrics (run_id, key, timestamp, step, value, is_nan) \
         SELECT (SELECT id FROM runs WHERE run_uuid = $1), 'm', i, i, 0, 0 FROM generate_series(1, 400000) AS i",
    )
    .bind(trash_run)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let since = ferroflow::store::now_ms();
    let victim = eventually("a gc run on the trash", Duration::from_secs(60), || {
        let pool = pool.clone();
        async move {
            let rows = job_runs(&pool).await;
            rows.into_iter()
                .find(|r| r.job == "gc" && r.outcome == "running" && r.started_at >= since)
        }
    })
    .await;
    let pid = pid_of(&victim.holder);
    let index = replicas
        .0
        .iter()
        .position(|(c, _)| c.id() == pid)
        .expect("the holder is one of our replicas");
    let (mut child, victim_base) = replicas.0.remove(index);
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = ferroflow::store::now_ms();

    // Another replica takes gc over after the lease expires and finishes the trash.
    let successor = eventually(
        "another replica to take gc over",
        Duration::from_secs(60),
        || {
            let pool = pool.clone();
            let victim = victim.clone();
            async move {
                job_runs(&pool)
                    .await
                    .into_iter()
                    .find(|r| r.job == "gc" && r.started_at > victim.started_at)
            }
        },
    )
    .await;
    assert_ne!(pid_of(&successor.holder), pid);
    assert!(
        successor.started_at >= victim.started_at + TTL_MS,
        "taken over before the lease expired: {victim:?} {successor:?}"
    );
    // Within the lease time after the kill, plus the pollers' period (a quarter of it)
    // and as much again for a busy machine.
    let takeover = successor.started_at - killed_at;
    eprintln!("gc taken over {takeover} ms after the kill");
    assert!(takeover <= 2 * TTL_MS, "takeover took {takeover} ms");
    eventually("the trash to be gone", Duration::from_secs(120), || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE run_uuid = $1")
                .bind(trash_run)
                .fetch_one(&pool)
                .await
                .unwrap();
            (n == 0).then_some(())
        }
    })
    .await;
    let points: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM metrics WHERE key = 'm'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(points, 0);

    // The survivors keep every job going; wait for a few more periods of each.
    let bases: Vec<String> = replicas.0.iter().map(|(_, b)| b.clone()).collect();
    assert!(!bases.contains(&victim_base));
    let after = ferroflow::store::now_ms();
    eventually(
        "three more runs of every job",
        Duration::from_secs(120),
        || {
            let pool = pool.clone();
            async move {
                let rows = job_runs(&pool).await;
                ["gc", "reaper", "upkeep"]
                    .iter()
                    .all(|job| {
                        rows.iter()
                            .filter(|r| r.job == *job && r.started_at > after && r.outcome == "ok")
                            .count()
                            >= 3
                    })
                    .then_some(())
            }
        },
    )
    .await;
    let rows = job_runs(&pool).await;
    assert_once_per_period(&rows);
    // The victim's gc run was closed as abandoned by its successor. The only failures
    // are runs of the killed replica (it may have been in another job too), abandoned.
    let closed = rows.iter().find(|r| r.id == victim.id).unwrap();
    assert_eq!(closed.outcome, "failed");
    for r in rows.iter().filter(|r| r.outcome != "ok") {
        assert_eq!(pid_of(&r.holder), pid, "{r:?}");
        assert_eq!(r.outcome, "failed", "{r:?}");
        assert!(r.error.as_deref().unwrap().contains("abandoned"), "{r:?}");
    }
    for r in rows.iter().filter(|r| r.started_at > killed_at) {
        assert_ne!(
            pid_of(&r.holder),
            pid,
            "the dead replica ran nothing after its death"
        );
    }

    // The survivors still serve the same data.
    for base in &bases {
        let got = get_run(&client, base, &run).await;
        assert_eq!(got["run"]["info"]["status"], "RUNNING", "via {base}");
    }
}
