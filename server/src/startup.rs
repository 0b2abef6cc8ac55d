//! Building and running the application: connect and migrate, assemble the router, bind
//! (port 0 picks a free port, which is how tests run it), serve until a shutdown signal,
//! then shut down without losing a write a client was told succeeded.

use crate::config::Config;
use crate::db::Db;
use crate::state::{AppState, Shared};
use crate::{api, auth, health, store, telemetry, ui};
use axum::{Router, routing::get};
use leptos::config::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub struct Application {
    listener: TcpListener,
    router: Router,
    db: Db,
    points: api::PointQueue,
    jobs: crate::jobs::Jobs,
    shutdown_timeout: Duration,
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
        let metrics = telemetry::metrics::handle();
        telemetry::metrics::build_info(db.backend);
        let shutdown_timeout = config.shutdown_timeout;
        let jobs = crate::jobs::Jobs::new(
            db.clone(),
            artifacts.clone(),
            config.jobs.clone(),
            format!("{}:{}", hostname(), addr.port()),
        );
        jobs.start();
        let oidc = config
            .auth
            .oidc()
            .map(|c| auth::oidc::Oidc::start(c.clone()));
        let state = AppState::new(Shared {
            db: db.clone(),
            points: points.clone(),
            jobs: jobs.clone(),
            artifacts,
            config: Arc::new(config),
            metrics,
            leptos_options,
            oidc,
        });
        Ok(Self {
            listener,
            router: router(state),
            db,
            points,
            jobs,
            shutdown_timeout,
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

    /// Serves until SIGINT or SIGTERM, then shuts down (see `run_until`).
    pub async fn run_until_stopped(self) -> Result<(), String> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then, within the shutdown timeout: stops accepting
    /// connections, lets in-flight requests finish, writes what the log-metric queue and
    /// the writer still hold (new writes are refused with 503 meanwhile), and closes the
    /// pools. Every write a client got a 200 for has committed before that 200 was sent,
    /// so nothing acknowledged is lost even when the timeout cuts requests off; what is
    /// cut off was never acknowledged. Fails (exit status 1) if the timeout cuts anything off.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let stopping = CancellationToken::new();
        let serve = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stopping.clone().cancelled_owned())
            .into_future();
        tokio::pin!(serve);
        let timeout = self.shutdown_timeout;
        let (deadline, requests_done) = tokio::select! {
            served = &mut serve => {
                served.map_err(|e| e.to_string())?;
                (Instant::now() + timeout, true)
            }
            () = stop => {
                tracing::info!(
                    timeout_s = timeout.as_secs_f64(),
                    "shutting down: finishing in-flight requests"
                );
                stopping.cancel();
                let deadline = Instant::now() + timeout;
                match tokio::time::timeout_at(deadline, &mut serve).await {
                    Ok(served) => {
                        served.map_err(|e| e.to_string())?;
                        (deadline, true)
                    }
                    Err(_) => (deadline, false),
                }
            }
        };
        tracing::info!("shutting down: writing queued writes, closing the database");
        let drained = tokio::time::timeout_at(deadline, async {
            // Jobs first: their last steps still go through the writer.
            self.jobs.stop().await;
            self.points.drain().await;
            self.db.close().await;
        })
        .await
        .is_ok();
        match (requests_done, drained) {
            (true, true) => {
                tracing::info!("shut down cleanly");
                Ok(())
            }
            (requests_done, _) => Err(format!(
                "the shutdown timeout ({} s) passed with {} still running; they were cut off \
                 (every write acknowledged to a client had committed)",
                timeout.as_secs_f64(),
                if requests_done {
                    "queued writes"
                } else {
                    "requests"
                }
            )),
        }
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let admission = crate::overload::Admission::new(state.config.max_in_flight);
    // Everything but the probes and /metrics is shed under overload (see `overload`).
    let shed = api::router()
        .merge(auth::login::router())
        .merge(ui::router(&state))
        .layer(axum::middleware::from_fn_with_state(
            admission,
            crate::overload::admit,
        ));
    let router = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(telemetry::metrics::scrape))
        .route("/version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .merge(shed)
        // Bodies over it are answered 413 with MLflow's error JSON (`api::Mlflow`).
        .layer(axum::extract::DefaultBodyLimit::max(api::BODY_LIMIT))
        // Who is calling: a `Caller` in every request's extensions, or 401 / a redirect.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    // Browser sessions (`--auth oidc`), read by `authenticate` above.
    let router = match state.config.auth.oidc() {
        Some(oidc) => router.layer(auth::session::layer(state.db.clone(), oidc)),
        None => router,
    };
    router
        // Request ids, metrics and the request log line (never headers or query strings).
        .layer(axum::middleware::from_fn(telemetry::requests::observe))
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

/// Completes on the first SIGTERM or SIGINT (Ctrl-C). The handlers are registered here,
/// before serving starts, so a signal that arrives early is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                _ => {
                    tracing::error!(
                        "cannot listen for SIGTERM/SIGINT; stop the server with SIGKILL"
                    );
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
