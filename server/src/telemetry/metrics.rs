//! Prometheus metrics. Code records through the `metrics` facade (`counter!`, `gauge!`,
//! `histogram!`); `metrics-exporter-prometheus` keeps the values and renders them for
//! `GET /metrics`, which axum serves (the exporter runs no listener of its own).
//!
//! The recorder is global to the process: it is installed once (`handle`) and every
//! application built in the process shares it, which is what tests that start many
//! servers in one process need. The series names below are a contract with dashboards
//! and alerts: change them only with a note in the README.

use crate::db::Db;
use crate::search::Backend;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// `{route,method,status}`: requests answered. `route` is the route's template.
pub const HTTP_REQUESTS: &str = "ferroflow_http_requests_total";
/// `{route,method}`: time from the request's arrival to its response's head.
pub const HTTP_DURATION: &str = "ferroflow_http_request_duration_seconds";
/// Requests being handled now.
pub const HTTP_IN_FLIGHT: &str = "ferroflow_http_requests_in_flight";
/// `{pool,state=idle|in_use}`: connections open, sampled at scrape time.
pub const DB_POOL_CONNECTIONS: &str = "ferroflow_db_pool_connections";
/// `{pool}`: the most connections the pool opens.
pub const DB_POOL_MAX: &str = "ferroflow_db_pool_max_connections";
/// `{pool}`: acquisitions that found no idle connection, and how long they waited.
pub const DB_POOL_WAIT: &str = "ferroflow_db_pool_acquire_wait_seconds";
/// Metric points, params and tags of runs, counted once their write committed.
pub const POINTS_WRITTEN: &str = "ferroflow_metric_points_written_total";
pub const PARAMS_WRITTEN: &str = "ferroflow_params_written_total";
pub const TAGS_WRITTEN: &str = "ferroflow_tags_written_total";
/// `{job,outcome}`, `{job}`, `{job}`: maintenance jobs (recorded by the jobs' code).
pub const JOB_RUNS: &str = "ferroflow_job_runs_total";
pub const JOB_DURATION: &str = "ferroflow_job_duration_seconds";
pub const JOB_ITEMS: &str = "ferroflow_job_items_total";
/// `{version,backend}`, always 1.
pub const BUILD_INFO: &str = "ferroflow_build_info";

/// Request latencies from half a millisecond (a coalesced metric write) to ten seconds (a
/// large search or artifact upload).
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Pool waits, up to the 30 s acquire timeout.
const WAIT_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
];
/// Maintenance jobs run from milliseconds to many minutes.
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed (with its descriptions) on first use.
pub fn handle() -> PrometheusHandle {
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    let recorder = [
        (HTTP_DURATION, HTTP_BUCKETS),
        (DB_POOL_WAIT, WAIT_BUCKETS),
        (JOB_DURATION, JOB_BUCKETS),
    ]
    .into_iter()
    .fold(PrometheusBuilder::new(), |builder, (name, buckets)| {
        builder
            .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
            .expect("bucket lists are not empty")
    })
    .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; /metrics will stay empty");
    }
    describe();
    // Histograms keep raw samples until upkeep folds them into buckets; a scrape does it
    // too, but a server nobody scrapes must not grow without bound.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })
        .expect("can start the metrics upkeep thread");
    handle
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template (`unmatched` for no route), method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request (until the response head), by route template and method."
    );
    describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests being handled.");
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Open database connections by pool (main: reads; writer: the writer's) and state (idle, in_use), sampled at scrape."
    );
    describe_gauge!(DB_POOL_MAX, "The most connections a database pool opens.");
    describe_histogram!(
        DB_POOL_WAIT,
        Unit::Seconds,
        "Writer connection acquisitions that found no idle connection (count) and the time they waited (sum)."
    );
    describe_counter!(
        POINTS_WRITTEN,
        "Run metric points acknowledged to clients, counted after their commit."
    );
    describe_counter!(
        PARAMS_WRITTEN,
        "Run params acknowledged to clients, counted after their commit."
    );
    describe_counter!(
        TAGS_WRITTEN,
        "Run tags acknowledged to clients (set-tag, log-batch, runs/create), counted after their commit."
    );
    describe_counter!(JOB_RUNS, "Maintenance job runs by job and outcome.");
    describe_histogram!(
        JOB_DURATION,
        Unit::Seconds,
        "Time a maintenance job run took, by job."
    );
    describe_counter!(
        JOB_ITEMS,
        "Items a maintenance job handled (rows removed, leases expired, ...), by job."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; labels say the version and the database backend."
    );
}

/// Marks the process as serving `backend` in `ferroflow_build_info`.
pub fn build_info(backend: Backend) {
    let backend = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    };
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "backend" => backend).set(1.0);
}

/// Counts the run data one request wrote; call it once its write has committed. One call
/// per request keeps the hot path at one counter update per kind.
pub fn written(points: usize, params: usize, tags: usize) {
    for (name, n) in [
        (POINTS_WRITTEN, points),
        (PARAMS_WRITTEN, params),
        (TAGS_WRITTEN, tags),
    ] {
        if n > 0 {
            counter!(name).increment(n as u64);
        }
    }
}

/// Records an acquisition from pool `name` that had to wait (see `db::acquire`).
pub fn pool_waited(name: &'static str, waited: Duration) {
    histogram!(DB_POOL_WAIT, "pool" => name).record(waited.as_secs_f64());
}

/// Sets the pool gauges from the pools' current state.
fn sample_pools(db: &Db) {
    for (name, pool) in db.pools() {
        let size = pool.size();
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
        gauge!(DB_POOL_CONNECTIONS, "pool" => name, "state" => "idle").set(idle);
        gauge!(DB_POOL_CONNECTIONS, "pool" => name, "state" => "in_use").set(size - idle);
        gauge!(DB_POOL_MAX, "pool" => name).set(pool.options().get_max_connections());
    }
}

/// `GET /metrics`: the Prometheus text format.
pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    sample_pools(&state.db);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
}
