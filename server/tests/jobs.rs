//! Maintenance jobs against real databases: garbage collection removes exactly the old
//! trash (rows in every table and the artifact files) and nothing else, a dry run deletes
//! nothing and reports the same set, explicit ids must name deleted things; the reaper
//! fails stale RUNNING runs and spares one that keeps writing; a lease has one holder at a
//! time and is taken over once it expires; PostgreSQL's planner statistics are refreshed
//! once a table has grown, by one replica at a time.

mod common;

use common::TestApp;
use ferroflow::artifacts::Artifacts;
use ferroflow::jobs::gc::{self, GcRequest};
use ferroflow::jobs::{JobKind, Jobs, JobsConfig, history, lease, reaper, statistics};
use ferroflow::store::now_ms;
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(
    gc_removes_exactly_the_old_trash,
    gc_refuses_explicit_ids_that_are_not_trash,
    gc_deletes_large_runs_in_batches,
    reaper_fails_stale_runs_and_spares_writing_ones,
    lease_has_one_holder_and_expires,
    recorded_job_runs,
    planner_statistics_follow_growth,
);

const DAY: i64 = 24 * 3600 * 1000;

fn artifacts(app: &TestApp) -> Artifacts {
    Artifacts::open(app.artifacts_dir.to_str().unwrap()).unwrap()
}

async fn put_artifact(app: &TestApp, path: &str) {
    let r = app
        .client
        .put(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{path}",
            app.base
        ))
        .body("bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "upload {path}");
}

/// A run with something in every per-run table and an artifact file.
async fn full_run(app: &TestApp, exp: &str) -> String {
    let run = app.run(exp).await;
    app.ok(
        "runs/log-batch",
        json!({"run_id": run,
               "metrics": (0..20).map(|i| json!({"key": "loss", "value": i, "timestamp": 1000 + i, "step": i})).collect::<Vec<_>>(),
               "params": [{"key": "lr", "value": "0.1"}],
               "tags": [{"key": "team", "value": "nlp"}]}),
    )
    .await;
    // Long enough a history to have plot tiles (more than tiles::MIN_POINTS points).
    for first in [20, 620] {
        app.ok(
            "runs/log-batch",
            json!({"run_id": run,
                   "metrics": (first..first + 600).map(|i| json!({"key": "loss", "value": i, "timestamp": 1000 + i, "step": i})).collect::<Vec<_>>()}),
        )
        .await;
    }
    app.ok(
        "runs/log-inputs",
        json!({"run_id": run, "datasets": [{
            "tags": [{"key": "mlflow.data.context", "value": "train"}],
            "dataset": {"name": format!("d-{run}"), "digest": "abc", "source_type": "local", "source": "{}"}
        }]}),
    )
    .await;
    let model = app
        .ok("logged-models", json!({"experiment_id": exp, "name": "m", "source_run_id": run,
                                     "params": [{"key": "a", "value": "1"}], "tags": [{"key": "t", "value": "1"}]}))
        .await["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        "runs/outputs",
        json!({"run_id": run, "models": [{"model_id": model, "step": 0}]}),
    )
    .await;
    put_artifact(app, &format!("{exp}/{run}/artifacts/out.txt")).await;
    put_artifact(app, &format!("{exp}/models/{model}/artifacts/model.bin")).await;
    run
}

async fn scalar(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows a run has in each per-run table (and the run row itself).
async fn run_rows(app: &TestApp, run: &str) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "params",
        "tags",
        "metrics",
        "latest_metrics",
        "metric_tiles",
        "run_inputs",
        "run_input_tags",
        "run_model_outputs",
    ] {
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE run_id IN (SELECT id FROM runs WHERE run_uuid = $1)"
        );
        out.push((table, scalar(app, &sql, run).await));
    }
    out.push((
        "runs",
        scalar(app, "SELECT COUNT(*) FROM runs WHERE run_uuid = $1", run).await,
    ));
    out
}

