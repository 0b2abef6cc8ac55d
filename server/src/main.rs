//! The `ferroflow` binary: a thin wrapper over the library's command line.

/// Allocation-heavy request paths (HTTP, JSON, SQL rows) run faster on mimalloc than on
/// glibc's malloc; see `bench/PROFILE.md`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
