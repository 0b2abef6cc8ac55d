//! The admin pages: `/admin` (server facts, the maintenance jobs with their schedules and
//! last runs, "run now", and a dry run of what garbage collection would delete) and
//! `/admin/trash` (deleted experiments and runs, with restore and delete-now).
//!
//! Admins only: every method of the server's store (`server/src/ui/admin.rs`) refuses a
//! caller who is not an admin (under `--auth none` everyone is one).

use crate::pages::experiments::format_ms;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What `/admin` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub version: String,
    /// `SQLite` or `PostgreSQL`.
    pub database: String,
    pub schema_version: Option<i64>,
    /// The id of the replica that rendered the page.
    pub this_replica: String,
    pub replicas: Vec<ReplicaView>,
    pub jobs: Vec<JobView>,
    pub recent_runs: Vec<JobRunView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaView {
    pub id: String,
    pub host: String,
    pub version: String,
    pub last_seen: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub name: String,
    pub description: String,
    /// Its schedule, as the flags give it (`1h`).
    pub every: String,
    /// What the job is set to (`retention 30days`), if anything.
    pub setting: String,
    pub next_run_at: Option<i64>,
    /// The replica running it now, if one is.
    pub running_on: Option<String>,
    pub last_run: Option<JobRunView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRunView {
    pub job: String,
    pub holder: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub outcome: String,
    pub items: i64,
    pub error: Option<String>,
    pub dry_run: bool,
}

/// What garbage collection would delete now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GcPreview {
    pub retention: String,
    /// (id, name)
    pub experiments: Vec<(String, String)>,
    /// (run id, experiment id)
    pub runs: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrashItem {
    pub id: String,
    pub name: String,
    /// The experiment of a run; empty for experiments.
    pub experiment_id: String,
    pub deleted_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trash {
    pub experiments: Vec<TrashItem>,
    pub runs: Vec<TrashItem>,
}

/// What these pages need from the server (implemented in `server/src/ui/admin.rs`).
#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::pages::ssr::BoxFuture;
    use leptos::prelude::ServerFnError;
    use std::sync::Arc;

    pub trait AdminStore: Send + Sync + 'static {
        fn overview(&self) -> BoxFuture<'_, Result<AdminOverview, String>>;
        fn gc_preview(&self) -> BoxFuture<'_, Result<GcPreview, String>>;
        /// Makes a job due now; some replica runs it within a second.
        fn run_now(&self, job: String) -> BoxFuture<'_, Result<(), String>>;
        fn trash(&self) -> BoxFuture<'_, Result<Trash, String>>;
        /// `kind` is `experiment` or `run`.
        fn restore(&self, kind: String, id: String) -> BoxFuture<'_, Result<(), String>>;
        /// Deletes one trashed experiment or run for good, now (garbage collection of it).
        fn delete_now(&self, kind: String, id: String) -> BoxFuture<'_, Result<(), String>>;
    }

    /// The store, for a caller allowed to administer. Everyone is, until authentication
    /// exists; this is where the admin check goes.
    pub fn admin_store() -> Result<Arc<dyn AdminStore>, ServerFnError> {
        crate::pages::ssr::store::<dyn AdminStore>()
    }
}