async fn experiment_rows(app: &TestApp, exp: &str) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for (table, sql) in [
        (
            "experiments",
            "SELECT COUNT(*) FROM experiments WHERE CAST(experiment_id AS TEXT) = $1",
        ),
        (
            "experiment_tags",
            "SELECT COUNT(*) FROM experiment_tags WHERE CAST(experiment_id AS TEXT) = $1",
        ),
        (
            "datasets",
            "SELECT COUNT(*) FROM datasets WHERE CAST(experiment_id AS TEXT) = $1",
        ),
        (
            "logged_models",
            "SELECT COUNT(*) FROM logged_models WHERE CAST(experiment_id AS TEXT) = $1",
        ),
        (
            "logged_model_tags",
            "SELECT COUNT(*) FROM logged_model_tags WHERE model_id IN (SELECT model_id FROM logged_models WHERE CAST(experiment_id AS TEXT) = $1)",
        ),
        (
            "logged_model_params",
            "SELECT COUNT(*) FROM logged_model_params WHERE model_id IN (SELECT model_id FROM logged_models WHERE CAST(experiment_id AS TEXT) = $1)",
        ),
        (
            "runs",
            "SELECT COUNT(*) FROM runs WHERE CAST(experiment_id AS TEXT) = $1",
        ),
    ] {
        out.push((table, scalar(app, sql, exp).await));
    }
    out
}

fn all_zero(rows: &[(&str, i64)]) -> bool {
    rows.iter().all(|(_, n)| *n == 0)
}

fn all_present(rows: &[(&str, i64)]) -> bool {
    rows.iter().all(|(_, n)| *n > 0)
}

