//! What every handler can reach.

use crate::api::PointQueue;
use crate::artifacts::Artifacts;
use crate::config::Config;
use crate::db::Db;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Cloned for every request, so it holds only handles (`Arc`s and channel senders).
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: Db,
    pub artifacts: Artifacts,
    /// Coalesces single-point metric writes (see `api::point_queue`).
    pub points: PointQueue,
    pub config: Arc<Config>,
    /// The process's Prometheus recorder (see `telemetry::metrics`).
    #[from_ref(skip)]
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Maintenance jobs: the admin page's "run now" and this replica's id.
    pub jobs: crate::jobs::Jobs,
    #[from_ref(skip)]
    pub leptos_options: Arc<LeptosOptions>,
    /// The OIDC provider for browser login; `None` under `--auth none`.
    #[from_ref(skip)]
    pub oidc: Option<crate::auth::oidc::Oidc>,
}

/// Leptos' routes ask for the options by value; only page requests pay for the copy.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        (*state.leptos_options).clone()
    }
}
