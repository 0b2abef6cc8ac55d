//! The `ferroflow` command line.

use crate::config::{Config, ServerArgs};
use crate::db::{DatabaseUri, Db};
use crate::startup::Application;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ferroflow",
    version,
    about = "An MLflow-compatible experiment tracking server"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the tracking server and web UI.
    Server(ServerArgs),
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Apply pending migrations to the database at URI.
    Upgrade { uri: String },
}

/// Parses the command line and runs it; the process exit code follows the outcome.
pub async fn run() -> Result<(), String> {
    match Cli::parse().command {
        Command::Server(args) => {
            crate::telemetry::init(args.log_format);
            let config = Config::try_from(args)?;
            let app = Application::build(config.clone()).await?;
            tracing::info!(
                "ferroflow {} listening on http://{}:{} (store: {})",
                env!("CARGO_PKG_VERSION"),
                config.host,
                app.port(),
                config.database.redacted()
            );
            app.run_until_stopped().await
        }
        Command::Db {
            command: DbCommand::Upgrade { uri },
        } => {
            crate::telemetry::init(crate::telemetry::LogFormat::Text);
            let uri = DatabaseUri::parse(&uri)?;
            let db = Db::connect(&uri)
                .await
                .map_err(|e| format!("migration failed: {e}"))?;
            let version = db.schema_version().await.map_err(|e| e.to_string())?;
            println!(
                "database is at schema version {}",
                version.unwrap_or_default()
            );
            Ok(())
        }
    }
}
