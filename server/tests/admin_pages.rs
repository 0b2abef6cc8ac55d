//! The admin pages as the server renders them, and their server functions: server facts,
//! jobs, the gc preview, "run now", the trash with restore and delete-now.

mod common;

use common::TestApp;
use ferroflow::jobs::lease;
use serde_json::json;

on_both_backends!(admin_pages_render_and_act);

async fn page(app: &TestApp, path: &str) -> String {
    let r = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.text().await.unwrap()
}

/// Calls a server function as a form post (how the pages' forms send them).
async fn call(app: &TestApp, name: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .client
        .post(format!("{}/_fn/{name}", app.base))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn admin_pages_render_and_act(app: &TestApp) {
    let admin = page(app, "/admin").await;
    for text in [
        "Maintenance jobs",
        "gc",
        "reaper",
        "upkeep",
        "retention 30days",
        env!("CARGO_PKG_VERSION"),
    ] {
        assert!(admin.contains(text), "/admin lacks {text}");
    }
    let kind = if app.store_uri.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    assert!(admin.contains(kind));
    assert!(admin.contains("garbage collection would delete nothing"));

    // The trash lists deleted experiments and runs.
    let exp = app.experiment("trashed-exp").await;
    let run = app.run(&exp).await;
    let kept = app.experiment("kept-exp").await;
    let lone = app.run(&kept).await;
    app.ok("runs/delete", json!({"run_id": lone})).await;
    app.ok("experiments/delete", json!({"experiment_id": exp}))
        .await;
    let trash = page(app, "/admin/trash").await;
    assert!(trash.contains("trashed-exp"));
    assert!(trash.contains(&lone) && trash.contains(&run));
    assert!(!trash.contains("kept-exp"));

    // Restore brings the experiment (and its run) back; delete-now removes the lone run.
    let (status, body) = call(app, "restore_item", &[("kind", "experiment"), ("id", &exp)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get_run(&run).await["info"]["lifecycle_stage"], "active");
    let (status, body) = call(app, "delete_item_now", &[("kind", "run"), ("id", &lone)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get("runs/get", &[("run_id", &lone)]).await.0, 404);
    // Deleting something that is not in the trash is refused and deletes nothing.
    let (status, body) = call(app, "delete_item_now", &[("kind", "run"), ("id", &run)]).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("not in the deleted lifecycle stage"),
        "{body}"
    );
    assert_eq!(app.get_run(&run).await["info"]["status"], "RUNNING");
    let (status, body) = call(app, "restore_item", &[("kind", "model"), ("id", "1")]).await;
    assert_eq!(status, 500);
    assert!(body.contains("Cannot restore a 'model'"), "{body}");

    // "Run now" makes the job due at once; an unknown job is refused.
    let (status, body) = call(app, "run_job_now", &[("job", "reaper")]).await;
    assert_eq!(status, 200, "{body}");
    let lease = lease::get(&app.db, "reaper").await.unwrap().unwrap();
    assert_eq!(lease.next_run_at, 0);
    let (status, body) = call(app, "run_job_now", &[("job", "nope")]).await;
    assert_eq!(status, 500);
    assert!(body.contains("There is no job 'nope'"), "{body}");

    // The delete-now run is on the page as a gc run.
    let admin = page(app, "/admin").await;
    assert!(
        admin.contains("admin@"),
        "the delete-now is listed among job runs"
    );
}
