//! The tracking API end to end over HTTP, on SQLite and on PostgreSQL.

mod common;

use common::{TestApp, assert_error};
use serde_json::{Value, json};

on_both_backends!(
    default_experiment_exists,
    experiments_are_created_read_renamed_and_tagged,
    experiment_errors_match_mlflow,
    deleting_an_experiment_takes_its_runs_and_restoring_brings_back_only_those,
    experiment_search_pages_and_filters_by_view,
    runs_are_created_updated_deleted_and_restored,
    run_name_and_tag_must_agree,
    metrics_keep_the_latest_by_step_then_timestamp_then_value,
    nan_and_infinities_round_trip,
    latest_values_read_back_exactly,
    retried_writes_do_not_duplicate,
    params_are_immutable,
    log_batch_is_all_or_nothing_and_enforces_limits,
    keys_and_values_are_validated,
    tags_are_set_renamed_and_deleted,
    writes_to_deleted_runs_are_refused,
    metric_history_pages_cover_everything_once,
    bulk_interval_samples_and_bulk_history_lists_runs,
    run_search_pages_and_projects_columns,
    datasets_are_linked_once,
    log_model_appends_history,
    requests_are_read_like_mlflow_reads_them,
    concurrent_single_point_writes_are_all_stored_once,
    a_failing_write_does_not_fail_the_writes_committed_with_it,
    coalesced_points_each_get_their_own_answer_and_count_once,
);

