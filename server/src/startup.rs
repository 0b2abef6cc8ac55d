//! Building and running the application: connect and migrate, assemble the router, bind
//! (port 0 picks a free port, which is how tests run it), serve until a shutdown signal.

use crate::config::Config;
use crate::db::Db;
use crate::state::AppState;
use crate::{api, store, ui};
use axum::{Router, routing::get};
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    router: Router,
    db: Db,
}

impl Application {
    /// Connects to the database (migrating it), creates the Default experiment, and binds.
    pub async fn build(config: Config) -> Result<Self, String> {
        let db = Db::connect(&config.database)
            .await
            .map_err(|e| format!("cannot open the backend store: {e}"))?;
        store::experiments::ensure_default(&db, &config.default_artifact_root)
            .await
            .map_err(|e| format!("cannot create the Default experiment: {}", e.message))?;
        let artifacts = crate::artifacts::Artifacts::open(&config.artifacts_destination)?;
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let leptos_options = LeptosOptions::builder()
            .output_name("ferroflow")
            .site_root(config.site_root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let points = api::PointQueue::start(db.clone());
        let jobs = crate::jobs::Jobs::new(
            db.clone(),
            artifacts.clone(),
            config.jobs.clone(),
            format!("{}:{}", hostname(), addr.port()),
        );
        jobs.start();
        let state = AppState {
            db: db.clone(),
            points,
            jobs,
            artifacts,
            config: Arc::new(config),
            leptos_options: Arc::new(leptos_options),
        };
        Ok(Self {
            listener,
            router: router(state),
            db,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests and closes the pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        self.db.pool.close().await;
        Ok(())
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(|| async { "OK" }))
        .route("/version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .merge(api::router())
        .merge(ui::router(&state))
        // MLflow accepts dataset profiles up to 16 MiB; leave room for the rest of a request.
        .layer(axum::extract::DefaultBodyLimit::max(32 * 1024 * 1024))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The machine's name, for the list of replicas on the admin page.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