#[server(prefix = "/_fn", endpoint = "load_admin_overview")]
pub async fn load_admin_overview() -> Result<AdminOverview, ServerFnError> {
    ssr::admin_store()?
        .overview()
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn", endpoint = "load_gc_preview")]
pub async fn load_gc_preview() -> Result<GcPreview, ServerFnError> {
    ssr::admin_store()?
        .gc_preview()
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn", endpoint = "run_job_now")]
pub async fn run_job_now(job: String) -> Result<(), ServerFnError> {
    ssr::admin_store()?
        .run_now(job)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn", endpoint = "list_trash")]
pub async fn list_trash() -> Result<Trash, ServerFnError> {
    ssr::admin_store()?
        .trash()
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn", endpoint = "restore_item")]
pub async fn restore_item(kind: String, id: String) -> Result<(), ServerFnError> {
    ssr::admin_store()?
        .restore(kind, id)
        .await
        .map_err(ServerFnError::new)
}

#[server(prefix = "/_fn", endpoint = "delete_item_now")]
pub async fn delete_item_now(kind: String, id: String) -> Result<(), ServerFnError> {
    ssr::admin_store()?
        .delete_now(kind, id)
        .await
        .map_err(ServerFnError::new)
}

fn when(ms: Option<i64>) -> String {
    ms.map(format_ms).unwrap_or_else(|| "—".into())
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let run_now = ServerAction::<RunJobNow>::new();
    let overview = Resource::new(move || run_now.version().get(), |_| load_admin_overview());
    let preview = Resource::new(|| (), |_| load_gc_preview());
    view! {
        <section class="page admin">
            <h1>"Administration"</h1>
            <p class="admin-nav"><a href="/admin/trash">"Trash: deleted experiments and runs"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Err(e) => view! { <p class="error" role="alert">{crate::pages::error_text(&e)}</p> }.into_any(),
                        Ok(o) => view! { <Overview o run_now/> }.into_any(),
                    }
                })}
            </Transition>
            <h2>"Garbage collection preview"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        Err(e) => view! { <p class="error" role="alert">{crate::pages::error_text(&e)}</p> }.into_any(),
                        Ok(p) => view! { <Preview p/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Overview(o: AdminOverview, run_now: ServerAction<RunJobNow>) -> impl IntoView {
    let this = o.this_replica.clone();
    view! {
        <h2>"Server"</h2>
        <dl class="facts" aria-label="Server facts">
            <dt>"Version"</dt><dd>{o.version}</dd>
            <dt>"Database"</dt><dd>{o.database}</dd>
            <dt>"Schema version"</dt><dd class="mono">{o.schema_version.map(|v| v.to_string()).unwrap_or_default()}</dd>
            <dt>"This replica"</dt><dd class="mono">{o.this_replica.clone()}</dd>
        </dl>
        <h3>"Replicas seen in the last 10 minutes"</h3>
        <table class="grid" aria-label="Replicas">
            <thead><tr><th>"Replica"</th><th>"Host"</th><th>"Version"</th><th>"Last seen"</th></tr></thead>
            <tbody>
                {o.replicas.into_iter().map(|r| {
                    let mark = if r.id == this { " (this one)" } else { "" };
                    view! {
                        <tr>
                            <td class="mono">{r.id}{mark}</td>
                            <td class="mono">{r.host}</td>
                            <td>{r.version}</td>
                            <td><time>{format_ms(r.last_seen)}</time></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Maintenance jobs"</h2>
        <table class="grid" aria-label="Jobs">
            <thead><tr><th>"Job"</th><th>"Every"</th><th>"Setting"</th><th>"Next due"</th><th>"Last run"</th><th>"Result"</th><th></th></tr></thead>
            <tbody>
                {o.jobs.into_iter().map(|j| {
                    let (last, result) = match &j.last_run {
                        None => ("never".to_owned(), String::new()),
                        Some(r) => (
                            format!("{} on {}", format_ms(r.started_at), r.holder),
                            match r.outcome.as_str() {
                                "ok" => format!("ok, {} item(s)", r.items),
                                "running" => "running".to_owned(),
                                _ => format!("failed: {}", r.error.clone().unwrap_or_default()),
                            },
                        ),
                    };
                    let status_class = j.last_run.as_ref().map(|r| format!("outcome-{}", r.outcome)).unwrap_or_default();
                    let next = match &j.running_on {
                        Some(h) => format!("running on {h}"),
                        None => when(j.next_run_at.filter(|t| *t > 0)),
                    };
                    let name = j.name.clone();
                    let label = format!("Run {name} now");
                    let row = j.name.clone();
                    view! {
                        <tr data-job=row>
                            <td><strong>{j.name}</strong><div class="muted">{j.description}</div></td>
                            <td>{j.every}</td>
                            <td>{j.setting}</td>
                            <td>{next}</td>
                            <td>{last}</td>
                            <td class=status_class>{result}</td>
                            <td>
                                <ActionForm action=run_now>
                                    <input type="hidden" name="job" value=name/>
                                    <button type="submit" aria-label=label>"Run now"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {move || run_now.value().get().map(|r| match r {
            Ok(()) => view! { <p class="notice" role="status">"Requested: a replica runs it within a second."</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{crate::pages::error_text(&e)}</p> }.into_any(),
        })}
        <h3>"Recent job runs"</h3>
        <table class="grid" aria-label="Recent job runs">
            <thead><tr><th>"Job"</th><th>"Replica"</th><th>"Started"</th><th>"Ended"</th><th>"Outcome"</th><th>"Items"</th><th>"Error"</th></tr></thead>
            <tbody>
                {o.recent_runs.into_iter().map(|r| view! {
                    <tr>
                        <td>{r.job}{if r.dry_run { " (dry run)" } else { "" }}</td>
                        <td class="mono">{r.holder}</td>
                        <td><time>{format_ms(r.started_at)}</time></td>
                        <td><time>{when(r.ended_at)}</time></td>
                        <td class=format!("outcome-{}", r.outcome)>{r.outcome.clone()}</td>
                        <td>{r.items}</td>
                        <td>{r.error.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Preview(p: GcPreview) -> impl IntoView {
    if p.experiments.is_empty() && p.runs.is_empty() {
        return view! {
            <p class="empty" data-testid="gc-preview">
                "Nothing has been deleted longer than the retention (" {p.retention} "): garbage collection would delete nothing."
            </p>
        }
        .into_any();
    }
    view! {
        <div data-testid="gc-preview">
            <p>
                "Deleted longer ago than " {p.retention.clone()} ", so the next garbage collection deletes for good "
                {p.experiments.len()} " experiment(s) and " {p.runs.len()} " run(s), with their artifacts:"
            </p>
            <ul class="mono">
                {p.experiments.into_iter().map(|(id, name)| view! { <li>"experiment " {id} " (" {name} ")"</li> }).collect_view()}
                {p.runs.into_iter().map(|(id, exp)| view! { <li>"run " {id} " (experiment " {exp} ")"</li> }).collect_view()}
            </ul>
        </div>
    }
    .into_any()
}

#[component]
pub fn TrashPage() -> impl IntoView {
    let restore = ServerAction::<RestoreItem>::new();
    let purge = ServerAction::<DeleteItemNow>::new();
    let trash = Resource::new(
        move || (restore.version().get(), purge.version().get()),
        |_| list_trash(),
    );
    view! {
        <section class="page admin">
            <h1>"Trash"</h1>
            <p class="admin-nav"><a href="/admin">"Back to administration"</a></p>
            <p class="muted">
                "Deleted experiments and runs stay here until garbage collection removes them for good. "
                "Restore brings one back; delete now removes it and its artifacts at once."
            </p>
            {move || restore.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{crate::pages::error_text(&e)}</p> })}
            {move || purge.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{crate::pages::error_text(&e)}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match trash.await {
                        Err(e) => view! { <p class="error" role="alert">{crate::pages::error_text(&e)}</p> }.into_any(),
                        Ok(t) => view! {
                            <h2>"Experiments"</h2>
                            <TrashTable items=t.experiments kind="experiment" restore purge/>
                            <h2>"Runs"</h2>
                            <TrashTable items=t.runs kind="run" restore purge/>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TrashTable(
    items: Vec<TrashItem>,
    kind: &'static str,
    restore: ServerAction<RestoreItem>,
    purge: ServerAction<DeleteItemNow>,
) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="empty">"No deleted " {kind} "s."</p> }.into_any();
    }
    let label = format!("Deleted {kind}s");
    view! {
        <table class="grid" aria-label=label>
            <thead>
                <tr>
                    <th>"Name"</th><th>"ID"</th>
                    {(kind == "run").then(|| view! { <th>"Experiment"</th> })}
                    <th>"Deleted"</th><th></th>
                </tr>
            </thead>
            <tbody>
                {items.into_iter().map(|item| {
                    let (id_restore, id_purge) = (item.id.clone(), item.id.clone());
                    let restore_label = format!("Restore {}", item.name);
                    let purge_label = format!("Delete {} now", item.name);
                    view! {
                        <tr>
                            <td class="name">{item.name}</td>
                            <td class="mono">{item.id}</td>
                            {(kind == "run").then(|| view! { <td>{item.experiment_id}</td> })}
                            <td><time>{when(item.deleted_at)}</time></td>
                            <td>
                                <div class="actions">
                                <ActionForm action=restore>
                                    <input type="hidden" name="kind" value=kind/>
                                    <input type="hidden" name="id" value=id_restore/>
                                    <button type="submit" aria-label=restore_label>"Restore"</button>
                                </ActionForm>
                                <ActionForm action=purge>
                                    <input type="hidden" name="kind" value=kind/>
                                    <input type="hidden" name="id" value=id_purge/>
                                    <button type="submit" class="danger" aria-label=purge_label>"Delete now"</button>
                                </ActionForm>
                                </div>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
