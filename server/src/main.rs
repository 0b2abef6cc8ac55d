//! The `ferroflow` binary: a thin wrapper over the library's command line.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match ferroflow::cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferroflow: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
