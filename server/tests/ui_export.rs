//! The runs grid's CSV export over HTTP, on SQLite and on PostgreSQL: every matching run
//! across SQL pages, once each, in the grid's order, with CSV quoting intact.

mod common;

use common::TestApp;
use serde_json::json;
use std::collections::HashSet;

on_both_backends!(
    export_streams_every_matching_run_once_in_order,
    export_refuses_bad_filters_with_the_servers_message,
    min_max_and_duration_filter_and_sort_in_sql
);

/// More than one SQL page of the export (500 runs a page).
const RUNS: usize = 520;

/// A value that needs every kind of CSV quoting.
const AWKWARD: &str = "a,\"b\"\nc ";

/// Reads RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty(),
        "CSV ends with a full line"
    );
    rows
}

async fn export(app: &TestApp, query: &str) -> (u16, String, String) {
    let r = app
        .client
        .get(format!("{}/export/runs.csv?{query}", app.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap())
}

async fn export_streams_every_matching_run_once_in_order(app: &TestApp) {
    let exp = app.experiment("export").await;
    let mut created = HashSet::new();
    for i in 0..RUNS {
        let run = app.run(&exp).await;
        let note = if i == 7 {
            AWKWARD.to_owned()
        } else {
            format!("n{i}")
        };
        app.ok(
            "runs/log-batch",
            json!({
                "run_id": run,
                "params": [{"key": "lr", "value": i.to_string()}, {"key": "note", "value": note}],
                "metrics": [
                    {"key": "loss", "value": i as f64 + 0.5, "timestamp": 1, "step": 0},
                    {"key": "loss", "value": i as f64, "timestamp": 2, "step": 1},
                ],
            }),
        )
        .await;
        created.insert(run);
    }
    let cols = "col=attributes.run_name&col=params.lr&col=params.note&col=metrics.loss\
                &col=metrics_max.loss&sort=metrics.loss&dir=asc";
    let (status, kind, body) = export(app, &format!("experiments={exp}&{cols}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let rows = parse_csv(&body);
    assert_eq!(
        rows[0],
        [
            "run_id",
            "experiment_id",
            "parent_run_id",
            "attributes.run_name",
            "params.lr",
            "params.note",
            "metrics.loss",
            "metrics_max.loss"
        ]
    );
    let data = &rows[1..];
    assert_eq!(data.len(), RUNS, "every run, not one page");
    let ids: HashSet<String> = data.iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, created, "each run exactly once");
    for (i, row) in data.iter().enumerate() {
        // Ordered by the latest loss, ascending: run i has loss i.
        assert_eq!(row[4], i.to_string(), "{row:?}");
        assert_eq!(row[6], i.to_string());
        assert_eq!(
            row[7],
            format!("{}", i as f64 + 0.5),
            "max from the summary"
        );
        assert_eq!(row[1], exp);
    }
    assert_eq!(data[7][5], AWKWARD, "quoting keeps the value intact");

    // The grid's column filters and query apply to the export.
    let (status, _, body) = export(
        app,
        &format!("experiments={exp}&{cols}&f.metrics.loss=%3C+10&q=params.note+LIKE+%27n%25%27"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows = parse_csv(&body);
    let lrs: Vec<&str> = rows[1..].iter().map(|r| r[4].as_str()).collect();
    assert_eq!(lrs, ["0", "1", "2", "3", "4", "5", "6", "8", "9"]);

    // An edited query (`query=`) is read the same way.
    let (_, _, body) = export(
        app,
        &format!("experiments={exp}&{cols}&query=metrics.loss+%3E%3D+518"),
    )
    .await;
    assert_eq!(parse_csv(&body).len(), 1 + 2);
}

async fn export_refuses_bad_filters_with_the_servers_message(app: &TestApp) {
    let exp = app.experiment("export-errors").await;
    for (query, words) in [
        (
            format!("experiments={exp}&f.metrics.loss=%3E+abc"),
            "Filter for loss",
        ),
        (
            format!("experiments={exp}&query=metrics.loss+%3C"),
            "position",
        ),
        (
            format!("experiments={exp}&sort=attributes.run_id"),
            "cannot be sorted",
        ),
        (
            format!("experiments={exp}&col=attributes.duration&f.attributes.duration=%3E+soon"),
            "Filter for Duration",
        ),
        ("experiments=99999".to_owned(), "99999"),
        (String::new(), "No experiment"),
    ] {
        let (status, _, body) = export(app, &query).await;
        assert_eq!(status, 400, "{query}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error_code"], "INVALID_PARAMETER_VALUE", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(words),
            "{query}: {body}"
        );
    }
}

/// The grid's own filters and orders (a metric's min and max, the duration), which
/// MLflow's grammar lacks, through the export (the grid's search): in SQL on both
/// backends, with NaN-only histories, missing metrics and unfinished runs never matching
/// and sorted last.
async fn min_max_and_duration_filter_and_sort_in_sql(app: &TestApp) {
    let exp = app.experiment("grid-only").await;
    // (name, loss history, duration in seconds or unfinished)
    let runs: [(&str, &[f64], Option<i64>); 6] = [
        ("a", &[0.5, 3.0, 1.0], Some(10)),
        ("b", &[0.1, 2.0], Some(100)),
        ("c", &[0.9], Some(50)),
        ("d", &[f64::NAN], Some(5)),
        ("e", &[], None),
        ("f", &[0.3, 0.7], Some(3600)),
    ];
    for (i, (name, history, seconds)) in runs.into_iter().enumerate() {
        // Ties (no value) keep the default order: the latest start first.
        let start = 1_000_000 + i as i64;
        let run = app
            .ok(
                "runs/create",
                json!({ "experiment_id": exp, "run_name": name, "start_time": start }),
            )
            .await["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let metrics: Vec<_> = history
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let value = if v.is_nan() { json!("NaN") } else { json!(v) };
                json!({ "key": "loss", "value": value, "timestamp": 1, "step": i })
            })
            .collect();
        if !metrics.is_empty() {
            app.ok(
                "runs/log-batch",
                json!({ "run_id": run, "metrics": metrics }),
            )
            .await;
        }
        if let Some(s) = seconds {
            app.ok(
                "runs/update",
                json!({ "run_id": run, "status": "FINISHED", "end_time": start + s * 1000 }),
            )
            .await;
        }
    }
    let cols =
        "col=attributes.run_name&col=attributes.duration&col=metrics_min.loss&col=metrics_max.loss";
    let names =
        |body: &str| -> Vec<String> { parse_csv(body)[1..].iter().map(|r| r[3].clone()).collect() };
    for (params, want) in [
        ("f.metrics_min.loss=%3C+0.4", vec!["b", "f"]),
        ("f.metrics_max.loss=%3E%3D+2", vec!["a", "b"]),
        ("f.metrics_max.loss=!%3D+3", vec!["b", "c", "f"]),
        (
            "f.attributes.duration=%3E+30s%2C+%3C%3D+1h",
            vec!["b", "c", "f"],
        ),
        // Together with the MLflow query and a column box of its own.
        (
            "f.attributes.duration=%3E+30s&f.metrics_min.loss=%3C+0.4&q=metrics.loss+%3E+0.5",
            vec!["b", "f"],
        ),
        (
            "sort=metrics_min.loss&dir=asc",
            vec!["b", "f", "a", "c", "e", "d"],
        ),
        (
            "sort=metrics_max.loss&dir=desc",
            vec!["a", "b", "c", "f", "e", "d"],
        ),
        (
            "sort=attributes.duration&dir=asc",
            vec!["d", "a", "c", "b", "f", "e"],
        ),
        (
            "sort=attributes.duration&dir=desc",
            vec!["f", "b", "c", "a", "d", "e"],
        ),
    ] {
        let (status, _, body) = export(app, &format!("experiments={exp}&{cols}&{params}")).await;
        assert_eq!(status, 200, "{params}: {body}");
        let mut got = names(&body);
        if !params.starts_with("sort") {
            // Filters only: compare as sets.
            got.sort();
        }
        assert_eq!(got, want, "{params}");
    }
    // A hidden column's grid-only filter goes with the column.
    let (_, _, body) = export(
        app,
        &format!("experiments={exp}&col=attributes.run_name&f.metrics_min.loss=%3C+0.4"),
    )
    .await;
    assert_eq!(names(&body).len(), 6);
}
