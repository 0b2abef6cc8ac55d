//! Overload: far more concurrent clients than the server serves at once. Every request is
//! answered (200, or 503 `TEMPORARILY_UNAVAILABLE` with `Retry-After`), never left
//! hanging; health and metrics still answer; nothing acknowledged is lost; and the server
//! serves normally once the crowd is gone.

mod common;

use common::{TestApp, spawn_with};
use futures::future::join_all;
use serde_json::{Value, json};

const SLOTS: usize = 4;

async fn app(backend: &str) -> TestApp {
    spawn_with(backend, |c| c.max_in_flight = SLOTS).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_requests_over_the_limit_get_503_then_recover() {
    over_the_limit(&app("sqlite").await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_requests_over_the_limit_get_503_then_recover() {
    over_the_limit(&app("postgres").await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_crowd_is_answered_and_loses_nothing() {
    crowd(&app("sqlite").await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_crowd_is_answered_and_loses_nothing() {
    crowd(&app("postgres").await).await
}

/// Asserts the load-shedding answer.
async fn assert_shed(r: reqwest::Response) {
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_code"], "TEMPORARILY_UNAVAILABLE", "{body}");
}

/// Every slot held by an upload whose body has not finished arriving; other requests are
/// turned away until the uploads end, then served again.
async fn over_the_limit(app: &TestApp) {
    let exp = app.experiment("busy").await;
    let mut senders = Vec::new();
    let mut uploads = Vec::new();
    for i in 0..SLOTS {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        tx.send(Ok(b"first part ".to_vec())).await.unwrap();
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let request = app
            .client
            .put(format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/{exp}/slow/{i}.txt",
                app.base
            ))
            .body(reqwest::Body::wrap_stream(stream));
        uploads.push(tokio::spawn(request.send()));
        senders.push(tx);
    }
    // Until every slot is taken, a probe may still get through; then all are refused.
    let mut refused = 0;
    while refused == 0 {
        let r = app
            .client
            .post(app.url("runs/search"))
            .json(&json!({"experiment_ids": [exp]}))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            assert_shed(r).await;
            refused += 1;
        } else {
            assert_eq!(r.status(), 200);
        }
    }
    let answers = join_all((0..20).map(|_| {
        app.client
            .post(app.url("runs/search"))
            .json(&json!({"experiment_ids": [exp]}))
            .send()
    }))
    .await;
    for r in answers {
        assert_shed(r.unwrap()).await;
    }
    // A UI page is shed the same way; health, readiness and metrics never are.
    assert_eq!(
        app.client
            .get(format!("{}/experiments/{exp}", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    for path in ["/health", "/ready", "/metrics"] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // The uploads finish and are stored; the server serves again.
    for tx in senders {
        tx.send(Ok(b"last part".to_vec())).await.unwrap();
    }
    for upload in uploads {
        assert_eq!(upload.await.unwrap().unwrap().status(), 200);
    }
    let (status, body) = app
        .post("runs/search", json!({"experiment_ids": [exp]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let r = app
        .client
        .get(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{exp}/slow/0.txt",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "first part last part");
}

/// 400 clients at once, each logging a metric point and searching, against 4 slots.
async fn crowd(app: &TestApp) {
    let exp = app.experiment("crowd").await;
    let run = app.run(&exp).await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let calls = (0..400).map(|step| {
        let client = client.clone();
        let app_url = app.url("");
        let run = run.clone();
        let exp = exp.clone();
        async move {
            let logged = client
                .post(format!("{app_url}runs/log-metric"))
                .json(&json!({"run_id": run, "key": "m", "value": step, "timestamp": 1, "step": step}))
                .send()
                .await
                .expect("answered, not hung up or timed out");
            let logged_status = logged.status().as_u16();
            if logged_status == 503 {
                assert_shed(logged).await;
            }
            let searched = client
                .post(format!("{app_url}runs/search"))
                .json(&json!({"experiment_ids": [exp], "filter": "metrics.m >= 0"}))
                .send()
                .await
                .expect("answered, not hung up or timed out");
            let searched_status = searched.status().as_u16();
            if searched_status == 503 {
                assert_shed(searched).await;
            }
            (step, logged_status, searched_status)
        }
    });
    let results: Vec<(i64, u16, u16)> = join_all(calls).await;
    let mut acknowledged: Vec<i64> = Vec::new();
    for (step, logged, searched) in &results {
        assert!(matches!(logged, 200 | 503), "log-metric answered {logged}");
        assert!(matches!(searched, 200 | 503), "search answered {searched}");
        if *logged == 200 {
            acknowledged.push(*step);
        }
    }
    let (status, history) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "m")],
        )
        .await;
    assert_eq!(status, 200);
    let mut stored: Vec<i64> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].as_i64().unwrap())
        .collect();
    stored.sort_unstable();
    acknowledged.sort_unstable();
    // Every acknowledged point is stored, once, and a shed call wrote nothing.
    assert_eq!(stored, acknowledged);
    // Recovery: with the crowd gone, everything is served.
    for _ in 0..3 {
        app.ok(
            "runs/log-metric",
            json!({"run_id": run, "key": "after", "value": 1, "timestamp": 1, "step": 0}),
        )
        .await;
    }
    let served = results.iter().filter(|r| r.1 == 200).count();
    eprintln!("crowd: {served}/400 log-metric calls served, the rest shed with 503");
}
