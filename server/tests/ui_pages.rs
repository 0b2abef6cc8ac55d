//! The web UI over HTTP, on SQLite and PostgreSQL: the `/plot.svg` image route (series,
//! downsampling of long histories, errors), the downsampling itself against the stored
//! points, and the server-rendered run, compare and registry pages.

mod common;

use common::{TestApp, assert_error};
use ferroflow::plot::downsample::{self, History, XColumn};
use ferroflow::plot::render::PLOT_PIXELS;
use serde_json::{Value, json};

on_both_backends!(
    plot_svg_draws_each_series_with_its_legend,
    long_histories_are_downsampled_keeping_min_and_max,
    plot_tiles_agree_with_the_points_and_bucket_long_spans,
    plot_svg_refuses_bad_parameters_and_unknown_runs,
    run_page_renders_on_the_server_and_unknown_runs_say_so,
    compare_and_registry_pages_render_on_the_server,
);

impl TestApp {
    async fn page(&self, path_and_query: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let r = self
            .client
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.text().await.unwrap(), headers)
    }

    /// A named run with `points` steps of `loss` (1/(step+1)) and `acc`, in batches.
    async fn run_with_history(&self, experiment: &str, name: &str, points: usize) -> String {
        let run = self
            .ok(
                "runs/create",
                json!({ "experiment_id": experiment, "run_name": name, "start_time": 1000 }),
            )
            .await["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let all: Vec<Value> = (0..points)
            .flat_map(|s| {
                [
                    json!({ "key": "loss", "value": 1.0 / (s as f64 + 1.0), "timestamp": 1_000 + s as i64 * 10, "step": s }),
                    json!({ "key": "acc", "value": s as f64 / points as f64, "timestamp": 1_000 + s as i64 * 10, "step": s }),
                ]
            })
            .collect();
        for chunk in all.chunks(1000) {
            self.ok("runs/log-batch", json!({ "run_id": run, "metrics": chunk }))
                .await;
        }
        run
    }
}

async fn plot_svg_draws_each_series_with_its_legend(app: &TestApp) {
    let exp = app.experiment("plots").await;
    let a = app.run_with_history(&exp, "run-a", 20).await;
    let b = app.run_with_history(&exp, "run-b", 30).await;
    let (status, svg, headers) = app
        .page(&format!(
            "/plot.svg?runs={a},{b}&keys=loss,acc&x=relative&scale=log&smooth=0.5"
        ))
        .await;
    assert_eq!(status, 200, "{svg}");
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert_eq!(headers["x-ferroflow-downsampled"], "false");
    assert!(svg.starts_with("<svg"), "{svg:.200}");
    for label in ["run-a · loss", "run-a · acc", "run-b · loss", "run-b · acc"] {
        assert!(svg.contains(label), "legend lacks {label}");
    }
    // Four smoothed lines, each with its raw line behind it, plus the legend's marks.
    assert!(svg.matches("<polyline").count() >= 8);
    // The metric a run never logged is a note, not an error.
    let (status, _, _) = app.page(&format!("/plot.svg?runs={a}&keys=nope")).await;
    assert_eq!(status, 200);
}

