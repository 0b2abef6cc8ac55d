//! `ferroflow gc`, the binary, against the store of a running server: a dry run prints
//! what would go and deletes nothing, explicit ids that are not trash fail with MLflow's
//! message and delete nothing, a real run deletes and prints the same set.

mod common;

use common::TestApp;
use serde_json::json;
use std::process::Command;

on_both_backends!(gc_command_follows_mlflow_gc);

const DAY: i64 = 24 * 3600 * 1000;

fn gc(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(["gc", "--backend-store-uri", &app.store_uri])
        .arg("--artifacts-destination")
        .arg(&app.artifacts_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the ferroflow binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn age(app: &TestApp, sql: &str, id: &str) {
    sqlx::query(sql)
        .bind(ferroflow::store::now_ms() - 40 * DAY)
        .bind(id)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

async fn gc_command_follows_mlflow_gc(app: &TestApp) {
    let exp = app.experiment("cli").await;
    let active = app.run(&exp).await;
    let old = app.run(&exp).await;
    let recent = app.run(&exp).await;
    let upload = app
        .client
        .put(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{exp}/{old}/artifacts/f.txt",
            app.base
        ))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status().as_u16(), 200);
    for run in [&old, &recent] {
        app.ok("runs/delete", json!({"run_id": run})).await;
    }
    age(
        app,
        "UPDATE runs SET deleted_time = $1 WHERE run_uuid = $2",
        &old,
    )
    .await;
    let gone_exp = app.experiment("cli trash").await;
    app.ok("experiments/delete", json!({"experiment_id": gone_exp}))
        .await;
    age(
        app,
        "UPDATE experiments SET last_update_time = $1 WHERE CAST(experiment_id AS TEXT) = $2",
        &gone_exp,
    )
    .await;
    let file = app
        .artifacts_dir
        .join(format!("{exp}/{old}/artifacts/f.txt"));
    assert!(file.is_file());

    let (ok, out, err) = gc(app, &["--older-than", "30d", "--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("would delete run {old}")), "{out}");
    assert!(
        out.contains(&format!("would delete experiment {gone_exp} (cli trash)")),
        "{out}"
    );
    assert!(!out.contains(&recent) && !out.contains(&active), "{out}");
    assert!(
        out.contains("1 experiment(s) and 1 run(s) would be deleted"),
        "{out}"
    );
    assert_eq!(app.get("runs/get", &[("run_id", &old)]).await.0, 200);
    assert!(file.is_file());

    // Explicit ids must be trash (and old enough when an age is given).
    let (ok, _, err) = gc(app, &["--run-ids", &format!("{old},{active}")]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "Runs [{active}] are not in the deleted lifecycle stage"
        )),
        "{err}"
    );
    let (ok, _, err) = gc(app, &["--older-than", "30d", "--run-ids", &recent]);
    assert!(!ok);
    assert!(err.contains("not older than the required age"), "{err}");
    let (ok, _, err) = gc(app, &["--experiment-ids", &exp]);
    assert!(!ok);
    assert!(err.contains("not in the deleted lifecycle stage"), "{err}");
    let (ok, _, err) = gc(app, &["--older-than", "thirty days"]);
    assert!(!ok);
    assert!(err.contains("--older-than"), "{err}");
    assert_eq!(app.get("runs/get", &[("run_id", &old)]).await.0, 200);

    let (ok, out, err) = gc(app, &["--older-than", "30d"]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("deleted run {old}")), "{out}");
    assert!(
        out.contains(&format!("deleted experiment {gone_exp}")),
        "{out}"
    );
    assert!(
        out.contains("deleted 2 experiment(s) and run(s) of 2 planned"),
        "{out}"
    );
    assert_eq!(app.get("runs/get", &[("run_id", &old)]).await.0, 404);
    assert_eq!(
        app.get("experiments/get", &[("experiment_id", &gone_exp)])
            .await
            .0,
        404
    );
    assert!(!file.exists());
    for kept in [&active, &recent] {
        assert_eq!(app.get("runs/get", &[("run_id", kept)]).await.0, 200);
    }
    // Both recorded: the dry run with what it found, the real one with what it deleted.
    let runs = ferroflow::jobs::history::recent(&app.db, Some("gc"), 10)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(!runs[0].dry_run && runs[0].items == 2 && runs[0].outcome == "ok");
    assert!(runs[1].dry_run && runs[1].items == 2 && runs[1].outcome == "ok");
    assert!(runs[0].holder.starts_with("cli-"));
}
