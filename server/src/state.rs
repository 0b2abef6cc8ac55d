//! What every handler can reach.

use crate::api::PointQueue;
use crate::artifacts::Artifacts;
use crate::config::Config;
use crate::db::Db;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// The handlers' state. axum clones it several times per request (each layer with state,
/// each extractor), so it is one `Arc`: a clone is one reference count, where cloning the
/// handles themselves cost a dozen, plus a lock in each cancellation token (4 % of the
/// server's time under single-point `log-metric` load, `bench/PROFILE.md`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What the state holds; reached through `AppState`'s `Deref` (`state.db`).
pub struct Shared {
    pub db: Db,
    pub artifacts: Artifacts,
    /// Coalesces single-point metric writes (see `api::point_queue`).
    pub points: PointQueue,
    pub config: Arc<Config>,
    /// The process's Prometheus recorder (see `telemetry::metrics`).
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Maintenance jobs: the admin page's "run now" and this replica's id.
    pub jobs: crate::jobs::Jobs,
    pub leptos_options: LeptosOptions,
    /// The OIDC provider for browser login; `None` under `--auth none`.
    pub oidc: Option<crate::auth::oidc::Oidc>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// `State<Db>` for the handlers that need nothing else (`/ready`).
impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

/// Leptos' routes ask for the options by value; only page requests pay for the copy.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
