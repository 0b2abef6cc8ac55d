//! Graceful shutdown of the real binary: SIGTERM in the middle of a metric-logging load,
//! then the database, opened directly, must hold every point a client got a 200 for,
//! exactly once (in the points table and in the per-key summaries).

mod common;

use common::{TestApp, start_process};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

on_both_backends!(draining_writes_every_queued_call_then_refuses_new_ones);

const CLIENTS: usize = 16;
/// Calls per client at most, so the load ends by itself even without the signal.
const MAX_CALLS: usize = 3_000;
/// Acknowledged points before the signal is sent: the load is well under way by then.
const POINTS_BEFORE_SIGNAL: usize = 600;
const BATCH: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_keeps_every_acknowledged_point_sqlite() {
    sigterm_under_load_keeps_every_acknowledged_point("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_keeps_every_acknowledged_point_postgres() {
    sigterm_under_load_keeps_every_acknowledged_point("postgres").await;
}

/// A point as stored: run, key, step, value (bits, to compare exactly).
type Point = (String, String, i64, u64);

async fn sigterm_under_load_keeps_every_acknowledged_point(backend: &str) {
    let mut server = start_process(backend, &["--shutdown-timeout", "2m"]).await;
    let mut runs = Vec::new();
    for c in 0..CLIENTS {
        runs.push(server.run(&format!("load-{c}")).await);
    }

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for (c, run) in runs.iter().enumerate() {
        let (client, run, url, acknowledged) = (
            client.clone(),
            run.clone(),
            server.url(""),
            acknowledged.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut acked: Vec<Point> = Vec::new();
            let mut refused = 0;
            for i in 0..MAX_CALLS {
                let base = (c * 1_000_000 + i * 10) as f64;
                let (path, body, points) = if i % 2 == 0 {
                    let p = (run.clone(), "single".to_owned(), i as i64, base.to_bits());
                    let body = json!({"run_id": run, "key": "single", "value": base,
                                      "timestamp": 1, "step": i});
                    ("runs/log-metric", body, vec![p])
                } else {
                    let points: Vec<Point> = (0..BATCH)
                        .map(|j| {
                            let v = base + j as f64;
                            (
                                run.clone(),
                                "batch".to_owned(),
                                (i * 10 + j) as i64,
                                v.to_bits(),
                            )
                        })
                        .collect();
                    let metrics: Vec<_> = points
                        .iter()
                        .map(|p| {
                            json!({"key": "batch", "value": f64::from_bits(p.3),
                                        "timestamp": 1, "step": p.2})
                        })
                        .collect();
                    let body = json!({"run_id": run, "metrics": metrics});
                    ("runs/log-batch", body, points)
                };
                let response = match client.post(format!("{url}{path}")).json(&body).send().await {
                    Ok(r) => r,
                    // The server stopped listening or closed the connection: this call
                    // was not acknowledged; the load is over for this client.
                    Err(_) => break,
                };
                let status = response.status().as_u16();
                // A 200 is only sent after the commit, but the body must arrive too.
                let Ok(text) = response.text().await else {
                    break;
                };
                match status {
                    200 => {
                        acknowledged.fetch_add(points.len(), Ordering::Relaxed);
                        acked.extend(points);
                    }
                    // Refused while shutting down: not acknowledged.
                    503 => {
                        refused += 1;
                        break;
                    }
                    other => panic!("{path} answered {other}: {text}"),
                }
            }
            (acked, refused)
        }));
    }

    // Not a timing assertion: wait (bounded) until enough has been acknowledged.
    for _ in 0..30_000 {
        if acknowledged.load(Ordering::Relaxed) >= POINTS_BEFORE_SIGNAL {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(
        acknowledged.load(Ordering::Relaxed) >= POINTS_BEFORE_SIGNAL,
        "the load did not get going: {:#?}",
        server.logs()
    );
    server.terminate();

    let mut acked = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (points, r) = task.await.unwrap();
        acked.extend(points);
        refused += r;
    }
    let status = server.wait().await;
    let logs = server.logs();
    assert_eq!(status.code(), Some(0), "exit status; logs: {logs:#?}");
    assert!(
        logs.iter().any(|l| l.contains("shut down cleanly")),
        "{logs:#?}"
    );
    eprintln!(
        "{backend}: {} points acknowledged, {refused} calls refused",
        acked.len()
    );

    let (stored, summaries) = read_database(&server.store_uri).await;
    let mut counts: HashMap<&Point, usize> = HashMap::new();
    for p in &stored {
        *counts.entry(p).or_default() += 1;
    }
    for p in &acked {
        assert_eq!(counts.get(p), Some(&1), "acknowledged point {p:?}");
    }
    assert!(counts.values().all(|&n| n == 1), "a point stored twice");
    // The per-key summaries count each stored point once.
    let mut per_key: HashMap<(String, String), i64> = HashMap::new();
    for (run, key, _, _) in &stored {
        *per_key.entry((run.clone(), key.clone())).or_default() += 1;
    }
    assert_eq!(summaries, per_key);
}

