//! The `ferroflow` binary: a thin wrapper over the library's command line.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match ferroflow::cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Once logging is set up, the error is a log line like the others (JSON too).
            if tracing::dispatcher::has_been_set() {
                tracing::error!(error = %e, "ferroflow stopped");
            } else {
                eprintln!("ferroflow: {e}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
