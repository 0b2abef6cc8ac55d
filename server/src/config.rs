//! Server configuration, from command-line flags or the environment.

use crate::db::DatabaseUri;
use clap::Args;
use std::path::PathBuf;

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
        })
    }
}