async fn default_experiment_exists(app: &TestApp) {
    let (status, body) = app.get("experiments/get", &[("experiment_id", "0")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["experiment"]["name"], "Default");
    assert_eq!(
        body["experiment"]["artifact_location"],
        "mlflow-artifacts:/0"
    );
    assert_eq!(body["experiment"]["lifecycle_stage"], "active");
}

async fn experiments_are_created_read_renamed_and_tagged(app: &TestApp) {
    let created = app
        .ok(
            "experiments/create",
            json!({"name": "vision", "tags": [{"key": "team", "value": "cv"}]}),
        )
        .await;
    let id = created["experiment_id"].as_str().unwrap().to_owned();
    let (_, got) = app
        .get("experiments/get-by-name", &[("experiment_name", "vision")])
        .await;
    assert_eq!(got["experiment"]["experiment_id"], id.as_str());
    assert_eq!(
        got["experiment"]["tags"],
        json!([{"key": "team", "value": "cv"}])
    );
    assert_eq!(
        got["experiment"]["artifact_location"],
        format!("mlflow-artifacts:/{id}")
    );

    app.ok(
        "experiments/update",
        json!({"experiment_id": id, "new_name": "vision-2"}),
    )
    .await;
    app.ok(
        "experiments/set-experiment-tag",
        json!({"experiment_id": id, "key": "owner", "value": "ana"}),
    )
    .await;
    app.ok(
        "experiments/delete-experiment-tag",
        json!({"experiment_id": id, "key": "team"}),
    )
    .await;
    let (_, got) = app.get("experiments/get", &[("experiment_id", &id)]).await;
    assert_eq!(got["experiment"]["name"], "vision-2");
    assert_eq!(
        got["experiment"]["tags"],
        json!([{"key": "owner", "value": "ana"}])
    );

    // Explicit artifact locations are kept as given.
    let (_, c) = app
        .post(
            "experiments/create",
            json!({"name": "custom", "artifact_location": "s3://b/p"}),
        )
        .await;
    let (_, got) = app
        .get(
            "experiments/get",
            &[("experiment_id", c["experiment_id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(got["experiment"]["artifact_location"], "s3://b/p");
}

async fn experiment_errors_match_mlflow(app: &TestApp) {
    app.experiment("dup").await;
    assert_error(
        &app.post("experiments/create", json!({"name": "dup"})).await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );
    assert_error(
        &app.post("experiments/create", json!({})).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post("experiments/create", json!({"name": "  "})).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.get("experiments/get", &[("experiment_id", "999")])
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let bad = app
        .get("experiments/get", &[("experiment_id", "abc")])
        .await;
    assert_error(&bad, 400, "INVALID_PARAMETER_VALUE");
    assert!(
        bad.1["message"]
            .as_str()
            .unwrap()
            .contains("must be a valid integer")
    );
    assert_error(
        &app.get("experiments/get-by-name", &[("experiment_name", "nope")])
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let other = app.experiment("other").await;
    assert_error(
        &app.post(
            "experiments/update",
            json!({"experiment_id": other, "new_name": "dup"}),
        )
        .await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &app.post(
            "experiments/delete-experiment-tag",
            json!({"experiment_id": other, "key": "missing"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    app.ok("experiments/delete", json!({"experiment_id": other}))
        .await;
    assert_error(
        &app.post(
            "experiments/update",
            json!({"experiment_id": other, "new_name": "x"}),
        )
        .await,
        500,
        "INVALID_STATE",
    );
    // A deleted experiment's name is still taken.
    assert_error(
        &app.post("experiments/create", json!({"name": "other"}))
            .await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );
    assert_error(
        &app.post("runs/create", json!({"experiment_id": other}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn deleting_an_experiment_takes_its_runs_and_restoring_brings_back_only_those(app: &TestApp) {
    let exp = app.experiment("lifecycle").await;
    let (a, b) = (app.run(&exp).await, app.run(&exp).await);
    app.ok("runs/delete", json!({"run_id": b})).await;
    // Timestamps are milliseconds; make the experiment's deletion time differ from b's.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.ok("experiments/delete", json!({"experiment_id": exp}))
        .await;
    assert_eq!(app.get_run(&a).await["info"]["lifecycle_stage"], "deleted");
    app.ok("experiments/restore", json!({"experiment_id": exp}))
        .await;
    assert_eq!(app.get_run(&a).await["info"]["lifecycle_stage"], "active");
    assert_eq!(
        app.get_run(&b).await["info"]["lifecycle_stage"],
        "deleted",
        "b was deleted on its own"
    );
    assert_error(
        &app.post("experiments/restore", json!({"experiment_id": exp}))
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    app.ok("experiments/delete", json!({"experiment_id": exp}))
        .await;
    assert_error(
        &app.post("experiments/delete", json!({"experiment_id": exp}))
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
}

async fn experiment_search_pages_and_filters_by_view(app: &TestApp) {
    for i in 0..5 {
        app.experiment(&format!("page-{i}")).await;
    }
    let gone = app.experiment("gone").await;
    app.ok("experiments/delete", json!({"experiment_id": gone}))
        .await;
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"max_results": 2});
        if let Some(t) = &token {
            body["page_token"] = json!(t);
        }
        let page = app.ok("experiments/search", body).await;
        for e in page["experiments"].as_array().unwrap() {
            names.push(e["name"].as_str().unwrap().to_owned());
        }
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(names.len(), 6, "5 created + Default: {names:?}");
    assert!(!names.contains(&"gone".to_owned()));
    let deleted = app
        .ok(
            "experiments/search",
            json!({"max_results": 10, "view_type": "DELETED_ONLY"}),
        )
        .await;
    assert_eq!(deleted["experiments"].as_array().unwrap().len(), 1);
    let all = app
        .get(
            "experiments/search",
            &[("max_results", "100"), ("view_type", "ALL")],
        )
        .await;
    assert_eq!(all.1["experiments"].as_array().unwrap().len(), 7);
    assert_error(
        &app.post("experiments/search", json!({"max_results": 0}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post("experiments/search", json!({"max_results": 50001}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "experiments/search",
            json!({"max_results": 5, "page_token": "garbage"}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn runs_are_created_updated_deleted_and_restored(app: &TestApp) {
    let exp = app.experiment("runs").await;
    let created = app
        .ok(
            "runs/create",
            json!({"experiment_id": exp, "run_name": "first", "user_id": "ana", "start_time": 1234,
                   "tags": [{"key": "mlflow.user", "value": "ana"}]}),
        )
        .await;
    let info = &created["run"]["info"];
    let id = info["run_id"].as_str().unwrap().to_owned();
    assert_eq!(info["run_uuid"], id.as_str());
    assert_eq!(info["run_name"], "first");
    assert_eq!(info["status"], "RUNNING");
    assert_eq!(info["start_time"], 1234);
    assert_eq!(info["user_id"], "ana");
    assert_eq!(
        info["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/{id}/artifacts")
    );
    let tags = &created["run"]["data"]["tags"];
    assert!(
        tags.as_array()
            .unwrap()
            .contains(&json!({"key": "mlflow.runName", "value": "first"}))
    );

    let updated = app
        .ok(
            "runs/update",
            json!({"run_id": id, "status": "FINISHED", "end_time": 2000, "run_name": "renamed"}),
        )
        .await;
    assert_eq!(updated["run_info"]["status"], "FINISHED");
    assert_eq!(updated["run_info"]["end_time"], 2000);
    assert_eq!(updated["run_info"]["run_name"], "renamed");
    let run = app.get_run(&id).await;
    assert!(
        run["data"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "mlflow.runName", "value": "renamed"}))
    );

    // Deleting twice succeeds (a retried call), restoring brings it back.
    app.ok("runs/delete", json!({"run_id": id})).await;
    app.ok("runs/delete", json!({"run_id": id})).await;
    assert_eq!(app.get_run(&id).await["info"]["lifecycle_stage"], "deleted");
    app.ok("runs/restore", json!({"run_id": id})).await;
    assert_eq!(app.get_run(&id).await["info"]["lifecycle_stage"], "active");

    // No experiment id: the Default experiment. No name: a generated one.
    let default = app.ok("runs/create", json!({})).await;
    assert_eq!(default["run"]["info"]["experiment_id"], "0");
    assert!(
        !default["run"]["info"]["run_name"]
            .as_str()
            .unwrap()
            .is_empty()
    );

    assert_error(
        &app.get(
            "runs/get",
            &[("run_id", "00000000000000000000000000000000")],
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.post("runs/update", json!({"run_id": id, "status": "BOGUS"}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post("runs/create", json!({"experiment_id": "404"}))
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    // The deprecated run_uuid field is accepted wherever run_id is.
    let (status, _) = app.get("runs/get", &[("run_uuid", &id)]).await;
    assert_eq!(status, 200);
}

async fn run_name_and_tag_must_agree(app: &TestApp) {
    let conflict = app
        .post(
            "runs/create",
            json!({"run_name": "a", "tags": [{"key": "mlflow.runName", "value": "b"}]}),
        )
        .await;
    assert_error(&conflict, 400, "INVALID_PARAMETER_VALUE");
    let from_tag = app
        .ok(
            "runs/create",
            json!({"tags": [{"key": "mlflow.runName", "value": "b"}]}),
        )
        .await;
    assert_eq!(from_tag["run"]["info"]["run_name"], "b");
    // Setting the tag renames the run.
    let id = from_tag["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        "runs/set-tag",
        json!({"run_id": id, "key": "mlflow.runName", "value": "c"}),
    )
    .await;
    assert_eq!(app.get_run(&id).await["info"]["run_name"], "c");
}

fn metric(run: &Value, key: &str) -> Value {
    run["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == key)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn metrics_keep_the_latest_by_step_then_timestamp_then_value(app: &TestApp) {
    let run = app.run("0").await;
    let log = |value: f64, timestamp: i64, step: i64| json!({"run_id": run, "key": "m", "value": value, "timestamp": timestamp, "step": step});
    app.ok("runs/log-metric", log(1.0, 100, 2)).await;
    app.ok("runs/log-metric", log(2.0, 500, 1)).await; // later timestamp, smaller step: not latest
    assert_eq!(metric(&app.get_run(&run).await, "m")["value"], 1.0);
    app.ok("runs/log-metric", log(3.0, 101, 2)).await; // same step, later timestamp: latest
    assert_eq!(metric(&app.get_run(&run).await, "m")["value"], 3.0);
    app.ok("runs/log-metric", log(4.0, 101, 2)).await; // same step and time, greater value
    assert_eq!(metric(&app.get_run(&run).await, "m")["value"], 4.0);
    app.ok("runs/log-metric", log(0.5, 101, 2)).await; // smaller value: not latest
    let m = metric(&app.get_run(&run).await, "m");
    assert_eq!(
        (
            m["value"].clone(),
            m["step"].clone(),
            m["timestamp"].clone()
        ),
        (json!(4.0), json!(2), json!(101))
    );
    // The summary agrees with the history.
    let run_id = ferroflow::store::runs::get_row(&app.db, &run)
        .await
        .unwrap()
        .id;
    let s = ferroflow::store::run_data::summaries(&app.db, &[run_id], None)
        .await
        .unwrap();
    assert_eq!(s[0].1.count, 5);
    assert_eq!(s[0].1.min, Some(0.5));
    assert_eq!(s[0].1.max, Some(4.0));
}

/// The latest value of each metric, as runs/get and runs/search return it, is the double
/// that was logged, to the last bit: pages read the summaries as text (see
/// `run_data::load_metrics`), and SQLite's JSON would keep only 15 digits.
async fn latest_values_read_back_exactly(app: &TestApp) {
    let exp = app.experiment("exact").await;
    let run = app.run(&exp).await;
    let logged: Vec<Value> = vec![
        json!(0.1 + 0.2),
        json!(1.0 / 3.0),
        json!(5e-324),
        json!(f64::MAX),
        json!(-1.0729132283643165e-38),
        json!(123456789.123456789),
        json!(-2.5),
        json!(0.0),
        json!(1e20),
        json!("NaN"),
        json!("Infinity"),
        json!("-Infinity"),
    ];
    let metrics: Vec<Value> = logged
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"key": format!("k{i:02}"), "value": v, "timestamp": 1, "step": 0}))
        .collect();
    app.ok("runs/log-batch", json!({"run_id": run, "metrics": metrics}))
        .await;
    let (_, got) = app.get("runs/get", &[("run_id", &run)]).await;
    let searched = app
        .ok("runs/search", json!({"experiment_ids": [exp]}))
        .await;
    for read in [&got["run"], &searched["runs"][0]] {
        let mut values: Vec<(String, Value)> = read["data"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["key"].as_str().unwrap().to_owned(), m["value"].clone()))
            .collect();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        let values: Vec<Value> = values.into_iter().map(|(_, v)| v).collect();
        assert_eq!(values.len(), logged.len(), "{read}");
        for (want, have) in logged.iter().zip(&values) {
            match (want.as_f64(), have.as_f64()) {
                (Some(w), Some(h)) => assert_eq!(w.to_bits(), h.to_bits(), "{w:e} read as {h:e}"),
                _ => assert_eq!(want, have),
            }
        }
    }
}

async fn nan_and_infinities_round_trip(app: &TestApp) {
    let run = app.run("0").await;
    for (i, v) in ["NaN", "Infinity", "-Infinity"].iter().enumerate() {
        app.ok(
            "runs/log-metric",
            json!({"run_id": run, "key": "x", "value": v, "timestamp": 1, "step": i}),
        )
        .await;
    }
    app.ok(
        "runs/log-metric",
        json!({"run_id": run, "key": "x", "value": 1.5, "timestamp": 1, "step": 3}),
    )
    .await;
    let (_, h) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "x")],
        )
        .await;
    let values: Vec<Value> = h["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].clone())
        .collect();
    assert_eq!(
        values,
        vec![
            json!("NaN"),
            json!("Infinity"),
            json!("-Infinity"),
            json!(1.5)
        ]
    );
    let run_id = ferroflow::store::runs::get_row(&app.db, &run)
        .await
        .unwrap()
        .id;
    let s = ferroflow::store::run_data::summaries(&app.db, &[run_id], None)
        .await
        .unwrap();
    assert_eq!(
        (s[0].1.min, s[0].1.max, s[0].1.count),
        (Some(f64::NEG_INFINITY), Some(f64::INFINITY), 4)
    );
    // A bool is not a number.
    assert_error(
        &app.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "x", "value": true, "timestamp": 1}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn retried_writes_do_not_duplicate(app: &TestApp) {
    let run = app.run("0").await;
    let batch = json!({"run_id": run,
        "metrics": [{"key": "a", "value": 1.0, "timestamp": 5, "step": 0}, {"key": "a", "value": 2.0, "timestamp": 6, "step": 1}],
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "t", "value": "v"}]});
    for _ in 0..3 {
        app.ok("runs/log-batch", batch.clone()).await;
        app.ok(
            "runs/log-metric",
            json!({"run_id": run, "key": "b", "value": 1.0, "timestamp": 1}),
        )
        .await;
        app.ok(
            "runs/log-parameter",
            json!({"run_id": run, "key": "q", "value": "x"}),
        )
        .await;
        app.ok(
            "runs/set-tag",
            json!({"run_id": run, "key": "u", "value": "w"}),
        )
        .await;
    }
    let (_, h) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "a")],
        )
        .await;
    assert_eq!(h["metrics"].as_array().unwrap().len(), 2);
    let (_, h) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "b")],
        )
        .await;
    assert_eq!(h["metrics"].as_array().unwrap().len(), 1);
    let r = app.get_run(&run).await;
    assert_eq!(r["data"]["params"].as_array().unwrap().len(), 2);
    let run_id = ferroflow::store::runs::get_row(&app.db, &run)
        .await
        .unwrap()
        .id;
    let s = ferroflow::store::run_data::summaries(&app.db, &[run_id], Some(&["a".into()]))
        .await
        .unwrap();
    assert_eq!(s[0].1.count, 2, "the summary counts each point once");
}

async fn params_are_immutable(app: &TestApp) {
    let run = app.run("0").await;
    app.ok(
        "runs/log-parameter",
        json!({"run_id": run, "key": "lr", "value": "0.1"}),
    )
    .await;
    app.ok(
        "runs/log-parameter",
        json!({"run_id": run, "key": "lr", "value": "0.1"}),
    )
    .await;
    let changed = app
        .post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.2"}),
        )
        .await;
    assert_error(&changed, 400, "INVALID_PARAMETER_VALUE");
    assert!(
        changed.1["message"]
            .as_str()
            .unwrap()
            .contains("Changing param values is not allowed")
    );
    // Long values are cut to MLflow's limit, then compared.
    let long = "v".repeat(7000);
    app.ok(
        "runs/log-parameter",
        json!({"run_id": run, "key": "long", "value": long}),
    )
    .await;
    app.ok(
        "runs/log-parameter",
        json!({"run_id": run, "key": "long", "value": long}),
    )
    .await;
    let r = app.get_run(&run).await;
    let stored = r["data"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "long")
        .unwrap()
        .clone();
    assert_eq!(stored["value"].as_str().unwrap().len(), 6000);
}

async fn log_batch_is_all_or_nothing_and_enforces_limits(app: &TestApp) {
    let run = app.run("0").await;
    app.ok(
        "runs/log-parameter",
        json!({"run_id": run, "key": "fixed", "value": "1"}),
    )
    .await;
    let bad = json!({"run_id": run,
        "metrics": [{"key": "lost", "value": 1.0, "timestamp": 1}],
        "params": [{"key": "fixed", "value": "2"}],
        "tags": [{"key": "lost_tag", "value": "x"}]});
    assert_error(
        &app.post("runs/log-batch", bad).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let r = app.get_run(&run).await;
    assert!(
        metric(&r, "lost").is_null(),
        "nothing of a refused batch is stored"
    );
    assert!(
        !r["data"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "lost_tag")
    );

    let many = |n: usize| {
        (0..n)
            .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
            .collect::<Vec<_>>()
    };
    let points = |n: usize| {
        (0..n)
            .map(|i| json!({"key": "m", "value": 1.0, "timestamp": 1, "step": i}))
            .collect::<Vec<_>>()
    };
    assert_error(
        &app.post(
            "runs/log-batch",
            json!({"run_id": run, "params": many(101)}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post("runs/log-batch", json!({"run_id": run, "tags": many(101)}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "runs/log-batch",
            json!({"run_id": run, "metrics": points(1001)}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "runs/log-batch",
            json!({"run_id": run, "metrics": points(950), "params": many(51)}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    app.ok(
        "runs/log-batch",
        json!({"run_id": run, "metrics": points(1000)}),
    )
    .await;
    app.ok(
        "runs/log-batch",
        json!({"run_id": run, "metrics": points(900), "params": many(100)}),
    )
    .await;
    let dup =
        json!({"run_id": run, "params": [{"key": "d", "value": "1"}, {"key": "d", "value": "1"}]});
    assert_error(
        &app.post("runs/log-batch", dup).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let missing = json!({"run_id": run, "metrics": [{"key": "m", "value": 1.0}]});
    assert_error(
        &app.post("runs/log-batch", missing).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn keys_and_values_are_validated(app: &TestApp) {
    let run = app.run("0").await;
    for key in ["bad*key", "../escape", "/abs", &"k".repeat(251)] {
        assert_error(
            &app.post(
                "runs/log-metric",
                json!({"run_id": run, "key": key, "value": 1.0, "timestamp": 1}),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
        assert_error(
            &app.post(
                "runs/set-tag",
                json!({"run_id": run, "key": key, "value": "v"}),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    app.ok(
        "runs/log-metric",
        json!({"run_id": run, "key": "ok/key: with-parts.1", "value": 1.0, "timestamp": 1}),
    )
    .await;
    assert_error(
        &app.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": 1.0}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": 1.0, "timestamp": -1}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "runs/log-metric",
            json!({"key": "m", "value": 1.0, "timestamp": 1}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "runs/log-metric",
            json!({"run_id": "bad id!", "key": "m", "value": 1.0, "timestamp": 1}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let long_tag = "t".repeat(9000);
    app.ok(
        "runs/set-tag",
        json!({"run_id": run, "key": "long", "value": long_tag}),
    )
    .await;
    let r = app.get_run(&run).await;
    let t = r["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "long")
        .unwrap()
        .clone();
    assert_eq!(t["value"].as_str().unwrap().len(), 8000);
}

async fn tags_are_set_renamed_and_deleted(app: &TestApp) {
    let run = app.run("0").await;
    app.ok(
        "runs/set-tag",
        json!({"run_id": run, "key": "stage", "value": "a"}),
    )
    .await;
    app.ok(
        "runs/set-tag",
        json!({"run_id": run, "key": "stage", "value": "b"}),
    )
    .await;
    let r = app.get_run(&run).await;
    assert!(
        r["data"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "stage", "value": "b"}))
    );
    app.ok("runs/delete-tag", json!({"run_id": run, "key": "stage"}))
        .await;
    let missing = app
        .post("runs/delete-tag", json!({"run_id": run, "key": "stage"}))
        .await;
    assert_error(&missing, 404, "RESOURCE_DOES_NOT_EXIST");
    assert!(
        missing.1["message"]
            .as_str()
            .unwrap()
            .contains("No tag with name: stage")
    );
}

async fn writes_to_deleted_runs_are_refused(app: &TestApp) {
    let run = app.run("0").await;
    app.ok("runs/delete", json!({"run_id": run})).await;
    for (path, body) in [
        (
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": 1.0, "timestamp": 1}),
        ),
        (
            "runs/log-parameter",
            json!({"run_id": run, "key": "p", "value": "1"}),
        ),
        (
            "runs/set-tag",
            json!({"run_id": run, "key": "t", "value": "1"}),
        ),
        (
            "runs/log-batch",
            json!({"run_id": run, "params": [{"key": "p", "value": "1"}]}),
        ),
        ("runs/update", json!({"run_id": run, "status": "FINISHED"})),
    ] {
        let got = app.post(path, body).await;
        assert_error(&got, 400, "INVALID_PARAMETER_VALUE");
        assert!(
            got.1["message"]
                .as_str()
                .unwrap()
                .contains("must be in the 'active' state"),
            "{path}: {}",
            got.1
        );
    }
}

async fn metric_history_pages_cover_everything_once(app: &TestApp) {
    let run = app.run("0").await;
    let points: Vec<Value> =
        (0..1000).map(|i| json!({"key": "loss", "value": i as f64 / 10.0, "timestamp": 1000 + i / 3, "step": i})).collect();
    app.ok("runs/log-batch", json!({"run_id": run, "metrics": points}))
        .await;
    let (_, all) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "loss")],
        )
        .await;
    assert_eq!(all["metrics"].as_array().unwrap().len(), 1000);
    assert!(all.get("next_page_token").is_none());
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let mut q = vec![
            ("run_id", run.as_str()),
            ("metric_key", "loss"),
            ("max_results", "333"),
        ];
        if !token.is_empty() {
            q.push(("page_token", token.as_str()));
        }
        let (status, page) = app.get("metrics/get-history", &q).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["step"].as_i64().unwrap()),
        );
        match page["next_page_token"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..1000).collect::<Vec<i64>>(),
        "ordered by timestamp then step, each once"
    );
    assert_error(
        &app.get(
            "metrics/get-history",
            &[
                ("run_id", &run),
                ("metric_key", "loss"),
                ("page_token", "junk"),
            ],
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let (_, none) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "nope")],
        )
        .await;
    assert_eq!(none, json!({}), "an empty history is {{}}, as in MLflow");
    // As in MLflow, an unknown run has an empty history rather than an error.
    let (status, unknown) = app
        .get(
            "metrics/get-history",
            &[("run_id", "0123456789abcdef"), ("metric_key", "loss")],
        )
        .await;
    assert_eq!((status, unknown), (200, json!({})));
}

async fn bulk_interval_samples_and_bulk_history_lists_runs(app: &TestApp) {
    let (a, b) = (app.run("0").await, app.run("0").await);
    for run in [&a, &b] {
        let points: Vec<Value> = (0..100)
            .map(|i| json!({"key": "acc", "value": i, "timestamp": i, "step": i}))
            .collect();
        app.ok("runs/log-batch", json!({"run_id": run, "metrics": points}))
            .await;
    }
    let url = format!(
        "{}?run_ids={a}&run_ids={b}&metric_key=acc&max_results=10",
        app.url("metrics/get-history-bulk-interval")
    );
    let body: Value = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metrics = body["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 20);
    let steps_a: Vec<i64> = metrics
        .iter()
        .filter(|m| m["run_id"] == a.as_str())
        .map(|m| m["step"].as_i64().unwrap())
        .collect();
    assert_eq!((steps_a.first(), steps_a.last()), (Some(&0), Some(&99)));
    let url = format!(
        "{}?run_ids={a}&metric_key=acc&start_step=10&end_step=19",
        app.url("metrics/get-history-bulk-interval")
    );
    let body: Value = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["metrics"].as_array().unwrap().len(), 10);
    let url = format!(
        "{}?run_ids={a}&metric_key=acc&start_step=10",
        app.url("metrics/get-history-bulk-interval")
    );
    let r = app.client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Runs come back in the order asked for, each by step then timestamp; every point at a
    // chosen step is kept (two at step 5 of b), and a run without the key adds nothing.
    app.ok(
        "runs/log-batch",
        json!({"run_id": b, "metrics": [{"key": "acc", "value": -1, "timestamp": 1000, "step": 5}]}),
    )
    .await;
    let c = app.run("0").await;
    let path = "metrics/get-history-bulk-interval";
    let (status, body) = app
        .get(
            path,
            &[
                ("run_ids", &b),
                ("run_ids", &c),
                ("run_ids", &a),
                ("metric_key", "acc"),
                ("start_step", "4"),
                ("end_step", "6"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let got: Vec<(String, i64, i64, f64)> = body["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["run_id"].as_str().unwrap().to_owned(),
                m["step"].as_i64().unwrap(),
                m["timestamp"].as_i64().unwrap(),
                m["value"].as_f64().unwrap(),
            )
        })
        .collect();
    let want = [
        (&b, 4, 4, 4.0),
        (&b, 5, 5, 5.0),
        (&b, 5, 1000, -1.0),
        (&b, 6, 6, 6.0),
        (&a, 4, 4, 4.0),
        (&a, 5, 5, 5.0),
        (&a, 6, 6, 6.0),
    ]
    .map(|(r, s, t, v)| (r.clone(), s, t, v));
    assert_eq!(got, want);

    // A run that does not exist fails the call with MLflow's not-found, naming it.
    let missing = "f".repeat(32);
    let (status, body) = app
        .get(
            path,
            &[
                ("run_ids", &a),
                ("run_ids", &missing),
                ("metric_key", "acc"),
            ],
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
    assert!(
        body["message"].as_str().unwrap().contains(&missing),
        "{body}"
    );

    // get-history-bulk exists under ajax-api only, as in MLflow.
    let ajax = format!(
        "{}/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={a}&run_id={b}&metric_key=acc",
        app.base
    );
    let body: Value = app
        .client
        .get(ajax)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // a's 100 points and b's 101.
    assert_eq!(body["metrics"].as_array().unwrap().len(), 201);
    assert!(body["metrics"][0]["run_id"].is_string());
    let api = format!(
        "{}/api/2.0/mlflow/metrics/get-history-bulk?run_id={a}&metric_key=acc",
        app.base
    );
    assert_eq!(app.client.get(api).send().await.unwrap().status(), 404);
}

async fn run_search_pages_and_projects_columns(app: &TestApp) {
    let exp = app.experiment("search").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let run = app
            .ok(
                "runs/create",
                json!({"experiment_id": exp, "start_time": 1000 + i}),
            )
            .await["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.ok(
            "runs/log-batch",
            json!({"run_id": run, "metrics": [{"key": "loss", "value": i, "timestamp": 1}, {"key": "acc", "value": 1, "timestamp": 1}],
                   "params": [{"key": "lr", "value": "0.1"}, {"key": "bs", "value": "32"}],
                   "tags": [{"key": "team", "value": "nlp"}]}),
        )
        .await;
        ids.push(run);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"experiment_ids": [exp], "max_results": 3});
        if let Some(t) = &token {
            body["page_token"] = json!(t);
        }
        let page = app.ok("runs/search", body).await;
        for r in page["runs"].as_array().unwrap() {
            seen.push(r["info"]["run_id"].as_str().unwrap().to_owned());
            assert_eq!(
                r["data"]["params"].as_array().unwrap().len(),
                2,
                "full response by default"
            );
        }
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(
        seen, newest_first,
        "default order: start_time DESC, every run once"
    );

    let projected = app
        .ok("runs/search", json!({"experiment_ids": [exp], "columns": ["metrics.loss", "params.lr"], "max_results": 1}))
        .await;
    let data = &projected["runs"][0]["data"];
    assert_eq!(data["metrics"].as_array().unwrap().len(), 1);
    assert_eq!(data["metrics"][0]["key"], "loss");
    assert_eq!(data["params"], json!([{"key": "lr", "value": "0.1"}]));
    assert_eq!(data["tags"], json!([]));
    let wildcard = app
        .ok(
            "runs/search",
            json!({"experiment_ids": [exp], "columns": ["tags.*"], "max_results": 1}),
        )
        .await;
    assert_eq!(
        wildcard["runs"][0]["data"]["tags"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "team + mlflow.runName"
    );
    assert_error(
        &app.post(
            "runs/search",
            json!({"experiment_ids": [exp], "columns": ["nonsense"]}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "runs/search",
            json!({"experiment_ids": [exp], "max_results": 50001}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post("runs/search", json!({"experiment_ids": ["x"]}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    app.ok("runs/delete", json!({"run_id": ids[0]})).await;
    let deleted = app
        .ok(
            "runs/search",
            json!({"experiment_ids": [exp], "run_view_type": "DELETED_ONLY"}),
        )
        .await;
    assert_eq!(deleted["runs"].as_array().unwrap().len(), 1);
    let all = app
        .ok(
            "runs/search",
            json!({"experiment_ids": [exp], "run_view_type": 3}),
        )
        .await;
    assert_eq!(all["runs"].as_array().unwrap().len(), 7);
}

async fn datasets_are_linked_once(app: &TestApp) {
    let run = app.run("0").await;
    let input = json!({"run_id": run, "datasets": [{
        "tags": [{"key": "mlflow.data.context", "value": "train"}],
        "dataset": {"name": "iris", "digest": "abc123", "source_type": "local", "source": "{\"uri\": \"/d\"}", "schema": "{}", "profile": "{\"rows\": 150}"}
    }]});
    app.ok("runs/log-inputs", input.clone()).await;
    app.ok("runs/log-inputs", input).await;
    let r = app.get_run(&run).await;
    let inputs = r["inputs"]["dataset_inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0]["dataset"]["name"], "iris");
    assert_eq!(inputs[0]["dataset"]["profile"], "{\"rows\": 150}");
    assert_eq!(
        inputs[0]["tags"],
        json!([{"key": "mlflow.data.context", "value": "train"}])
    );
    let bad = json!({"run_id": run, "datasets": [{"dataset": {"name": "x"}}]});
    assert_error(
        &app.post("runs/log-inputs", bad).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn log_model_appends_history(app: &TestApp) {
    let run = app.run("0").await;
    let model = json!({"artifact_path": "model", "flavors": {"python_function": {}}, "utc_time_created": "2026-01-01", "run_id": run});
    let body = json!({"run_id": run, "model_json": model.to_string()});
    app.ok("runs/log-model", body.clone()).await;
    app.ok("runs/log-model", body).await;
    let r = app.get_run(&run).await;
    let tag = r["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "mlflow.log-model.history")
        .unwrap()
        .clone();
    let history: Vec<Value> = serde_json::from_str(tag["value"].as_str().unwrap()).unwrap();
    assert_eq!(history, vec![model]);
    let incomplete = json!({"run_id": run, "model_json": "{\"artifact_path\": \"m\"}"});
    assert_error(
        &app.post("runs/log-model", incomplete).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "runs/log-model",
            json!({"run_id": run, "model_json": "not json"}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn requests_are_read_like_mlflow_reads_them(app: &TestApp) {
    // The ajax-api mirror serves the same handlers.
    let r = app
        .client
        .get(format!(
            "{}/ajax-api/2.0/mlflow/experiments/get?experiment_id=0",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // POST without a JSON content type is refused, as in MLflow.
    let r = app
        .client
        .post(app.url("experiments/create"))
        .body("{\"name\":\"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .client
        .post(app.url("experiments/create"))
        .header("content-type", "application/json; charset=utf-8")
        .body("{\"name\":\"charset\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // camelCase field names and ids as numbers are accepted; unknown fields ignored.
    let (status, body) = app
        .post(
            "experiments/create",
            json!({"name": "camel", "unknownField": 1}),
        )
        .await;
    assert_eq!(status, 200);
    let id: i64 = body["experiment_id"].as_str().unwrap().parse().unwrap();
    let (status, _) = app
        .post(
            "experiments/set-experiment-tag",
            json!({"experimentId": id, "key": "k", "value": "v"}),
        )
        .await;
    assert_eq!(status, 200);
    // A double-encoded body (a JSON string holding JSON) is decoded.
    let r = app
        .client
        .post(app.url("experiments/create"))
        .header("content-type", "application/json")
        .body(serde_json::to_string(&json!({"name": "double"}).to_string()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Malformed JSON and wrong types are 400 with MLflow's error body.
    let r = app
        .client
        .post(app.url("runs/create"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_code"], "INVALID_PARAMETER_VALUE");
    assert_error(
        &app.post("runs/create", json!({"tags": "nope"})).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    // Unknown endpoints: MLflow-style JSON 404.
    let r = app
        .client
        .get(format!("{}/api/2.0/mlflow/no/such/thing", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_code"], "ENDPOINT_NOT_FOUND");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("/api/2.0/mlflow/no/such/thing")
    );
    // Health and version.
    let health = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(health, "OK");
    let version = app
        .client
        .get(format!("{}/version", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

async fn concurrent_single_point_writes_are_all_stored_once(app: &TestApp) {
    let run = app.run("0").await;
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let client = app.client.clone();
        let url = app.url("runs/log-metric");
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let body =
                    json!({"run_id": run, "key": "c", "value": i, "timestamp": worker, "step": i});
                let r = client.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, h) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "c")],
        )
        .await;
    assert_eq!(h["metrics"].as_array().unwrap().len(), 800);
    let run_id = ferroflow::store::runs::get_row(&app.db, &run)
        .await
        .unwrap()
        .id;
    let s = ferroflow::store::run_data::summaries(&app.db, &[run_id], None)
        .await
        .unwrap();
    assert_eq!(s[0].1.count, 800);
    assert_eq!(s[0].1.step, 49);
}

async fn a_failing_write_does_not_fail_the_writes_committed_with_it(app: &TestApp) {
    // Writes that arrive together share a transaction; refused ones (a param change) are
    // interleaved with good ones, and each caller must get exactly its own outcome.
    let run = app.run("0").await;
    app.ok(
        "runs/log-parameter",
        json!({"run_id": run, "key": "fixed", "value": "0"}),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let client = app.client.clone();
        let (metric_url, param_url) = (app.url("runs/log-metric"), app.url("runs/log-parameter"));
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let (url, body, want) = if i % 3 == 0 {
                (
                    param_url,
                    json!({"run_id": run, "key": "fixed", "value": format!("changed-{i}")}),
                    400,
                )
            } else {
                (
                    metric_url,
                    json!({"run_id": run, "key": "ok", "value": i, "timestamp": 1, "step": i}),
                    200,
                )
            };
            let status = client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(status, want, "request {i}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, h) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "ok")],
        )
        .await;
    assert_eq!(h["metrics"].as_array().unwrap().len(), 40);
    let r = app.get_run(&run).await;
    assert_eq!(r["data"]["params"], json!([{"key": "fixed", "value": "0"}]));
}

async fn coalesced_points_each_get_their_own_answer_and_count_once(app: &TestApp) {
    // Concurrent single-point calls are coalesced into shared writes: calls for a deleted
    // or unknown run must fail alone, and a point sent twice at once (a client retrying
    // while the first attempt is still in flight) must be stored and counted once.
    let good = [app.run("0").await, app.run("0").await];
    let deleted = app.run("0").await;
    app.ok("runs/delete", json!({"run_id": deleted})).await;
    let unknown = "0123456789abcdef0123456789abcdef".to_owned();
    let mut tasks = Vec::new();
    for i in 0..240 {
        let client = app.client.clone();
        let url = app.url("runs/log-metric");
        let (run, want) = match i % 6 {
            0 => (deleted.clone(), 400),
            1 => (unknown.clone(), 404),
            n => (good[n % 2].clone(), 200),
        };
        // Every point is sent twice: steps repeat in pairs.
        let step = i / 2;
        tasks.push(tokio::spawn(async move {
            let body =
                json!({"run_id": run, "key": "p", "value": step, "timestamp": 7, "step": step});
            let status = client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(status, want, "request {i}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for run in &good {
        let (_, h) = app
            .get(
                "metrics/get-history",
                &[("run_id", run), ("metric_key", "p")],
            )
            .await;
        let steps: Vec<i64> = h["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["step"].as_i64().unwrap())
            .collect();
        let mut distinct = steps.clone();
        distinct.dedup();
        assert_eq!(steps, distinct, "no point is stored twice");
        let id = ferroflow::store::runs::get_row(&app.db, run)
            .await
            .unwrap()
            .id;
        let s = ferroflow::store::run_data::summaries(&app.db, &[id], None)
            .await
            .unwrap();
        assert_eq!(
            s[0].1.count,
            steps.len() as i64,
            "the summary counts each stored point once"
        );
        assert_eq!(s[0].1.step, *steps.iter().max().unwrap());
    }
    let (_, h) = app
        .get(
            "metrics/get-history",
            &[("run_id", &deleted), ("metric_key", "p")],
        )
        .await;
    assert!(
        h["metrics"].as_array().is_none_or(|m| m.is_empty()),
        "a refused point is not stored"
    );
}
