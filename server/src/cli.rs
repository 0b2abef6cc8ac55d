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
    Server(Box<ServerArgs>),
    /// Permanently delete deleted runs and experiments, with their artifacts (as `mlflow gc`).
    Gc(GcArgs),
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

/// `ferroflow gc`: what `mlflow gc` takes.
#[derive(clap::Args)]
struct GcArgs {
    /// The store to collect: sqlite:///path.db or postgresql://user@host/db.
    #[arg(
        long,
        env = "FERROFLOW_BACKEND_STORE_URI",
        default_value = "sqlite:///ferroflow-data/ferroflow.db"
    )]
    backend_store_uri: String,
    /// Where the server keeps `mlflow-artifacts:/` artifacts (its --artifacts-destination).
    #[arg(
        long,
        env = "FERROFLOW_ARTIFACTS_DESTINATION",
        default_value = "./ferroflow-data/artifacts"
    )]
    artifacts_destination: String,
    /// Only what was deleted longer ago than this (`30d`, `12h`); all deleted by default.
    #[arg(long, value_parser = humantime::parse_duration)]
    older_than: Option<std::time::Duration>,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only these deleted experiments (comma-separated ids), with all their runs.
    #[arg(long, value_delimiter = ',')]
    experiment_ids: Vec<String>,
    /// Only these deleted runs (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    run_ids: Vec<String>,
}

/// Runs `ferroflow gc` with the job's code, recorded in `job_runs` as a run of `gc` by
/// `cli-<pid>`; prints one line per experiment and run.
async fn gc(args: GcArgs) -> Result<(), String> {
    use crate::jobs::{self, gc, history};
    let uri = DatabaseUri::parse(&args.backend_store_uri)?;
    let db = Db::connect(&uri)
        .await
        .map_err(|e| format!("cannot open the backend store: {e}"))?;
    let artifacts = crate::artifacts::Artifacts::open(&args.artifacts_destination)?;
    let request = gc::GcRequest {
        older_than: args.older_than,
        experiment_ids: args.experiment_ids,
        run_ids: args.run_ids,
    };
    let plan = gc::plan(&db, &request).await.map_err(|e| e.message)?;
    let holder = format!("cli-{}", std::process::id());
    let started = std::time::Instant::now();
    let id = history::start(
        &db,
        "gc",
        &holder,
        crate::store::now_ms(),
        args.dry_run,
        false,
    )
    .await
    .map_err(|e| e.message)?;
    if args.dry_run {
        history::end(&db, id, crate::store::now_ms(), &Ok(plan.items()))
            .await
            .map_err(|e| e.message)?;
        for line in plan.lines("would delete") {
            println!("{line}");
        }
        println!(
            "dry run: {} experiment(s) and {} run(s) would be deleted",
            plan.experiments.len(),
            plan.runs.len()
        );
        return Ok(());
    }
    let outcome = gc::execute(&db, &artifacts, &plan, || Ok(()))
        .await
        .map_err(|e| e.message);
    jobs::record_metrics("gc", &outcome, started.elapsed());
    history::end(&db, id, crate::store::now_ms(), &outcome)
        .await
        .map_err(|e| e.message)?;
    let deleted = outcome?;
    for line in plan.lines("deleted") {
        println!("{line}");
    }
    println!(
        "deleted {} experiment(s) and run(s) of {} planned",
        deleted,
        plan.items()
    );
    Ok(())
}

/// Parses the command line and runs it; the process exit code follows the outcome.
pub async fn run() -> Result<(), String> {
    match Cli::parse().command {
        Command::Server(args) => {
            crate::telemetry::init(args.log_format);
            let config = Config::try_from(*args)?;
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
        Command::Gc(args) => gc(args).await,
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