/// The stored points and the summaries' point counts, read with a connection of our own.
async fn read_database(store_uri: &str) -> (Vec<Point>, HashMap<(String, String), i64>) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = match store_uri.strip_prefix("sqlite:///") {
        Some(path) => format!("sqlite://{path}"),
        None => store_uri.to_owned(),
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, String, i64, f64)> = sqlx::query_as(
        "SELECT r.run_uuid, m.key, m.step, m.value FROM metrics m JOIN runs r ON r.id = m.run_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let stored = rows
        .into_iter()
        .map(|(run, key, step, value)| (run, key, step, value.to_bits()))
        .collect();
    let summaries: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT r.run_uuid, l.key, l.count FROM latest_metrics l JOIN runs r ON r.id = l.run_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let summaries: HashMap<(String, String), i64> = summaries
        .into_iter()
        .map(|(run, key, count)| ((run, key), count))
        .collect();
    // The plot tiles were written in the same transactions: at every axis and level,
    // they count each stored point of a long history once (all values here are finite);
    // short histories have none.
    let tiles: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT r.run_uuid, t.key, t.axis, t.level, CAST(SUM(t.n) AS BIGINT) FROM metric_tiles t \
         JOIN runs r ON r.id = t.run_id GROUP BY r.run_uuid, t.key, t.axis, t.level",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let long = summaries
        .values()
        .filter(|&&n| n > ferroflow::store::tiles::MIN_POINTS)
        .count();
    let levels = 2 * ferroflow::store::tiles::LEVELS.len();
    assert_eq!(tiles.len(), levels * long, "tiles for every long history");
    for (run, key, axis, level, n) in tiles {
        assert_eq!(
            summaries.get(&(run.clone(), key.clone())),
            Some(&n),
            "tiles of {run} {key}, axis {axis}, level {level}"
        );
    }
    (stored, summaries)
}

