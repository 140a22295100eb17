//! The `releasy-server` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use releasy_server::settings::Settings;
use releasy_server::{server, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Releasy: controlled software releases for B2B vendors.
///
/// Configuration comes from defaults, then the TOML file (`--config`, or `releasy.toml`
/// in the working directory when present), then `RELEASY_*` environment variables.
/// With no configuration at all it serves on port 8080 from a SQLite database in
/// `./releasy-data`.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Path of a TOML configuration file.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref(), None) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("releasy-server: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_level, settings.log_format);
    let running = match server::start(settings).await {
        Ok(running) => running,
        Err(err) => {
            tracing::error!(error = %telemetry::WithCauses(&err), "startup failed");
            return ExitCode::FAILURE;
        }
    };
    // actix-web stops gracefully on SIGTERM and Ctrl-C: in-flight requests finish
    // (up to 30 s), new connections are refused.
    match running.run().await {
        Ok(()) => {
            tracing::info!("releasy-server stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::FAILURE
        }
    }
}
