//! # releasy
//!
//! The Releasy command-line tool. It speaks the HTTP API only: vendors and CI publish
//! releases (`publish`, `release`, `artifact`), operators manage customers, keys,
//! entitlements and read the audit trail, and customers list and download what they
//! are entitled to (`releases`, `download`). See `docs/cli.md`.

mod api;
mod cli;
mod commands;
mod config;
mod dto;
mod error;
mod exit;
mod output;
mod publish;
mod transfer;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::output::print_stderr;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            print_stderr(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(exit::Exit::Failure.code());
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::from(exit::Exit::Ok.code()),
        Err(err) => {
            if json {
                print_stderr(&err.to_json().to_string());
            } else {
                print_stderr(&err.human());
            }
            ExitCode::from(err.exit().code())
        }
    }
}

/// Ends a run whose arguments clap refused (exit 2; `--help` and `--version` exit 0).
/// With `--json` among the arguments, the last line of standard error is the error as
/// JSON, as for every other failure, so that scripts read usage errors the same way.
fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    // Asked for (exit 0); help shown for a missing subcommand is a usage error.
    let informational = matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    );
    let json = std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "--json");
    // clap prints help and version to stdout, errors to stderr.
    let _ = err.print();
    if informational || !json {
        return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
    }
    let message = if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        "a command is missing (see --help)".to_owned()
    } else {
        clap_message(err)
    };
    let err = error::CliError::Usage(message);
    print_stderr(&err.to_json().to_string());
    ExitCode::from(err.exit().code())
}

/// The first line of clap's message, without its `error: ` prefix.
fn clap_message(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}
