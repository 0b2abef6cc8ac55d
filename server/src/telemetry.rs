//! Logging setup.

use tracing_subscriber::{EnvFilter, fmt};

/// Logs to stderr at `RUST_LOG` (default `info`).
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
