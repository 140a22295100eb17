//! The `releasy-server` binary.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use releasy_domain::ports::ErrorChain;
use releasy_server::audit_verify::{self, AuditVerdict};
use releasy_server::demo::DemoOptions;
use releasy_server::settings::Settings;
use releasy_server::verify_artifacts::{self, Scope};
use releasy_server::{check_config, server, telemetry};
use releasy_traces::TraceExport;

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
    /// Serve the API (the default). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit. Safe when several run at once (the
    /// later ones wait, then find nothing to do). Prints each migration applied; exits
    /// 1 when the database is unreachable or a migration fails (it is rolled back; on
    /// PostgreSQL the ones before it stay applied, on SQLite none does).
    Migrate,
    /// Print the effective configuration (defaults < TOML file < environment), one
    /// `RELEASY_*` variable per line with secrets masked, and check it without
    /// connecting to anything. Exits 2 when a setting is invalid, 1 when it loads but a
    /// check fails (an admin key shorter than 32 characters, a `RELEASY_LOG` that does
    /// not parse), 0 otherwise.
    CheckConfig,
    /// Start a seeded server to try: the embedded default in a fresh data directory,
    /// on loopback, with a product, three releases on two channels with real files, a
    /// customer with an entitlement and a read-only key; prints ready-to-paste curl and
    /// `releasy` commands. Ignores the configured database, store, listen address and
    /// credentials.
    Demo {
        /// The data directory (must not exist or be empty); default: a new one under
        /// the system's temporary directory.
        #[arg(long, value_name = "PATH")]
        data_dir: Option<PathBuf>,
        /// The port to listen on, on 127.0.0.1.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Ask a running server's `GET /live` (on the configured listen address, through
    /// loopback when it listens on every interface) and exit 0 on 200, 1 otherwise: the
    /// container image's HEALTHCHECK.
    Health {
        /// Ask this URL instead.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Read the stored bytes of artifacts registered before the server checked bytes
    /// (`verification: unverified`) and set each `verified` or `failed`; a failed one
    /// can no longer be downloaded. Prints one line per artifact and a summary; exits 1
    /// when any artifact failed or could not be read, 2 when it cannot run (no
    /// database, or one with migrations not applied yet; no embedded store in the data
    /// directory: not the server's).
    VerifyArtifacts {
        /// Check every artifact that is not pending: also the verified ones (whose
        /// bytes may have changed in the store since) and the failed ones.
        #[arg(long)]
        all: bool,
    },
    /// Copy the SQLite database to FILE while the server keeps serving, through
    /// SQLite's backup API: the database as of one instant, checked with SQLite's
    /// integrity check, written beside FILE and moved into place when complete. FILE
    /// must not exist. Exits 1 when the backup fails (nothing is left at FILE), 2 when
    /// the configuration is invalid or the database is not a SQLite file (PostgreSQL:
    /// use pg_dump), 130 or 143 when SIGINT or SIGTERM stops it (its partial copy
    /// removed).
    Backup {
        /// Where the copy goes.
        #[arg(value_name = "FILE")]
        destination: PathBuf,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Walk the audit trail's hash chain from its start to its head. Exits 0 and prints
    /// the head (position and hash: keep it elsewhere to detect a rewrite later) when
    /// every event is as it was written; exits 1 naming the first event that was
    /// altered, deleted or inserted; exits 2 when the database cannot be read.
    Verify,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref(), None) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("releasy-server: {err}");
            // Docker reserves a health check's exit code 2; to it, this is unhealthy.
            let code = if matches!(cli.command, Some(Command::Health { .. })) {
                1
            } else {
                2
            };
            return ExitCode::from(code);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(settings).await,
        Command::CheckConfig => check_config(&settings),
        Command::Demo { data_dir, port } => demo(settings, DemoOptions { data_dir, port }).await,
        Command::Health { url } => {
            health(url.unwrap_or_else(|| releasy_server::health::live_url(&settings))).await
        }
        Command::VerifyArtifacts { all } => {
            let scope = if all { Scope::All } else { Scope::Unverified };
            verify(settings, scope).await
        }
        Command::Backup { destination } => backup(settings, &destination).await,
        Command::Audit {
            action: AuditAction::Verify,
        } => verify_audit_chain(settings).await,
    }
}

