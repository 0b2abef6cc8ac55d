//! The artifact proxy and the tracking API's artifact endpoints over HTTP, on SQLite and
//! PostgreSQL: uploads, ranged downloads, listings, deletes, and every way of naming a
//! path outside the artifact root.

mod common;

use common::{TestApp, assert_error, raw};
use serde_json::{Value, json};

on_both_backends!(
    upload_list_download_and_delete,
    range_requests_answer_206_and_416,
    traversal_attempts_are_refused_and_write_nothing,
    tracking_endpoints_resolve_run_roots,
    uploads_are_not_bound_by_the_body_limit,
    missing_files_and_directories,
    a_file_and_a_directory_cannot_share_a_path,
    names_too_long_for_the_filesystem,
    server_info_and_multipart,
);

fn proxy(app: &TestApp, path: &str) -> String {
    format!("{}/api/2.0/mlflow-artifacts/artifacts/{path}", app.base)
}

async fn put(app: &TestApp, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let r = app
        .client
        .put(proxy(app, path))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// GETs an artifact through the proxy; status and body as text.
async fn download(app: &TestApp, path: &str) -> (u16, String) {
    raw(
        &app.base,
        "GET",
        &format!("/api/2.0/mlflow-artifacts/artifacts/{path}"),
        b"",
    )
    .await
}

async fn list(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(format!("{}/api/2.0/mlflow-artifacts/artifacts", app.base))
        .query(&[("path", path)])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn upload_list_download_and_delete(app: &TestApp) {
    assert_eq!(
        put(app, "1/run/artifacts/a.txt", "hello").await,
        (200, json!({}))
    );
    assert_eq!(put(app, "1/run/artifacts/dir/b.json", "{}").await.0, 200);
    assert_eq!(
        put(app, "1/run/artifacts/dir/sub/c.bin", vec![0u8; 3])
            .await
            .0,
        200
    );
    // Replacing a file is allowed.
    assert_eq!(
        put(app, "1/run/artifacts/a.txt", "hello again").await.0,
        200
    );

    let (status, body) = list(app, "1/run/artifacts").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"files": [{"path": "a.txt", "is_dir": false, "file_size": 11}, {"path": "dir", "is_dir": true}]})
    );
    assert_eq!(
        list(app, "1/run/artifacts/dir").await.1,
        json!({"files": [{"path": "b.json", "is_dir": false, "file_size": 2}, {"path": "sub", "is_dir": true}]})
    );
    assert_eq!(
        list(app, "1/run/artifacts/nothing-here").await,
        (200, json!({}))
    );

    let r = app
        .client
        .get(proxy(app, "1/run/artifacts/a.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"a.txt\""
    );
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.text().await.unwrap(), "hello again");
    let r = app
        .client
        .get(proxy(app, "1/run/artifacts/dir/sub/c.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/octet-stream");

    // Deleting a directory takes everything under it.
    let r = app
        .client
        .delete(proxy(app, "1/run/artifacts/dir"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        list(app, "1/run/artifacts").await.1,
        json!({"files": [{"path": "a.txt", "is_dir": false, "file_size": 11}]})
    );
    let r = app
        .client
        .delete(proxy(app, "1/run/artifacts/a.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(list(app, "1/run/artifacts").await.1, json!({}));
    // Deleting what is not there is no error, as in MLflow.
    assert_eq!(
        app.client
            .delete(proxy(app, "1/run/artifacts/gone"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(proxy(app, "1/run/artifacts/a.txt"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn ranged(app: &TestApp, path: &str, range: &str) -> (u16, Option<String>, Vec<u8>) {
    let r = app
        .client
        .get(proxy(app, path))
        .header("range", range)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_range = r
        .headers()
        .get("content-range")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, content_range, r.bytes().await.unwrap().to_vec())
}

async fn range_requests_answer_206_and_416(app: &TestApp) {
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    put(app, "1/r/artifacts/data.bin", data.clone()).await;
    put(app, "1/r/artifacts/empty.txt", "").await;
    let p = "1/r/artifacts/data.bin";
    assert_eq!(
        ranged(app, p, "bytes=0-9").await,
        (206, Some("bytes 0-9/1000".into()), data[0..10].to_vec())
    );
    assert_eq!(
        ranged(app, p, "bytes=990-").await,
        (206, Some("bytes 990-999/1000".into()), data[990..].to_vec())
    );
    assert_eq!(
        ranged(app, p, "bytes=-5").await,
        (206, Some("bytes 995-999/1000".into()), data[995..].to_vec())
    );
    assert_eq!(
        ranged(app, p, "bytes=998-5000").await,
        (206, Some("bytes 998-999/1000".into()), data[998..].to_vec())
    );
    assert_eq!(
        ranged(app, p, "bytes=1000-").await,
        (416, Some("bytes */1000".into()), Vec::new())
    );
    assert_eq!(ranged(app, p, "bytes=5000-6000").await.0, 416);
    assert_eq!(
        ranged(app, "1/r/artifacts/empty.txt", "bytes=0-").await.0,
        416
    );
    // Several ranges, or ones that do not parse, are answered with the whole file.
    assert_eq!(
        ranged(app, p, "bytes=0-1,5-6").await,
        (200, None, data.clone())
    );
    assert_eq!(ranged(app, p, "bytes=9-3").await, (200, None, data.clone()));
    assert_eq!(ranged(app, p, "lines=1-2").await, (200, None, data.clone()));
    let r = app
        .client
        .get(proxy(app, "1/r/artifacts/empty.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p))
            } else {
                out.push(p)
            }
        }
    }
    out
}

async fn traversal_attempts_are_refused_and_write_nothing(app: &TestApp) {
    let outside = app.artifacts_dir.parent().unwrap().to_owned();
    let before = files_under(&outside);
    let prefix = "/api/2.0/mlflow-artifacts/artifacts";
    // Sent raw, so neither `..` nor the escapes are normalised before the server sees them.
    let targets = [
        "../escape.txt",
        "1/../../escape.txt",
        "%2e%2e/escape.txt",
        "%2E%2E%2Fescape.txt",
        "%252e%252e/escape.txt",
        "1/%2e%2e/%2e%2e/escape.txt",
        "..%5cescape.txt",
        "1%5c..%5c..%5cescape.txt",
        "a%00b.txt",
        "%2Fetc%2Fescape.txt",
        "C:%5cescape.txt",
        "c:/escape.txt",
        "file:%2F%2F%2Ftmp%2Fescape.txt",
        "a%23b.txt",
    ];
    for target in targets {
        for method in ["PUT", "GET", "DELETE"] {
            let (status, body) = raw(&app.base, method, &format!("{prefix}/{target}"), b"x").await;
            // Some of these a router may refuse before the handler does; none may succeed.
            assert!(
                status == 400 || status == 404,
                "{method} {target}: {status} {body}"
            );
            if status == 400 {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                assert_eq!(
                    v["error_code"], "INVALID_PARAMETER_VALUE",
                    "{method} {target}: {body}"
                );
                assert!(
                    v["message"].as_str().unwrap().starts_with("Invalid path"),
                    "{body}"
                );
            }
        }
    }
    // The listing takes its path from the query string.
    for path in [
        "..",
        "../..",
        "1/../../x",
        "%2e%2e",
        "/etc",
        "a\\..\\..\\x",
        "a\0b",
        "C:\\x",
    ] {
        assert_error(&list(app, path).await, 400, "INVALID_PARAMETER_VALUE");
    }
    assert_eq!(
        files_under(&outside),
        before,
        "something was written outside the artifact root"
    );
    assert!(files_under(&app.artifacts_dir).is_empty());
}

async fn tracking_endpoints_resolve_run_roots(app: &TestApp) {
    let exp = app.experiment("arts").await;
    let run = app.run(&exp).await;
    let root = format!("{exp}/{run}/artifacts");
    assert_eq!(
        app.get_run(&run).await["info"]["artifact_uri"],
        format!("mlflow-artifacts:/{root}")
    );
    put(app, &format!("{root}/model/MLmodel"), "flavors: {}").await;
    put(app, &format!("{root}/notes.md"), "# hi").await;

    let (status, body) = app.get("artifacts/list", &[("run_id", &run)]).await;
    assert_eq!(status, 200);
    assert_eq!(body["root_uri"], format!("mlflow-artifacts:/{root}"));
    assert_eq!(
        body["files"],
        json!([{"path": "model", "is_dir": true}, {"path": "notes.md", "is_dir": false, "file_size": 4}])
    );
    let (_, body) = app
        .get("artifacts/list", &[("run_id", &run), ("path", "model")])
        .await;
    assert_eq!(
        body["files"],
        json!([{"path": "model/MLmodel", "is_dir": false, "file_size": 11}])
    );
    assert_error(
        &app.get("artifacts/list", &[("run_id", &run), ("path", "../..")])
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.get(
            "artifacts/list",
            &[("run_id", "0123456789abcdef0123456789abcdef")],
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.get("artifacts/list", &[]).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    let get_artifact = |path: &str| {
        app.client
            .get(format!("{}/get-artifact", app.base))
            .query(&[("run_id", run.as_str()), ("path", path)])
            .send()
    };
    let r = get_artifact("model/MLmodel").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"MLmodel\""
    );
    assert_eq!(r.text().await.unwrap(), "flavors: {}");
    assert_eq!(
        get_artifact("../../../etc/passwd").await.unwrap().status(),
        400
    );
    assert_eq!(
        get_artifact("model").await.unwrap().status(),
        400,
        "a directory is not a file"
    );

    // An experiment whose location this server does not serve.
    let (_, c) = app
        .post(
            "experiments/create",
            json!({"name": "elsewhere", "artifact_location": "s3://b/p"}),
        )
        .await;
    let other = app.run(c["experiment_id"].as_str().unwrap()).await;
    assert_error(
        &app.get("artifacts/list", &[("run_id", &other)]).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn uploads_are_not_bound_by_the_body_limit(app: &TestApp) {
    // Larger than the 32 MiB limit the JSON API has, and than one multipart part.
    let size = 40 * 1024 * 1024;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        put(app, "1/big/artifacts/big.bin", data.clone()).await.0,
        200
    );
    let r = app
        .client
        .get(proxy(app, "1/big/artifacts/big.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-length"], size.to_string().as_str());
    assert!(
        r.bytes().await.unwrap() == data,
        "the download differs from the upload"
    );
    let (status, _, tail) = ranged(
        app,
        "1/big/artifacts/big.bin",
        &format!("bytes={}-", size - 3),
    )
    .await;
    assert_eq!((status, tail), (206, data[size - 3..].to_vec()));
}

async fn missing_files_and_directories(app: &TestApp) {
    let (status, body) = download(app, "1/none.txt").await;
    assert_eq!(status, 404, "{body}");
    put(app, "1/d/f.txt", "x").await;
    let (status, body) = download(app, "1/d").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("directory"), "{body}");
    // The ajax mirror serves the same.
    let r = app
        .client
        .get(format!(
            "{}/ajax-api/2.0/mlflow-artifacts/artifacts/1/d/f.txt",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "x");
}

/// Found by schemathesis: on a filesystem, `1/f/x` when `1/f` is a file failed with
/// ENOTDIR, a 500. Reading through a file is a missing artifact; writing a file where a
/// directory is (or under a file) is the client's 400; nothing is lost either way.
async fn a_file_and_a_directory_cannot_share_a_path(app: &TestApp) {
    assert_eq!(put(app, "1/f", "file").await.0, 200);
    assert_eq!(put(app, "1/dir/inner.txt", "inner").await.0, 200);
    // Through a file: nothing there.
    let (status, body) = download(app, "1/f/x").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("RESOURCE_DOES_NOT_EXIST"), "{body}");
    let (status, listed) = list(app, "1/f").await;
    assert_eq!((status, listed), (200, json!({})));
    let (status, listed) = list(app, "1/f/x").await;
    assert_eq!((status, listed), (200, json!({})));
    // Writing under a file, or over a directory, is refused.
    let (status, body) = put(app, "1/f/x", "under a file").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_code"], "INVALID_PARAMETER_VALUE", "{body}");
    let (status, body) = put(app, "1/dir", "over a directory").await;
    assert_eq!(status, 400, "{body}");
    // Both are as they were.
    for (path, want) in [("1/f", "file"), ("1/dir/inner.txt", "inner")] {
        let r = app.client.get(proxy(app, path)).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), want, "{path}");
    }
    let r = app.client.delete(proxy(app, "1/f/x")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Found by schemathesis: a file name past the filesystem's 255 bytes failed with
/// ENAMETOOLONG, a 500. It is the client's 400 on every verb; a name just under the
/// limit is stored.
async fn names_too_long_for_the_filesystem(app: &TestApp) {
    let long = format!("1/{}", "Ω".repeat(150));
    let (status, body) = put(app, &long, "x").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("too long"),
        "{body}"
    );
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = app
            .client
            .request(method.clone(), proxy(app, &long))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 400 | 404),
            "{method}: {}",
            r.status()
        );
    }
    let (status, _) = list(app, &long).await;
    assert!(matches!(status, 200 | 400), "list: {status}");
    let fits = format!("1/{}", "a".repeat(200));
    assert_eq!(put(app, &fits, "fits").await.0, 200);
    let r = app.client.get(proxy(app, &fits)).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "fits");
}

async fn server_info_and_multipart(app: &TestApp) {
    for prefix in ["api", "ajax-api"] {
        let r = app
            .client
            .get(format!("{}/{prefix}/3.0/mlflow/server-info", app.base))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["store_type"], "SqlStore");
        assert_eq!(body["multipart_uploads_enabled"], false);
    }
    let r = app
        .client
        .post(format!(
            "{}/api/2.0/mlflow-artifacts/mpu/create/1/x.bin",
            app.base
        ))
        .json(&json!({"path": "x.bin", "num_parts": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error_code"],
        "NOT_IMPLEMENTED"
    );
}