async fn age_run(app: &TestApp, run: &str, ms_ago: i64) {
    sqlx::query("UPDATE runs SET deleted_time = $1 WHERE run_uuid = $2")
        .bind(now_ms() - ms_ago)
        .bind(run)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

async fn age_experiment(app: &TestApp, exp: &str, ms_ago: i64) {
    let id: i64 = exp.parse().unwrap();
    sqlx::query("UPDATE experiments SET last_update_time = $1 WHERE experiment_id = $2")
        .bind(now_ms() - ms_ago)
        .bind(id)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

fn file(app: &TestApp, path: &str) -> bool {
    app.artifacts_dir.join(path).is_file()
}

fn thirty_days() -> Option<Duration> {
    Some(Duration::from_secs(30 * 24 * 3600))
}

async fn gc_removes_exactly_the_old_trash(app: &TestApp) {
    // Experiment A stays; in it an active run, a run deleted 40 days ago and one deleted
    // yesterday. Experiment B was deleted 40 days ago, C yesterday.
    let a = app.experiment("keep").await;
    app.ok(
        "experiments/set-experiment-tag",
        json!({"experiment_id": a, "key": "k", "value": "v"}),
    )
    .await;
    let active = full_run(app, &a).await;
    let old = full_run(app, &a).await;
    let recent = full_run(app, &a).await;
    // A registry version made from the old run keeps its reference, as in MLflow.
    app.ok("registered-models/create", json!({"name": "reg"}))
        .await;
    app.ok(
        "model-versions/create",
        json!({"name": "reg", "source": format!("runs:/{old}/model"), "run_id": old}),
    )
    .await;
    for run in [&old, &recent] {
        app.ok("runs/delete", json!({"run_id": run})).await;
    }
    age_run(app, &old, 40 * DAY).await;
    age_run(app, &recent, DAY).await;

    let b = app.experiment("old trash").await;
    app.ok(
        "experiments/set-experiment-tag",
        json!({"experiment_id": b, "key": "k", "value": "v"}),
    )
    .await;
    let b_runs = [full_run(app, &b).await, full_run(app, &b).await];
    app.ok("experiments/delete", json!({"experiment_id": b}))
        .await;
    age_experiment(app, &b, 40 * DAY).await;

    let c = app.experiment("recent trash").await;
    app.ok(
        "experiments/set-experiment-tag",
        json!({"experiment_id": c, "key": "k", "value": "v"}),
    )
    .await;
    let c_run = full_run(app, &c).await;
    app.ok("experiments/delete", json!({"experiment_id": c}))
        .await;
    age_experiment(app, &c, DAY).await;

    let before: Vec<_> = {
        let mut v = Vec::new();
        for r in [&active, &old, &recent, &b_runs[0], &b_runs[1], &c_run] {
            v.push(run_rows(app, r).await);
        }
        v
    };
    assert!(before.iter().all(|rows| all_present(rows)), "{before:?}");

    // The dry run names exactly the old trash and deletes nothing.
    let request = GcRequest {
        older_than: thirty_days(),
        ..Default::default()
    };
    let plan = gc::plan(&app.db, &request).await.unwrap();
    let mut planned_runs: Vec<&str> = plan.runs.iter().map(|r| r.run_uuid.as_str()).collect();
    planned_runs.sort_unstable();
    let mut expected = vec![old.as_str(), b_runs[0].as_str(), b_runs[1].as_str()];
    expected.sort_unstable();
    assert_eq!(planned_runs, expected);
    let planned_exps: Vec<String> = plan.experiments.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(planned_exps, std::slice::from_ref(&b));
    assert_eq!(plan.experiments[0].logged_models.len(), 2);
    let mut after_dry = Vec::new();
    for r in [&active, &old, &recent, &b_runs[0], &b_runs[1], &c_run] {
        after_dry.push(run_rows(app, r).await);
    }
    assert_eq!(before, after_dry, "a dry run deletes nothing");

    // The real collection deletes that set, rows and files.
    let deleted = gc::execute(&app.db, &artifacts(app), &plan, || Ok(()))
        .await
        .unwrap();
    assert_eq!(deleted, 4, "three runs and one experiment");
    assert_eq!(
        gc::plan(&app.db, &request).await.unwrap(),
        gc::GcPlan::default()
    );
    for gone in [&old, &b_runs[0], &b_runs[1]] {
        let rows = run_rows(app, gone).await;
        assert!(all_zero(&rows), "run {gone} left rows: {rows:?}");
        let (status, body) = app.get("runs/get", &[("run_id", gone)]).await;
        assert_eq!(status, 404, "{body}");
    }
    assert!(
        all_zero(&experiment_rows(app, &b).await),
        "{:?}",
        experiment_rows(app, &b).await
    );
    assert!(!file(app, &format!("{a}/{old}/artifacts/out.txt")));
    assert!(
        !app.artifacts_dir.join(&b).exists(),
        "experiment B's folder is gone"
    );

    // Everything else is untouched.
    for (i, kept) in [&active, &recent, &c_run].into_iter().enumerate() {
        let idx = [0, 2, 5][i];
        assert_eq!(
            run_rows(app, kept).await,
            before[idx],
            "run {kept} kept whole"
        );
    }
    assert!(file(app, &format!("{a}/{active}/artifacts/out.txt")));
    assert!(file(app, &format!("{a}/{recent}/artifacts/out.txt")));
    assert!(file(app, &format!("{c}/{c_run}/artifacts/out.txt")));
    for exp in [&a, &c] {
        let rows = experiment_rows(app, exp).await;
        assert!(all_present(&rows), "experiment {exp}: {rows:?}");
    }
    let versions = scalar(
        app,
        "SELECT COUNT(*) FROM model_versions WHERE run_id = $1",
        &old,
    )
    .await;
    assert_eq!(versions, 1, "registry versions keep their run reference");
    let (status, _) = app.get("experiments/get", &[("experiment_id", "0")]).await;
    assert_eq!(status, 200);

    // Without an age, everything deleted goes: the recent run and experiment C.
    let plan = gc::plan(&app.db, &GcRequest::default()).await.unwrap();
    assert_eq!(plan.items(), 3, "{plan:?}");
    gc::execute(&app.db, &artifacts(app), &plan, || Ok(()))
        .await
        .unwrap();
    assert!(all_zero(&run_rows(app, &recent).await));
    assert!(all_zero(&experiment_rows(app, &c).await));
    assert!(all_present(&run_rows(app, &active).await));
}

async fn gc_refuses_explicit_ids_that_are_not_trash(app: &TestApp) {
    let exp = app.experiment("e").await;
    let active = app.run(&exp).await;
    let recent = app.run(&exp).await;
    app.ok("runs/delete", json!({"run_id": recent})).await;
    let check = |request: GcRequest, words: &'static str| {
        let db = app.db.clone();
        async move {
            let e = gc::plan(&db, &request).await.expect_err(words);
            assert!(e.message.contains(words), "{}", e.message);
            e
        }
    };
    let e = check(
        GcRequest {
            run_ids: vec![active.clone()],
            ..Default::default()
        },
        "not in the deleted lifecycle stage",
    )
    .await;
    assert_eq!(e.code, app::models::ErrorCode::InvalidParameterValue);
    check(
        GcRequest {
            run_ids: vec![recent.clone()],
            older_than: thirty_days(),
            ..Default::default()
        },
        "not older than the required age",
    )
    .await;
    check(
        GcRequest {
            experiment_ids: vec![exp.clone()],
            ..Default::default()
        },
        "not in the deleted lifecycle stage",
    )
    .await;
    check(
        GcRequest {
            experiment_ids: vec!["999999".into()],
            ..Default::default()
        },
        "No Experiment with id=999999",
    )
    .await;
    check(
        GcRequest {
            run_ids: vec!["0123456789abcdef0123456789abcdef".into()],
            ..Default::default()
        },
        "not found",
    )
    .await;
    // Nothing was touched; naming the deleted run alone deletes it alone.
    let plan = gc::plan(
        &app.db,
        &GcRequest {
            run_ids: vec![recent.clone()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(plan.runs.len(), 1);
    assert!(plan.experiments.is_empty());
    gc::execute(&app.db, &artifacts(app), &plan, || Ok(()))
        .await
        .unwrap();
    assert_eq!(app.get("runs/get", &[("run_id", &recent)]).await.0, 404);
    assert_eq!(app.get_run(&active).await["info"]["status"], "RUNNING");
}

async fn gc_deletes_large_runs_in_batches(app: &TestApp) {
    // 12,600 points over three keys, many sharing a timestamp, so batches end in the
    // middle of a key and of a timestamp; a neighbour run with the same keys stays whole.
    let exp = app.experiment("big").await;
    let big = app.run(&exp).await;
    let neighbour = app.run(&exp).await;
    for run in [&big, &neighbour] {
        for key in ["a", "b", "c"] {
            for chunk in 0..5 {
                let n = if *run == big { 840 } else { 10 };
                let metrics: Vec<Value> = (0..n)
                    .map(|i| {
                        let step = chunk * 1000 + i;
                        json!({"key": key, "value": step, "timestamp": 1000 + step / 100, "step": step})
                    })
                    .collect();
                app.ok("runs/log-batch", json!({"run_id": run, "metrics": metrics}))
                    .await;
            }
        }
    }
    let count = |run: &str| {
        let run = run.to_owned();
        async move {
            scalar(
                app,
                "SELECT COUNT(*) FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE run_uuid = $1)",
                &run,
            )
            .await
        }
    };
    assert_eq!(count(&big).await, 12_600);
    assert_eq!(count(&neighbour).await, 150);
    app.ok("runs/delete", json!({"run_id": big})).await;
    let plan = gc::plan(&app.db, &GcRequest::default()).await.unwrap();
    assert_eq!(plan.items(), 1);
    // A job that loses its lease stops between batches and leaves the rest for later.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let stopped = gc::execute(&app.db, &artifacts(app), &plan, || {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 3 {
            Err(ferroflow::jobs::lease_lost("gc"))
        } else {
            Ok(())
        }
    })
    .await;
    assert!(stopped.is_err());
    let left = count(&big).await;
    assert!(
        left > 0 && left < 12_600,
        "{left} points left after two batches"
    );
    // The next collection finishes it.
    let plan = gc::plan(&app.db, &GcRequest::default()).await.unwrap();
    assert_eq!(
        gc::execute(&app.db, &artifacts(app), &plan, || Ok(()))
            .await
            .unwrap(),
        1
    );
    assert_eq!(count(&big).await, 0);
    assert!(all_zero(&run_rows(app, &big).await));
    assert_eq!(count(&neighbour).await, 150);
    // Its tags, points and summaries.
    assert!(all_present(&run_rows(app, &neighbour).await[1..4]));
}

async fn set_last_write(app: &TestApp, run: &str, ms_ago: i64) {
    sqlx::query("UPDATE runs SET last_write_time = $1 WHERE run_uuid = $2")
        .bind(now_ms() - ms_ago)
        .bind(run)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

async fn reaper_fails_stale_runs_and_spares_writing_ones(app: &TestApp) {
    let exp = app.experiment("r").await;
    let stale = app.run(&exp).await;
    let writing = app.run(&exp).await;
    let tagging = app.run(&exp).await;
    let finished = app.run(&exp).await;
    let fresh = app.run(&exp).await;
    app.ok(
        "runs/update",
        json!({"run_id": finished, "status": "FINISHED", "end_time": 5000}),
    )
    .await;
    for run in [&stale, &writing, &tagging, &finished] {
        set_last_write(app, run, 2 * DAY).await;
    }
    // Two runs write again: a single-point metric and a tag.
    app.ok(
        "runs/log-metric",
        json!({"run_id": writing, "key": "loss", "value": 1.0, "timestamp": 1, "step": 0}),
    )
    .await;
    app.ok(
        "runs/set-tag",
        json!({"run_id": tagging, "key": "k", "value": "v"}),
    )
    .await;

    let reaped = reaper::run(&app.db, Duration::from_secs(24 * 3600), || Ok(()))
        .await
        .unwrap();
    assert_eq!(reaped, 1);
    let info = app.get_run(&stale).await;
    assert_eq!(info["info"]["status"], "FAILED");
    assert!(info["info"]["end_time"].as_i64().unwrap() > now_ms() - DAY);
    let tags = info["data"]["tags"].as_array().unwrap();
    let reason = tags
        .iter()
        .find(|t| t["key"] == reaper::REAPED_TAG)
        .expect("the reaped tag")["value"]
        .as_str()
        .unwrap();
    assert!(reason.contains("no write for more than 1day"), "{reason}");
    for spared in [&writing, &tagging, &fresh] {
        assert_eq!(
            app.get_run(spared).await["info"]["status"],
            "RUNNING",
            "{spared}"
        );
    }
    let f = app.get_run(&finished).await;
    assert_eq!(f["info"]["status"], "FINISHED");
    assert_eq!(f["info"]["end_time"], json!(5000));
    // A second pass finds nothing more.
    assert_eq!(
        reaper::run(&app.db, Duration::from_secs(24 * 3600), || Ok(()))
            .await
            .unwrap(),
        0
    );
}

async fn lease_has_one_holder_and_expires(app: &TestApp) {
    let now = now_ms();
    let ttl = 10_000;
    // Two contenders at once: exactly one wins.
    let (a, b) = tokio::join!(
        lease::try_acquire(&app.db, "gc", "a", now, ttl),
        lease::try_acquire(&app.db, "gc", "b", now, ttl)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one holder: a={a} b={b}");
    let (winner, loser) = if a { ("a", "b") } else { ("b", "a") };
    // Held: neither can take it again, the holder renews, the other cannot.
    assert!(
        !lease::try_acquire(&app.db, "gc", loser, now + 1, ttl)
            .await
            .unwrap()
    );
    assert!(
        lease::renew(&app.db, "gc", winner, now + 5_000, ttl)
            .await
            .unwrap()
    );
    assert!(
        !lease::renew(&app.db, "gc", loser, now + 5_000, ttl)
            .await
            .unwrap()
    );
    // Renewed to now + 15s: still held at now + 12s, free after.
    assert!(
        !lease::try_acquire(&app.db, "gc", loser, now + 12_000, ttl)
            .await
            .unwrap()
    );
    assert!(!lease::looks_due(&app.db, "gc", now + 12_000).await.unwrap());
    assert!(lease::looks_due(&app.db, "gc", now + 15_000).await.unwrap());
    // The holder died: once expired, the other takes it over; the old holder's renewal
    // now fails, which stops its job.
    assert!(
        lease::try_acquire(&app.db, "gc", loser, now + 15_000, ttl)
            .await
            .unwrap()
    );
    assert!(
        !lease::renew(&app.db, "gc", winner, now + 15_001, ttl)
            .await
            .unwrap()
    );
    // Finishing sets the next due time: not due before it, even with the lease free.
    lease::finish(&app.db, "gc", loser, now + 60_000)
        .await
        .unwrap();
    assert!(
        !lease::try_acquire(&app.db, "gc", winner, now + 59_999, ttl)
            .await
            .unwrap()
    );
    assert!(!lease::looks_due(&app.db, "gc", now + 59_999).await.unwrap());
    // "Run now" makes it due at once.
    lease::request_now(&app.db, "gc").await.unwrap();
    assert!(
        lease::try_acquire(&app.db, "gc", winner, now + 16_000, ttl)
            .await
            .unwrap()
    );
    let held = lease::get(&app.db, "gc").await.unwrap().unwrap();
    assert_eq!(held.holder, winner);
    // Jobs are independent leases.
    assert!(
        lease::try_acquire(&app.db, "reaper", loser, now, ttl)
            .await
            .unwrap()
    );
    // Heartbeats list replicas seen since a time.
    lease::heartbeat(&app.db, "r1", "host-a:1", now, ttl)
        .await
        .unwrap();
    lease::heartbeat(&app.db, "r2", "host-b:2", now - 100_000, ttl)
        .await
        .unwrap();
    let seen = lease::replicas(&app.db, now - 1_000).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].id.as_str(), seen[0].host.as_str()),
        ("r1", "host-a:1")
    );
    assert_eq!(seen[0].version, env!("CARGO_PKG_VERSION"));
}