/// A request that does not finish (an upload whose body stops coming) holds the shutdown
/// only until `--shutdown-timeout`; the process then exits with status 1, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_requests_after_the_timeout() {
    use tokio::io::AsyncWriteExt;
    let mut server = start_process("sqlite", &["--shutdown-timeout", "1s"]).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut upload = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/0/slow.bin HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Length: 1000000\r\n\r\nthe first bytes"
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    // Wait (bounded) until the server is handling it: two requests in flight, the upload
    // and the scrape asking.
    let mut in_flight = false;
    for _ in 0..1000 {
        let text = reqwest::get(format!("{}/metrics", server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text
            .lines()
            .any(|l| l == "ferroflow_http_requests_in_flight 2")
        {
            in_flight = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(in_flight, "the upload never started");
    server.terminate();
    let status = server.wait().await;
    let logs = server.logs();
    assert_eq!(status.code(), Some(1), "{logs:#?}");
    assert!(
        logs.iter()
            .any(|l| l.contains("shutdown timeout") && l.contains("requests still running")),
        "{logs:#?}"
    );
    drop(upload);
}

/// The log-metric queue and the writer, drained with calls waiting in them: every queued
/// call is written and answered 200-worthy (`Ok`), none is dropped; calls after the
/// drain are refused with TEMPORARILY_UNAVAILABLE (503).
async fn draining_writes_every_queued_call_then_refuses_new_ones(app: &TestApp) {
    use app::models::ErrorCode;
    use ferroflow::api::PointQueue;
    use ferroflow::store::points::Point;
    use futures::FutureExt;

    let experiment = app.experiment("drain").await;
    let run = app.run(&experiment).await;
    let queue = PointQueue::start(app.db.clone());
    let point = |step: i64| Point {
        key: "queued".into(),
        value: step as f64,
        timestamp: 1,
        step,
    };
    const QUEUED: i64 = 300;
    let mut calls: Vec<_> = (0..QUEUED)
        .map(|step| queue.log(run.clone(), point(step)).boxed())
        .collect();
    // One poll each puts every call in the queue; each then waits for its answer.
    for call in &mut calls {
        assert!(futures::poll!(call).is_pending());
    }
    let (answers, ()) = futures::join!(futures::future::join_all(calls), queue.drain());
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let err = queue.log(run.clone(), point(QUEUED)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::TemporarilyUnavailable);

    // The writer, likewise: a queued write commits, a later one is refused.
    let db = app.db.clone();
    let mut queued = ferroflow::api::write(&db, run.clone(), |conn, run| {
        Box::pin(async move {
            let id = ferroflow::store::runs::active_id(conn, run).await?;
            ferroflow::store::points::log(
                conn,
                &[(
                    id,
                    &Point {
                        key: "queued".into(),
                        value: -1.0,
                        timestamp: 1,
                        step: -1,
                    },
                )],
            )
            .await
        })
    })
    .boxed();
    assert!(futures::poll!(&mut queued).is_pending());
    let (written, ()) = futures::join!(queued, db.writer.drain());
    written.unwrap();
    let err = ferroflow::api::write(&db, (), |_, _| Box::pin(async { Ok(()) }))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::TemporarilyUnavailable);

    let history = app
        .get(
            "metrics/get-history",
            &[
                ("run_id", run.as_str()),
                ("metric_key", "queued"),
                ("max_results", "1000"),
            ],
        )
        .await;
    assert_eq!(history.0, 200, "{}", history.1);
    let steps = history.1["metrics"].as_array().unwrap().len() as i64;
    assert_eq!(steps, QUEUED + 1);
}

/// SIGTERM while this replica runs garbage collection: the job stops at its next step, its
/// run is recorded as failed with the reason, its lease is handed back due at once (so
/// another replica finishes the job), and the process still exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_job_hands_the_job_back() {
    let mut server = start_process(
        "postgres",
        &[
            "--gc-retention",
            "0s",
            "--lease-ttl",
            "3s",
            "--reaper-interval",
            "1h",
            "--upkeep-interval",
            "1h",
        ],
    )
    .await;
    let pool = sqlx::PgPool::connect(&server.store_uri).await.unwrap();
    let experiment = server
        .ok("experiments/create", json!({ "name": "trash" }))
        .await["experiment_id"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    // A deleted run with many points, which gc removes a few thousand at a time; one
    // transaction, so gc never sees the run without its points.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO runs (run_uuid, experiment_id, status, start_time, deleted_time, lifecycle_stage, artifact_uri) \
         VALUES ('feedfacefeedfacefeedfacefeedface', $1, 'FINISHED', 0, 0, 'deleted', '')",
    )
    .bind(experiment)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO metrics (run_id, key, timestamp, step, value, is_nan) \
         SELECT (SELECT id FROM runs WHERE run_uuid = 'feedfacefeedfacefeedfacefeedface'), 'm', i, i, 0, 0 \
         FROM generate_series(1, 600000) AS i",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let since = ferroflow::store::now_ms();
    // Due now, whatever the first poll already did.
    sqlx::query("UPDATE job_leases SET next_run_at = 0 WHERE name = 'gc'")
        .execute(&pool)
        .await
        .unwrap();
    let mut running = None;
    for _ in 0..3000 {
        running = sqlx::query_scalar::<_, i64>(
            "SELECT id FROM job_runs WHERE job = 'gc' AND outcome = 'running' AND started_at >= $1",
        )
        .bind(since)
        .fetch_optional(&pool)
        .await
        .unwrap();
        if running.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let run = running.expect("gc started on the trash");

    server.terminate();
    let status = server.wait().await;
    assert!(
        status.success(),
        "exit {status}; logs: {:#?}",
        server.logs()
    );

    let (outcome, ended, error): (String, Option<i64>, Option<String>) =
        sqlx::query_as("SELECT outcome, ended_at, error FROM job_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap();
    let stopped_at = ferroflow::store::now_ms();
    assert!(ended.is_some(), "the job run was left open");
    // It may have finished the trash before the signal reached it; otherwise it says why.
    if outcome != "ok" {
        assert_eq!(outcome, "failed");
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("shutting down")),
            "{error:?}"
        );
        let (expires, next): (i64, i64) =
            sqlx::query_as("SELECT expires_at, next_run_at FROM job_leases WHERE name = 'gc'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(expires, 0, "the lease was not handed back");
        assert!(
            next <= stopped_at,
            "gc is not due again: next run at {next}"
        );
    }
    pool.close().await;
}
