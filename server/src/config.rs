//! Server configuration, from command-line flags or the environment.

use crate::auth::{AuthArgs, AuthConfig};
use crate::db::DatabaseUri;
use crate::jobs::JobsConfig;
use crate::telemetry::LogFormat;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// `ferroflow server` flags. Names follow `mlflow server` where it has them.
#[derive(Args, Clone, Debug)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "FERROFLOW_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, env = "FERROFLOW_PORT", default_value_t = 5000)]
    pub port: u16,
    /// Where runs are stored: sqlite:///path.db or postgresql://user@host/db.
    #[arg(
        long,
        env = "FERROFLOW_BACKEND_STORE_URI",
        default_value = "sqlite:///ferroflow-data/ferroflow.db"
    )]
    pub backend_store_uri: String,
    /// Artifact root of new experiments; the default proxies artifacts through this server.
    #[arg(
        long,
        env = "FERROFLOW_DEFAULT_ARTIFACT_ROOT",
        default_value = "mlflow-artifacts:/"
    )]
    pub default_artifact_root: String,
    /// Where the server stores the artifacts it serves (`mlflow-artifacts:/` locations):
    /// a local folder or s3://bucket/prefix.
    #[arg(
        long,
        env = "FERROFLOW_ARTIFACTS_DESTINATION",
        default_value = "./ferroflow-data/artifacts"
    )]
    pub artifacts_destination: String,
    /// Folder holding the built web assets (`pkg/`), as cargo-leptos lays them out.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Log lines on stderr: `text`, or `json` (one object per line).
    #[arg(long, env = "FERROFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// On SIGTERM or SIGINT, how long to wait for in-flight requests and queued writes
    /// before exiting anyway: `30s`, `500ms`, `2m` or plain seconds.
    #[arg(long, env = "FERROFLOW_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Requests served at once; more wait up to a second for a slot, then get 503 with
    /// Retry-After (health, readiness and metrics are never turned away).
    #[arg(long, env = "FERROFLOW_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,
    #[command(flatten)]
    pub jobs: JobArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Maintenance job flags (see `jobs`). Durations read like `90s`, `10m`, `24h`, `30d`.
#[derive(Args, Clone, Debug)]
pub struct JobArgs {
    /// Take no maintenance jobs in this replica (others still run them).
    #[arg(long, env = "FERROFLOW_DISABLE_JOBS")]
    pub disable_jobs: bool,
    /// How often garbage collection runs.
    #[arg(long, env = "FERROFLOW_GC_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub gc_interval: Duration,
    /// How long deleted runs and experiments are kept before gc removes them for good.
    #[arg(long, env = "FERROFLOW_GC_RETENTION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub gc_retention: Duration,
    /// How often the stuck-run reaper runs.
    #[arg(long, env = "FERROFLOW_REAPER_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub reaper_interval: Duration,
    /// A RUNNING run with no write for this long is marked FAILED.
    #[arg(long, env = "FERROFLOW_REAPER_THRESHOLD", default_value = "24h", value_parser = humantime::parse_duration)]
    pub reaper_threshold: Duration,
    /// How often database upkeep (ANALYZE, VACUUM or checkpoint) runs.
    #[arg(long, env = "FERROFLOW_UPKEEP_INTERVAL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub upkeep_interval: Duration,
    /// How long a job's lease lasts unrenewed: a dead replica's job is taken over after it.
    #[arg(long, env = "FERROFLOW_LEASE_TTL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub lease_ttl: Duration,
}

impl TryFrom<JobArgs> for JobsConfig {
    type Error = String;

    fn try_from(a: JobArgs) -> Result<Self, String> {
        let config = JobsConfig {
            enabled: !a.disable_jobs,
            gc_interval: a.gc_interval,
            gc_retention: a.gc_retention,
            reaper_interval: a.reaper_interval,
            reaper_threshold: a.reaper_threshold,
            upkeep_interval: a.upkeep_interval,
            lease_ttl: a.lease_ttl,
        };
        config.validate()?;
        Ok(config)
    }
}

/// The resolved configuration the application runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub database: DatabaseUri,
    pub default_artifact_root: String,
    pub artifacts_destination: String,
    pub site_root: PathBuf,
    pub shutdown_timeout: Duration,
    pub max_in_flight: usize,
    pub jobs: JobsConfig,
    pub auth: AuthConfig,
}

impl TryFrom<ServerArgs> for Config {
    type Error = String;

    fn try_from(args: ServerArgs) -> Result<Self, String> {
        Ok(Self {
            host: args.host,
            port: args.port,
            database: DatabaseUri::parse(&args.backend_store_uri)?,
            default_artifact_root: args.default_artifact_root,
            artifacts_destination: args.artifacts_destination,
            site_root: args.site_root,
            shutdown_timeout: args.shutdown_timeout,
            max_in_flight: args.max_in_flight,
            jobs: JobsConfig::try_from(args.jobs)?,
            auth: AuthConfig::try_from(args.auth)?,
        })
    }
}

/// Parses `30s`, `500ms`, `2m` or `30` (seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 500ms or 2m"))?;
    match unit.trim() {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        other => Err(format!("unknown unit {other:?} in {s:?}: use ms, s or m")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "s", "-1s", "1.5s", "3h", "ten"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
