//! The `releasy-server` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use releasy_server::settings::Settings;
use releasy_server::verify_artifacts::{self, Scope};
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
    #[arg(long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Read the stored bytes of artifacts registered before the server checked bytes
    /// (`verification: unverified`) and set each `verified` or `failed`; a failed one
    /// can no longer be downloaded. Prints one line per artifact and a summary; exits 1
    /// when any artifact failed or could not be read.
    VerifyArtifacts {
        /// Check every artifact that is not pending: also the verified ones (whose
        /// bytes may have changed in the store since) and the failed ones.
        #[arg(long)]
        all: bool,
    },
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
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::VerifyArtifacts { all } => {
            let scope = if all { Scope::All } else { Scope::Unverified };
            verify(settings, scope).await
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
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

async fn verify(settings: Settings, scope: Scope) -> ExitCode {
    telemetry::init_on_stderr(settings.log_level, settings.log_format);
    let mut out = std::io::stdout().lock();
    match verify_artifacts::run(&settings, scope, &mut out).await {
        Ok(summary) if summary.all_verified() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!(
                "releasy-server verify-artifacts: {}",
                telemetry::WithCauses(&err)
            );
            ExitCode::from(2)
        }
    }
}