async fn long_histories_are_downsampled_keeping_min_and_max(app: &TestApp) {
    let exp = app.experiment("long").await;
    let points = 3 * PLOT_PIXELS;
    let run = app.run_with_history(&exp, "long-run", points).await;
    let (status, svg, headers) = app.page(&format!("/plot.svg?runs={run}&keys=loss")).await;
    assert_eq!(status, 200, "{svg}");
    assert_eq!(headers["x-ferroflow-downsampled"], "true");

    // The buckets, read straight from the store: every finite point counted once, at
    // most one bucket per pixel, and the extremes kept.
    let internal: i64 = sqlx::query_scalar("SELECT id FROM runs WHERE run_uuid = $1")
        .bind(&run)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    for column in [XColumn::Step, XColumn::Timestamp] {
        let History::Buckets(buckets) = downsample::load(
            &app.db,
            internal,
            "loss",
            column,
            points as i64,
            PLOT_PIXELS,
            2 * PLOT_PIXELS as i64,
        )
        .await
        .unwrap() else {
            panic!("a long history comes back as buckets");
        };
        assert!(buckets.len() <= PLOT_PIXELS && buckets.len() > PLOT_PIXELS / 2);
        assert_eq!(buckets.iter().map(|b| b.count).sum::<i64>(), points as i64);
        let max = buckets.iter().map(|b| b.max).fold(f64::MIN, f64::max);
        let min = buckets.iter().map(|b| b.min).fold(f64::MAX, f64::min);
        assert_eq!(max, 1.0);
        assert_eq!(min, 1.0 / points as f64);
        assert!(buckets.windows(2).all(|w| w[0].x_hi < w[1].x_lo));
    }

    // The page says so too.
    let (status, html, _) = app.page(&format!("/plot?runs={run}&keys=loss")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Downsampled"), "{html:.300}");
    assert!(html.contains("data-downsampled=\"true\""));
}

/// The plot tiles (`store::tiles`) after batches with NaN, infinities, negative steps, a
/// retried batch and a point repeated within a batch: every tile equals the same summary
/// computed afresh from the stored points; and a history spanning many steps is bucketed
/// from them, each bucket holding exactly the points of its x range.
async fn plot_tiles_agree_with_the_points_and_bucket_long_spans(app: &TestApp) {
    use ferroflow::store::tiles::{self, Axis, LEVELS};
    let exp = app.experiment("tiles").await;
    let run = app.run(&exp).await;
    let point = |i: i64| {
        let value = match i % 500 {
            7 => json!("NaN"),
            8 => json!("Infinity"),
            9 => json!("-Infinity"),
            _ => json!(((i * 37) % 1000) as f64 / 10.0 - 50.0),
        };
        json!({ "key": "m", "value": value, "timestamp": 25_000_000 - i * 7_000, "step": i * 300 - 450_000 })
    };
    let points: Vec<Value> = (0..3000).map(point).collect();
    for chunk in points.chunks(500) {
        app.ok("runs/log-batch", json!({ "run_id": run, "metrics": chunk }))
            .await;
    }
    // A retried batch, then old and new points together, one of them twice.
    app.ok(
        "runs/log-batch",
        json!({ "run_id": run, "metrics": &points[500..1000] }),
    )
    .await;
    let again = [points[0].clone(), point(3000), point(3001), point(3001)];
    app.ok("runs/log-batch", json!({ "run_id": run, "metrics": again }))
        .await;
    let finite = 3002 - 3 * 6;

    let internal: i64 = sqlx::query_scalar("SELECT id FROM runs WHERE run_uuid = $1")
        .bind(&run)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    type TileRow = (i64, i64, i64, f64, f64, f64, i64);
    for axis in Axis::BOTH {
        for level in LEVELS {
            let stored: Vec<TileRow> = sqlx::query_as(
                "SELECT tile, x_min, x_max, v_min, v_max, v_sum, n FROM metric_tiles \
                 WHERE run_id = $1 AND key = 'm' AND axis = $2 AND level = $3 ORDER BY tile",
            )
            .bind(internal)
            .bind(axis as i64)
            .bind(i64::from(level))
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
            let col = axis.column();
            let tile = tiles::tile_sql(col, tiles::width(level));
            let fresh: Vec<TileRow> = sqlx::query_as(&format!(
                "SELECT {tile}, MIN({col}), MAX({col}), MIN(value), MAX(value), SUM(value), COUNT(*) \
                 FROM metrics WHERE run_id = $1 AND key = 'm' AND {} GROUP BY {tile} ORDER BY 1",
                tiles::FINITE_SQL
            ))
            .bind(internal)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
            assert_eq!(stored.len(), fresh.len(), "{axis:?} level {level}");
            for (s, f) in stored.iter().zip(&fresh) {
                let same_but_sum = (s.0, s.1, s.2, s.3, s.4, s.6) == (f.0, f.1, f.2, f.3, f.4, f.6);
                assert!(
                    same_but_sum && (s.5 - f.5).abs() < 1e-6,
                    "{axis:?} {level}: {s:?} != {f:?}"
                );
            }
            let n: i64 = stored.iter().map(|t| t.6).sum();
            assert_eq!(n, finite, "{axis:?} level {level}");
        }
    }

    // 3,002 points over 900,600 steps (and 21,007,000 ms): more than 256 steps a pixel
    // bucket, so the buckets come from tiles.
    for column in [XColumn::Step, XColumn::Timestamp] {
        let History::Buckets(buckets) =
            downsample::load(&app.db, internal, "m", column, 3002, PLOT_PIXELS, 1800)
                .await
                .unwrap()
        else {
            panic!("a long history comes back as buckets");
        };
        assert!(
            buckets.len() <= PLOT_PIXELS && buckets.len() > PLOT_PIXELS / 4,
            "{}",
            buckets.len()
        );
        assert!(buckets.windows(2).all(|w| w[0].x_hi < w[1].x_lo));
        assert_eq!(buckets.iter().map(|b| b.count).sum::<i64>(), finite);
        let col = match column {
            XColumn::Step => "step",
            XColumn::Timestamp => "timestamp",
        };
        for b in &buckets {
            let (min, max, count): (f64, f64, i64) = sqlx::query_as(&format!(
                "SELECT MIN(value), MAX(value), COUNT(*) FROM metrics WHERE run_id = $1 \
                 AND key = 'm' AND {col} >= $2 AND {col} <= $3 AND {}",
                tiles::FINITE_SQL
            ))
            .bind(internal)
            .bind(b.x_lo)
            .bind(b.x_hi)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
            assert_eq!(
                (b.min, b.max, b.count),
                (min, max, count),
                "{column:?} {b:?}"
            );
        }
    }
    let (status, svg, headers) = app
        .page(&format!("/plot.svg?runs={run}&keys=m&x=wall"))
        .await;
    assert_eq!(status, 200, "{svg}");
    assert_eq!(headers["x-ferroflow-downsampled"], "true");
}

async fn plot_svg_refuses_bad_parameters_and_unknown_runs(app: &TestApp) {
    let exp = app.experiment("errors").await;
    let run = app.run_with_history(&exp, "r", 3).await;
    let json_of = |(status, body, _): (u16, String, _)| -> (u16, Value) {
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    };
    for (query, needle) in [
        (format!("runs={run}&keys=loss&x=epoch"), "epoch"),
        (format!("runs={run}&keys=loss&smooth=2"), "0.99"),
        (format!("runs={run}&keys=loss&scale=sqrt"), "sqrt"),
        (format!("runs={run}"), "metric"),
        ("keys=loss".to_owned(), "run"),
        ("runs=bad%20id&keys=loss".to_owned(), "Invalid run ID"),
    ] {
        let got = json_of(app.page(&format!("/plot.svg?{query}")).await);
        assert_error(&got, 400, "INVALID_PARAMETER_VALUE");
        assert!(
            got.1["message"].as_str().unwrap().contains(needle),
            "{query}: {}",
            got.1
        );
    }
    let got = json_of(
        app.page(&format!(
            "/plot.svg?runs={run},{}&keys=loss",
            "f".repeat(32)
        ))
        .await,
    );
    assert_error(&got, 404, "RESOURCE_DOES_NOT_EXIST");
}

async fn run_page_renders_on_the_server_and_unknown_runs_say_so(app: &TestApp) {
    let exp = app.experiment("pages").await;
    let run = app.run_with_history(&exp, "page-run", 5).await;
    app.ok(
        "runs/log-parameter",
        json!({ "run_id": run, "key": "lr", "value": "0.01" }),
    )
    .await;
    app.ok(
        "runs/set-tag",
        json!({ "run_id": run, "key": "mlflow.note.content", "value": "A careful run." }),
    )
    .await;
    let (status, html, _) = app.page(&format!("/runs/{run}")).await;
    assert_eq!(status, 200);
    for needle in [
        "page-run",
        "A careful run.",
        "lr",
        "0.01",
        "pages",
        "/plot?runs=",
    ] {
        assert!(html.contains(needle), "run page lacks {needle}");
    }
    let (_, html, _) = app.page(&format!("/runs/{}", "0".repeat(32))).await;
    assert!(html.contains("Run not found"));
}

async fn compare_and_registry_pages_render_on_the_server(app: &TestApp) {
    let exp = app.experiment("cmp").await;
    let a = app.run_with_history(&exp, "cmp-a", 4).await;
    let b = app.run_with_history(&exp, "cmp-b", 4).await;
    for (run, lr) in [(&a, "0.1"), (&b, "0.2")] {
        app.ok(
            "runs/log-parameter",
            json!({ "run_id": run, "key": "lr", "value": lr }),
        )
        .await;
        app.ok(
            "runs/log-parameter",
            json!({ "run_id": run, "key": "opt", "value": "adam" }),
        )
        .await;
    }
    let (status, html, _) = app.page(&format!("/compare?runs={a},{b}&diff=1")).await;
    assert_eq!(status, 200);
    assert!(html.contains("cmp-a") && html.contains("cmp-b"));
    assert!(html.contains("0.2"));
    assert!(
        !html.contains(">opt<"),
        "the same value is hidden with diff=1"
    );
    assert!(
        html.contains("<svg"),
        "overlaid plot and scatter are inline"
    );

    app.ok("registered-models/create", json!({ "name": "pages-model" }))
        .await;
    app.ok(
        "model-versions/create",
        json!({ "name": "pages-model", "source": format!("runs:/{a}/model"), "run_id": a }),
    )
    .await;
    let (_, html, _) = app.page("/models").await;
    assert!(html.contains("pages-model"));
    let (_, html, _) = app.page("/models/pages-model").await;
    assert!(html.contains("Version 1") && html.contains(&a));
    let (_, html, _) = app.page("/models/pages-model/versions/1").await;
    assert!(html.contains("pages-model version 1"));
    let (_, html, _) = app.page("/models/pages-model/versions/9").await;
    assert!(html.contains("Version not found"));
    let (_, html, _) = app.page(&format!("/runs/{a}")).await;
    assert!(html.contains("/models/pages-model/versions/1"));
}
