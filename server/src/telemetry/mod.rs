//! What the server tells its operators: log lines (`tracing`, text or JSON on stderr),
//! Prometheus metrics (`metrics`) and the per-request layer that feeds both (`requests`).

pub mod metrics;
pub mod requests;

use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt};

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, fields at the top level (for log collectors).
    Json,
}

/// Logs to stderr at `RUST_LOG` (default `info`, sqlx at `warn`) in `format`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only for a person at a terminal, never into files or collectors.
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
