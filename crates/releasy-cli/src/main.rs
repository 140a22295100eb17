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

fn main() -> ExitCode {
    // Usage errors exit with 2, `--help` and `--version` with 0 (clap's own codes).
    let cli = Cli::parse();
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::Exit::Failure.code());
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::from(exit::Exit::Ok.code()),
        Err(err) => {
            if json {
                eprintln!("{}", err.to_json());
            } else {
                eprintln!("{}", err.human());
            }
            ExitCode::from(err.exit().code())
        }
    }
}
