//! Hostile and malformed input, table-driven, on both backends: oversized bodies, deeply
//! nested JSON, invalid UTF-8, NaN and infinities in every numeric field, NUL bytes, SQL
//! injection through every filter field and order_by key of every search, path traversal
//! through every artifact path, and markup in every user-supplied text on every page.
//! The rule: a clear 4xx with MLflow's error JSON, never a 5xx; what is accepted is stored
//! and read back as sent, and nothing leaks past a filter.

mod common;

use common::{TestApp, raw, send_json};
use serde_json::{Value, json};

on_both_backends!(
    oversized_bodies_are_413_with_mlflow_json,
    deep_nesting_and_invalid_utf8_are_400,
    nan_and_infinities_in_every_numeric_field,
    nul_bytes_and_control_characters_are_refused_or_kept,
    sql_injection_through_every_filter_and_order_by,
    path_traversal_through_every_artifact_endpoint,
    markup_renders_as_text_on_every_page,
);

/// Asserts a 4xx MLflow error (JSON with a non-empty `error_code` and `message`).
fn assert_client_error(case: &str, status: u16, body: &Value) {
    assert!(
        (400..500).contains(&status),
        "{case}: expected a 4xx, got {status} {body}"
    );
    assert!(
        body["error_code"].as_str().is_some_and(|c| !c.is_empty())
            && body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}: not MLflow's error JSON: {body}"
    );
}

async fn oversized_bodies_are_413_with_mlflow_json(app: &TestApp) {
    let run = app.run(&app.experiment("big").await).await;
    // Just over the 32 MiB limit, inside a valid request.
    let value = "x".repeat(ferroflow::api::BODY_LIMIT);
    for prefix in ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] {
        let r = app
            .client
            .post(format!("{}{prefix}/runs/set-tag", app.base))
            .json(&json!({"run_id": run, "key": "k", "value": value}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 413, "{prefix}");
        // No Retry-After: urllib3 retries a 413 that carries one.
        assert!(r.headers().get("retry-after").is_none());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error_code"], "BAD_REQUEST", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("32 MiB"),
            "{body}"
        );
    }
    // Nothing of it was written; a body under the limit still is.
    assert!(
        app.get_run(&run).await["data"]["tags"]
            .as_array()
            .is_none_or(|t| t.iter().all(|t| t["key"] != "k"))
    );
    app.ok(
        "runs/set-tag",
        json!({"run_id": run, "key": "k", "value": "v"}),
    )
    .await;
}