async fn recorded_job_runs(app: &TestApp) {
    let config = JobsConfig {
        enabled: false,
        ..JobsConfig::default()
    };
    let jobs = Jobs::new(app.db.clone(), artifacts(app), config, "test:0".into());
    for kind in JobKind::ALL {
        let items = jobs.run_recorded(kind, now_ms(), || Ok(())).await;
        assert!(items.is_ok(), "{kind:?}: {items:?}");
    }
    // A job that loses its lease mid-way fails and says so.
    let exp = app.experiment("x").await;
    let run = app.run(&exp).await;
    set_last_write(app, &run, 2 * DAY).await;
    let lost = jobs
        .run_recorded(JobKind::Reaper, now_ms(), || {
            Err(ferroflow::jobs::lease_lost("reaper"))
        })
        .await;
    assert!(lost.unwrap_err().contains("lost the lease"));
    assert_eq!(app.get_run(&run).await["info"]["status"], "RUNNING");
    let runs = history::recent(&app.db, None, 10).await.unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0].job, "reaper");
    assert_eq!(runs[0].outcome, "failed");
    assert!(runs[0].error.as_deref().unwrap().contains("lost the lease"));
    for r in &runs[1..] {
        assert_eq!(r.outcome, "ok", "{r:?}");
        assert_eq!(r.holder, jobs.holder);
        assert!(r.ended_at.unwrap() >= r.started_at);
        assert!(!r.dry_run);
    }
    let value: Value = json!(runs.iter().map(|r| r.job.clone()).collect::<Vec<_>>());
    assert!(value.to_string().contains("upkeep"));
}