async fn backup(settings: Settings, destination: &std::path::Path) -> ExitCode {
    telemetry::init_on_stderr((&settings).into());
    let mut out = std::io::stdout().lock();
    match releasy_server::backup::run(&settings, destination, &mut out).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("releasy-server backup: {}", ErrorChain(&err));
            match err {
                releasy_server::backup::BackupCommandError::NotSqliteFile(_) => ExitCode::from(2),
                // Without waiting for the copy's thread, which cannot be stopped midway.
                releasy_server::backup::BackupCommandError::Stopped(signal) => {
                    std::process::exit(i32::from(signal.exit_status()))
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}

async fn verify_audit_chain(settings: Settings) -> ExitCode {
    telemetry::init_on_stderr((&settings).into());
    let mut out = std::io::stdout().lock();
    match audit_verify::run(&settings, &mut out).await {
        Ok(AuditVerdict::Intact(_)) => ExitCode::SUCCESS,
        Ok(AuditVerdict::Broken(_)) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("releasy-server audit verify: {}", ErrorChain(&err));
            ExitCode::from(2)
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    let traces = match settings.otlp_endpoint.as_deref() {
        Some(endpoint) => match TraceExport::start(endpoint, env!("CARGO_PKG_VERSION")) {
            Ok(traces) => Some(traces),
            Err(err) => {
                eprintln!("releasy-server: {}", ErrorChain(&err));
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    telemetry::init((&settings).into(), traces.as_ref());
    if traces.is_some() {
        tracing::info!("traces exported over OTLP/HTTP (RELEASY_OTLP_ENDPOINT)");
    }
    let code = serve_until_stopped(settings).await;
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    code
}

async fn serve_until_stopped(settings: Settings) -> ExitCode {
    for finding in check_config::findings(&settings) {
        tracing::warn!(
            variable = finding.variable,
            "{}; `releasy-server check-config` fails on this",
            finding.message
        );
    }
    let running = match server::start(settings).await {
        Ok(running) => running,
        Err(err) => {
            tracing::error!(error = %ErrorChain(&err), "startup failed");
            return ExitCode::FAILURE;
        }
    };
    // `run` stops gracefully on SIGTERM and Ctrl-C: in-flight requests finish (up to
    // the grace), new connections are refused; rows lost at shutdown exit 1.
    match running.run().await {
        Ok(()) => {
            tracing::info!("releasy-server stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %ErrorChain(&err), "releasy-server stopped badly");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(settings: Settings) -> ExitCode {
    telemetry::init_on_stderr((&settings).into());
    let mut out = std::io::stdout().lock();
    match releasy_server::migrate::run(&settings, &mut out).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("releasy-server migrate: {}", ErrorChain(&err));
            ExitCode::FAILURE
        }
    }
}

fn check_config(settings: &Settings) -> ExitCode {
    let (mut out, mut problems) = (std::io::stdout().lock(), std::io::stderr().lock());
    match check_config::run(settings, &mut out, &mut problems) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("releasy-server check-config: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(settings: Settings, options: DemoOptions) -> ExitCode {
    // Request logs go to stderr: standard output is the instructions.
    telemetry::init_on_stderr((&settings).into());
    let demo = match releasy_server::demo::start(settings, options).await {
        Ok(demo) => demo,
        Err(err) => {
            eprintln!("releasy-server demo: {}", ErrorChain(&err));
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", demo.instructions())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(out);
    match demo.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("releasy-server demo: {}", ErrorChain(&err));
            ExitCode::FAILURE
        }
    }
}

async fn health(url: String) -> ExitCode {
    match releasy_server::health::probe(&url).await {
        Ok(()) => {
            // A health check's output is read by nobody when it passes; a closed stdout
            // must not fail it.
            let _ = writeln!(std::io::stdout().lock(), "{url}: live");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("releasy-server health: {}", ErrorChain(&err));
            ExitCode::FAILURE
        }
    }
}

async fn verify(settings: Settings, scope: Scope) -> ExitCode {
    telemetry::init_on_stderr((&settings).into());
    let mut out = std::io::stdout().lock();
    match verify_artifacts::run(&settings, scope, &mut out).await {
        Ok(summary) if summary.all_verified() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("releasy-server verify-artifacts: {}", ErrorChain(&err));
            ExitCode::from(2)
        }
    }
}