async fn deep_nesting_and_invalid_utf8_are_400(app: &TestApp) {
    let exp = app.experiment("nest").await;
    let run = app.run(&exp).await;
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let deep_obj = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "experiments/create",
            format!("{{\"name\": {}}}", deep(100_000)).into_bytes(),
        ),
        (
            "runs/log-batch",
            format!("{{\"run_id\": \"{run}\", \"metrics\": {}}}", deep(5_000)).into_bytes(),
        ),
        // Free-form JSON fields (a dataset's profile and schema are strings, but a
        // client may send anything there).
        (
            "runs/log-inputs",
            format!(
                "{{\"run_id\": \"{run}\", \"datasets\": [{{\"dataset\": {}}}]}}",
                deep_obj(50_000)
            )
            .into_bytes(),
        ),
        (
            "runs/search",
            format!("{{\"experiment_ids\": {}}}", deep(10_000)).into_bytes(),
        ),
        // Invalid UTF-8 in a string, in a key, and a lone surrogate escape.
        (
            "experiments/create",
            b"{\"name\": \"bad \xff\xfe name\"}".to_vec(),
        ),
        (
            "runs/set-tag",
            format!("{{\"run_id\": \"{run}\", \"key\": \"k\", \"value\": \"")
                .into_bytes()
                .into_iter()
                .chain(*b"\xc3\x28\"}")
                .collect(),
        ),
        (
            "runs/set-tag",
            [
                format!("{{\"run_id\": \"{run}\", \"").as_bytes(),
                b"\xe2\x82",
                b"\": \"k\"}",
            ]
            .concat(),
        ),
        (
            "runs/set-tag",
            format!("{{\"run_id\": \"{run}\", \"key\": \"k\", \"value\": \"\\ud800\"}}")
                .into_bytes(),
        ),
        // Truncated, trailing garbage, not an object.
        ("runs/set-tag", b"{\"run_id\": ".to_vec()),
        (
            "runs/set-tag",
            format!("{{\"run_id\": \"{run}\", \"key\": \"k\", \"value\": \"v\"}} x").into_bytes(),
        ),
        ("runs/set-tag", b"[1, 2]".to_vec()),
        ("runs/set-tag", b"\"\\\"{\\\"a\\\": [[[[\"".to_vec()),
    ];
    for (endpoint, body) in bodies {
        let r = app
            .client
            .post(app.url(endpoint))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let answer: Value = r.json().await.unwrap_or(Value::Null);
        let mut shown = String::from_utf8_lossy(&body).into_owned();
        shown.truncate(80);
        assert_client_error(&format!("{endpoint} {shown}"), status, &answer);
    }
    // Invalid UTF-8 in query strings and paths, sent raw.
    for target in [
        "/api/2.0/mlflow/experiments/get-by-name?experiment_name=%FF%FE",
        "/api/2.0/mlflow/runs/get?run_id=%C3%28",
        "/api/2.0/mlflow/metrics/get-history?run_id=%FF&metric_key=%FF",
        "/api/2.0/mlflow/registered-models/search?filter=name%3D%27%FF%27",
        "/api/2.0/mlflow/logged-models/%FF%FE",
        "/api/2.0/mlflow-artifacts/artifacts/%FF%FE.txt",
    ] {
        let (status, body) = raw(&app.base, "GET", target, b"").await;
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_client_error(target, status, &body);
    }
    // The server still works, and nothing was created by the bad bodies.
    let (_, found) = app
        .post("experiments/search", json!({"max_results": 100}))
        .await;
    assert_eq!(found["experiments"].as_array().unwrap().len(), 2, "{found}");
}