async fn planner_statistics_follow_growth(app: &TestApp) {
    if app.db.backend == ferroflow::db::Backend::Sqlite {
        assert!(statistics::refresh(&app.db).await.unwrap().is_empty());
        return;
    }
    let exp = app.experiment("grows").await;
    let run = app.run(&exp).await;
    // 2,000 points in MLflow's batches of at most 1,000.
    for batch in 0..2 {
        let metrics: Vec<Value> = (batch * 1000..(batch + 1) * 1000)
            .map(|i| json!({"key": "loss", "value": i, "timestamp": i, "step": i}))
            .collect();
        app.ok("runs/log-batch", json!({"run_id": run, "metrics": metrics}))
            .await;
    }

    // Another replica at it: this one leaves the tables alone.
    let mut other = app.db.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(0x6665_7272_6f73_7461_i64)
        .execute(&mut *other)
        .await
        .unwrap();
    assert!(statistics::refresh(&app.db).await.unwrap().is_empty());
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(0x6665_7272_6f73_7461_i64)
        .execute(&mut *other)
        .await
        .unwrap();
    drop(other);
    // PostgreSQL counts changes with a delay (a backend reports them once idle), so the
    // refresh that analyzes `metrics` may not be the first.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let analyzed = loop {
        let tables = statistics::refresh(&app.db).await.unwrap();
        if tables.iter().any(|t| t == "metrics") {
            break tables;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics never analyzed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        analyzed
            .iter()
            .all(|t| statistics::TABLES.contains(&t.as_str()))
    );
    let analyzed_at: Option<String> = sqlx::query_scalar(
        "SELECT last_analyze::text FROM pg_stat_user_tables WHERE relname = 'metrics'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(analyzed_at.is_some());
    // Once the last changes are counted (and analyzed), the next checks leave the table
    // alone: ANALYZE starts its count afresh.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while statistics::refresh(&app.db)
        .await
        .unwrap()
        .iter()
        .any(|t| t == "metrics")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "metrics analyzed again and again"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for _ in 0..3 {
        let again = statistics::refresh(&app.db).await.unwrap();
        assert!(!again.iter().any(|t| t == "metrics"), "{again:?}");
    }
}