async fn nan_and_infinities_in_every_numeric_field(app: &TestApp) {
    let exp = app.experiment("nan").await;
    let run = app.run(&exp).await;
    let model = "nan-model";
    app.ok("registered-models/create", json!({"name": model}))
        .await;
    app.ok(
        "model-versions/create",
        json!({"name": model, "source": format!("runs:/{run}/m"), "run_id": run}),
    )
    .await;
    let hostile = [
        json!("NaN"),
        json!("Infinity"),
        json!("-Infinity"),
        json!("nan"),
        json!("1e400"),
        json!(1e300),
        json!(-1e300),
        json!(1.5),
        json!("9223372036854775808"),
        json!([]),
        json!({}),
        json!(true),
    ];
    // (endpoint, body, the number in it) for every number a POST body takes.
    let bodies = [
        (
            "experiments/search",
            json!({"max_results": 0}),
            "/max_results",
        ),
        (
            "runs/create",
            json!({"experiment_id": exp, "start_time": 0}),
            "/start_time",
        ),
        (
            "runs/update",
            json!({"run_id": run, "end_time": 0}),
            "/end_time",
        ),
        (
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": 1.0, "timestamp": 0, "step": 0}),
            "/timestamp",
        ),
        (
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}),
            "/step",
        ),
        (
            "runs/log-batch",
            json!({"run_id": run, "metrics": [{"key": "m", "value": 1.0, "timestamp": 0, "step": 0}]}),
            "/metrics/0/timestamp",
        ),
        (
            "runs/log-batch",
            json!({"run_id": run, "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}]}),
            "/metrics/0/step",
        ),
        (
            "runs/search",
            json!({"experiment_ids": [exp], "max_results": 0}),
            "/max_results",
        ),
        (
            "logged-models/search",
            json!({"experiment_ids": [exp], "max_results": 0}),
            "/max_results",
        ),
        (
            "model-versions/transition-stage",
            json!({"name": model, "version": 0, "stage": "Staging"}),
            "/version",
        ),
    ];
    let mut wrong = Vec::new();
    for (endpoint, template, field) in &bodies {
        for x in &hostile {
            let mut sent = template.clone();
            *sent.pointer_mut(field).unwrap() = x.clone();
            let (status, answer) = app.post(endpoint, sent.clone()).await;
            // 1.5 and 1e300 are not int64 values; MLflow refuses them too.
            let ok = (400..500).contains(&status) && answer["error_code"].is_string();
            if !ok {
                wrong.push(format!("{endpoint} {sent} -> {status} {answer}"));
            }
        }
    }
    // Query-string numbers.
    let queries: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "metrics/get-history",
            vec![("run_id", run.clone()), ("metric_key", "m".into())],
        ),
        ("registered-models/search", vec![]),
        ("model-versions/search", vec![]),
    ];
    for (endpoint, base) in &queries {
        for x in ["NaN", "Infinity", "-Infinity", "1e400", "1.5", "0x10"] {
            let mut q: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
            q.push(("max_results", x));
            let (status, answer) = app.get(endpoint, &q).await;
            if !((400..500).contains(&status) && answer["error_code"].is_string()) {
                wrong.push(format!(
                    "GET {endpoint} max_results={x} -> {status} {answer}"
                ));
            }
        }
    }
    for x in ["NaN", "Infinity", "1e400", "1.5", "-1"] {
        let (status, answer) = app
            .get("model-versions/get", &[("name", model), ("version", x)])
            .await;
        if !((400..500).contains(&status) && answer["error_code"].is_string()) {
            wrong.push(format!(
                "GET model-versions/get version={x} -> {status} {answer}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "accepted or failed badly:\n{}",
        wrong.join("\n")
    );

    // Metric values are doubles: MLflow stores NaN and ±Infinity, and so do we.
    for (i, v) in ["NaN", "Infinity", "-Infinity"].iter().enumerate() {
        app.ok(
            "runs/log-metric",
            json!({"run_id": run, "key": "odd", "value": v, "timestamp": 5, "step": i}),
        )
        .await;
    }
    app.ok(
        "runs/log-batch",
        json!({"run_id": run, "metrics": [
            {"key": "odd2", "value": "NaN", "timestamp": 5, "step": 0},
            {"key": "odd2", "value": "-Infinity", "timestamp": 5, "step": 1},
        ]}),
    )
    .await;
    let (status, history) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "odd")],
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let values: Vec<&Value> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["value"])
        .collect();
    assert_eq!(
        values,
        [&json!("NaN"), &json!("Infinity"), &json!("-Infinity")]
    );
    // Searches over the NaN and infinite values still answer.
    for filter in ["metrics.odd > 0", "metrics.odd2 < 0", "metrics.odd = 'NaN'"] {
        let (status, answer) = app
            .post(
                "runs/search",
                json!({"experiment_ids": [exp], "filter": filter}),
            )
            .await;
        assert!(
            status == 200 || (400..500).contains(&status),
            "{filter}: {status} {answer}"
        );
    }
    let (status, found) = app
        .post(
            "runs/search",
            json!({"experiment_ids": [exp], "order_by": ["metrics.odd2 DESC"]}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
}

async fn nul_bytes_and_control_characters_are_refused_or_kept(app: &TestApp) {
    let exp = app.experiment("nul").await;
    let run = app.run(&exp).await;
    let texts = [
        "a\u{0}b",
        "\u{0}",
        "tab\there",
        "bell\u{7}",
        "\u{202e}rtl",
        "emoji 🦀",
        "\u{fffe}",
    ];
    let mut wrong = Vec::new();
    for text in texts {
        let writes = [
            ("experiments/create", json!({"name": text})),
            (
                "runs/set-tag",
                json!({"run_id": run, "key": "t", "value": text}),
            ),
            (
                "runs/log-parameter",
                json!({"run_id": run, "key": format!("p{}", text.len()), "value": text}),
            ),
            ("runs/update", json!({"run_id": run, "run_name": text})),
            (
                "experiments/set-experiment-tag",
                json!({"experiment_id": exp, "key": "t", "value": text}),
            ),
            ("registered-models/create", json!({"name": text})),
            (
                "runs/search",
                json!({"experiment_ids": [exp], "filter": format!("tags.t = '{text}'")}),
            ),
            (
                "experiments/search",
                json!({"filter": format!("name = '{text}'")}),
            ),
            ("experiments/get-by-name", json!({"experiment_name": text})),
        ];
        for (endpoint, body) in writes {
            let (status, answer) = if endpoint == "experiments/get-by-name" {
                app.get(endpoint, &[("experiment_name", text)]).await
            } else {
                app.post(endpoint, body.clone()).await
            };
            // Accepted (200), refused (400), or not there (404): never a 5xx. On
            // PostgreSQL, a NUL byte cannot be stored in text at all; it must be refused.
            let fine =
                status == 200 || ((400..500).contains(&status) && answer["error_code"].is_string());
            if !fine {
                wrong.push(format!("{endpoint} {body} -> {status} {answer}"));
            }
            if status == 200 && endpoint == "runs/set-tag" {
                let got = app.get_run(&run).await;
                let tag = got["data"]["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["key"] == "t")
                    .cloned();
                if tag.as_ref().map(|t| &t["value"]) != Some(&json!(text)) {
                    wrong.push(format!("{text:?} stored as {tag:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Strings built to break out of a quoted SQL literal or identifier, in the dialects of
/// both backends.
const INJECTIONS: [&str; 9] = [
    "x' OR '1'='1",
    "x\" OR \"1\"=\"1",
    "x`) OR 1=1 --",
    "x'; DROP TABLE runs; --",
    "x\\' OR 1=1 --",
    "x') UNION SELECT run_uuid FROM runs --",
    "x$1",
    "%' OR name LIKE '%",
    "x'||(SELECT 1)||'",
];

async fn sql_injection_through_every_filter_and_order_by(app: &TestApp) {
    let exp = app.experiment("inj").await;
    let mut runs = Vec::new();
    for i in 0..3 {
        let run = app.run(&exp).await;
        app.ok(
            "runs/log-batch",
            json!({"run_id": run,
            "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": 0}],
            "params": [{"key": "p", "value": format!("v{i}")}],
            "tags": [{"key": "t", "value": format!("v{i}")}]}),
        )
        .await;
        runs.push(run);
    }
    app.ok("registered-models/create", json!({"name": "inj-model"}))
        .await;
    app.ok(
        "model-versions/create",
        json!({"name": "inj-model", "source": format!("runs:/{}/m", runs[0]), "run_id": runs[0]}),
    )
    .await;
    let logged = app
        .ok("logged-models", json!({"experiment_id": exp, "name": "lm"}))
        .await["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let _ = logged;

    let mut wrong = Vec::new();
    // Every answer is either a 400 or a 200 that matched nothing (no run, experiment or
    // model has any of these keys or values).
    let mut check = |what: String, status: u16, answer: &Value, list: &str| {
        let fine = match status {
            200 => answer[list].as_array().is_none_or(|a| a.is_empty()),
            400 => answer["error_code"] == "INVALID_PARAMETER_VALUE",
            _ => false,
        };
        if !fine {
            wrong.push(format!("{what} -> {status} {answer}"));
        }
    };
    for inj in INJECTIONS {
        // Quoted as the filter grammar quotes (a doubled quote), so the whole string is
        // one literal: whatever it says must reach the database as data.
        let quoted = inj.replace('\'', "''");
        let backticked = inj.replace('`', "");
        let run_filters = [
            format!("attributes.run_name = '{quoted}'"),
            format!("attributes.run_name LIKE '{quoted}'"),
            format!("attributes.run_id IN ('{quoted}')"),
            format!("attributes.status = '{quoted}'"),
            format!("params.p = '{quoted}'"),
            format!("params.p ILIKE '{quoted}'"),
            format!("tags.t != '{quoted}' AND tags.t = '{quoted}'"),
            format!("tags.`{backticked}` = 'v0'"),
            format!("params.`{backticked}` = 'v0'"),
            format!("metrics.`{backticked}` > -1"),
            format!("tags.\"{}\" = 'v0'", inj.replace('"', "")),
            format!("datasets.name = '{quoted}'"),
            format!("{inj} = 'v0'"),
            inj.to_owned(),
        ];
        for filter in &run_filters {
            let (status, answer) = app
                .post(
                    "runs/search",
                    json!({"experiment_ids": [exp], "filter": filter}),
                )
                .await;
            check(
                format!("runs/search filter {filter}"),
                status,
                &answer,
                "runs",
            );
        }
        let exp_filters = [
            format!("name = '{quoted}'"),
            format!("name LIKE '{quoted}'"),
            format!("tags.`{backticked}` = 'x'"),
            format!("tags.t = '{quoted}'"),
        ];
        for filter in &exp_filters {
            let (status, answer) = app
                .post("experiments/search", json!({"filter": filter}))
                .await;
            check(
                format!("experiments/search filter {filter}"),
                status,
                &answer,
                "experiments",
            );
        }
        for filter in [
            format!("name = '{quoted}'"),
            format!("name ILIKE '{quoted}'"),
            format!("tags.`{backticked}` = 'x'"),
        ] {
            let (status, answer) = app
                .get("registered-models/search", &[("filter", &filter)])
                .await;
            check(
                format!("registered-models/search filter {filter}"),
                status,
                &answer,
                "registered_models",
            );
        }
        for filter in [
            format!("name = '{quoted}'"),
            format!("run_id = '{quoted}'"),
            format!("source_path = '{quoted}'"),
            format!("tags.`{backticked}` = 'x'"),
        ] {
            let (status, answer) = app
                .get("model-versions/search", &[("filter", &filter)])
                .await;
            check(
                format!("model-versions/search filter {filter}"),
                status,
                &answer,
                "model_versions",
            );
        }
        for filter in [
            format!("name = '{quoted}'"),
            format!("metrics.`{backticked}` > 0"),
            format!("params.`{backticked}` = 'x'"),
            format!("tags.`{backticked}` = 'x'"),
        ] {
            let (status, answer) = app
                .post(
                    "logged-models/search",
                    json!({"experiment_ids": [exp], "filter": filter}),
                )
                .await;
            check(
                format!("logged-models/search filter {filter}"),
                status,
                &answer,
                "models",
            );
        }
    }

    // order_by keys: refused, or accepted as a key nobody has (every row still returned,
    // none duplicated).
    let mut check_order = |what: String, status: u16, answer: &Value, list: &str, want: usize| {
        let fine = match status {
            200 => answer[list].as_array().map_or(0, Vec::len) == want,
            400 => answer["error_code"] == "INVALID_PARAMETER_VALUE",
            _ => false,
        };
        if !fine {
            wrong.push(format!("{what} -> {status} {answer}"));
        }
    };
    for inj in INJECTIONS {
        let key = inj.replace('`', "");
        for order in [
            format!("metrics.`{key}` DESC"),
            format!("params.`{key}`"),
            format!("tags.`{key}` ASC"),
            format!("attributes.{inj}"),
            format!("metrics.m {inj}"),
            inj.to_owned(),
        ] {
            let (status, answer) = app
                .post(
                    "runs/search",
                    json!({"experiment_ids": [exp], "order_by": [order]}),
                )
                .await;
            check_order(
                format!("runs/search order_by {order}"),
                status,
                &answer,
                "runs",
                3,
            );
            let (status, answer) = app
                .post("experiments/search", json!({"order_by": [order]}))
                .await;
            check_order(
                format!("experiments/search order_by {order}"),
                status,
                &answer,
                "experiments",
                2,
            );
            let (status, answer) = app
                .get("registered-models/search", &[("order_by", &order)])
                .await;
            check_order(
                format!("registered-models/search order_by {order}"),
                status,
                &answer,
                "registered_models",
                1,
            );
            let (status, answer) = app
                .get("model-versions/search", &[("order_by", &order)])
                .await;
            check_order(
                format!("model-versions/search order_by {order}"),
                status,
                &answer,
                "model_versions",
                1,
            );
        }
        let (status, answer) = app
            .post(
                "logged-models/search",
                json!({"experiment_ids": [exp],
                "order_by": [{"field_name": inj, "ascending": false}]}),
            )
            .await;
        check_order(
            format!("logged-models/search order_by {inj}"),
            status,
            &answer,
            "models",
            1,
        );
        let (status, answer) = app
            .post(
                "logged-models/search",
                json!({"experiment_ids": [exp],
                "order_by": [{"field_name": format!("metrics.{inj}")}]}),
            )
            .await;
        check_order(
            format!("logged-models/search order_by metrics.{inj}"),
            status,
            &answer,
            "models",
            1,
        );
        // Page tokens are opaque to clients; a forged one is a 400.
        let token = base64_text(&format!(
            "{{\"offset\": \"0; DROP TABLE runs\", \"x\": \"{inj}\"}}"
        ));
        let (status, answer) = app
            .post(
                "runs/search",
                json!({"experiment_ids": [exp], "page_token": token}),
            )
            .await;
        check_order(
            format!("runs/search page_token {inj}"),
            status,
            &answer,
            "runs",
            3,
        );
    }
    assert!(
        wrong.is_empty(),
        "{} cases:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Every table is intact and every run is still found.
    let (_, all) = app
        .post("runs/search", json!({"experiment_ids": [exp]}))
        .await;
    assert_eq!(all["runs"].as_array().unwrap().len(), 3);
    let (_, models) = app.get("registered-models/search", &[]).await;
    assert_eq!(models["registered_models"].as_array().unwrap().len(), 1);
}

fn base64_text(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn path_traversal_through_every_artifact_endpoint(app: &TestApp) {
    let exp = app.experiment("trav").await;
    let run = app.run(&exp).await;
    app.ok("registered-models/create", json!({"name": "trav"}))
        .await;
    app.ok(
        "model-versions/create",
        json!({"name": "trav", "source": format!("runs:/{run}/m"), "run_id": run}),
    )
    .await;
    let model = app
        .ok("logged-models", json!({"experiment_id": exp, "name": "lm"}))
        .await["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A file outside the destination, next to it, that a traversal would reach.
    let secret = app.artifacts_dir.parent().unwrap().join("secret.txt");
    std::fs::write(&secret, "SECRET").unwrap();
    let attempts = [
        "../secret.txt",
        "../../secret.txt",
        "../../../../../../secret.txt",
        "a/../../../../secret.txt",
        "%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "%252e%252e%252f%252e%252e%252fsecret.txt",
        "..%2f..%2f..%2fsecret.txt",
        "..%5c..%5csecret.txt",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "file:///etc/passwd",
        "C:%5cWindows",
        "a%00b",
    ];
    let mut wrong = Vec::new();
    for a in attempts {
        let targets = [
            format!("/api/2.0/mlflow/artifacts/list?run_id={run}&path={a}"),
            format!("/get-artifact?run_id={run}&path={a}"),
            format!("/model-versions/get-artifact?name=trav&version=1&path={a}"),
            format!(
                "/api/2.0/mlflow/logged-models/{model}/artifacts/directories?artifact_directory_path={a}"
            ),
            format!("/api/2.0/mlflow/logged-models/{model}/artifacts/files?artifact_file_path={a}"),
            format!("/api/2.0/mlflow-artifacts/artifacts?path={a}"),
            format!("/api/2.0/mlflow-artifacts/artifacts/{a}"),
            format!("/ajax-api/2.0/mlflow-artifacts/artifacts/{exp}/{a}"),
        ];
        for target in &targets {
            let (status, body) = raw(&app.base, "GET", target, b"").await;
            // 400 (refused) or 404 (a name inside the root that does not exist); never
            // the file, never a 5xx.
            if body.contains("SECRET")
                || body.contains("root:")
                || !(status == 400 || status == 404)
            {
                wrong.push(format!("GET {target} -> {status} {body}"));
            }
        }
        // After the experiment's folder, an absolute or URI-looking rest is a name inside
        // it (`1//etc/passwd` is `1/etc/passwd`): a write may succeed, but only there.
        for method in ["PUT", "DELETE"] {
            let target = format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/{a}");
            let (status, body) = raw(&app.base, method, &target, b"pwned").await;
            if !matches!(status, 200 | 400 | 404) {
                wrong.push(format!("{method} {target} -> {status} {body}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "SECRET");
    // Nothing was written outside the artifact destination.
    let mut stack = vec![app.artifacts_dir.parent().unwrap().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                if path != app.artifacts_dir {
                    stack.push(path);
                }
            } else {
                let text = std::fs::read(&path).unwrap_or_default();
                assert!(
                    !text.windows(5).any(|w| w == b"pwned"),
                    "{} was written",
                    path.display()
                );
            }
        }
    }
}

/// Markup that would run if a page put it into the document unescaped.
const MARKUP: &str = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">";

async fn markup_renders_as_text_on_every_page(app: &TestApp) {
    let exp = app.experiment(&format!("exp {MARKUP}")).await;
    app.ok(
        "experiments/set-experiment-tag",
        json!({"experiment_id": exp, "key": "mlflow.note.content", "value": MARKUP}),
    )
    .await;
    let mut runs = Vec::new();
    for i in 0..2 {
        let run = app
            .ok("runs/create", json!({"experiment_id": exp, "run_name": format!("run{i} {MARKUP}"), "start_time": 1000}))
            .await["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.ok("runs/log-batch", json!({"run_id": run,
            "metrics": [{"key": "loss", "value": 1, "timestamp": 1, "step": 0}, {"key": "loss", "value": 0.5, "timestamp": 2, "step": 1}],
            "params": [{"key": "p", "value": MARKUP}],
            "tags": [{"key": "t", "value": MARKUP}, {"key": "mlflow.note.content", "value": MARKUP}]}))
            .await;
        runs.push(run);
    }
    let model = "xss-model";
    app.ok(
        "registered-models/create",
        json!({"name": model, "description": MARKUP,
        "tags": [{"key": "t", "value": MARKUP}]}),
    )
    .await;
    app.ok(
        "model-versions/create",
        json!({"name": model, "source": format!("runs:/{}/m", runs[0]),
        "run_id": runs[0], "description": MARKUP, "tags": [{"key": "t", "value": MARKUP}]}),
    )
    .await;
    let both = runs.join(",");
    let pages = [
        "/".to_owned(),
        format!("/experiments/{exp}"),
        format!("/experiments/{exp}?col=params.p&col=tags.t"),
        format!("/runs/{}", runs[0]),
        format!("/compare?runs={both}"),
        format!("/compare?runs={both}&keys=p,t"),
        format!("/plot?runs={both}&keys=loss"),
        "/models".to_owned(),
        format!("/models/{model}"),
        format!("/models/{model}/versions/1"),
        "/admin".to_owned(),
        // Markup in the URL itself is echoed back as text too.
        format!(
            "/experiments/{exp}?q=tags.t%3D%27%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E%27"
        ),
        "/models?q=%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E".to_owned(),
    ];
    for page in &pages {
        let r = app
            .client
            .get(format!("{}{page}", app.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let html = r.text().await.unwrap();
        assert_eq!(status, 200, "{page}");
        for raw_markup in [
            "<script>window.__pwned",
            "<img src=x onerror",
            "</script><img",
        ] {
            assert!(
                !html.contains(raw_markup),
                "{page} has unescaped markup {raw_markup:?}"
            );
        }
    }
    // The markup is there, as text (the run page shows the name, the models page the
    // description).
    let html = app
        .client
        .get(format!("{}/runs/{}", app.base, runs[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
        "run name not shown as text"
    );
    let svg = app
        .client
        .get(format!("{}/plot.svg?runs={both}&keys=loss", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !svg.contains("<script>window.__pwned"),
        "plot.svg has unescaped markup"
    );
    let _ = send_json;
}
