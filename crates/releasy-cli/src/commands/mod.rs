//! One module per command family: each turns parsed arguments into API calls and
//! prints the result through [`Output`].

mod artifact;
mod audit;
mod completions;
mod config;
mod customer;
mod download;
mod downloads;
mod entitlement;
mod key;
mod product;
mod publish;
mod release;
mod releases;
mod updates;

use crate::api::{ApiClient, Role};
use crate::cli::{Cli, Command};
use crate::config::Settings;
use crate::error::CliError;
use crate::output::Output;
use crate::transfer::ProgressMode;

/// What every command runs with.
#[derive(Debug)]
pub struct Context {
    /// Resolved connection settings.
    pub settings: Settings,
    /// Output mode.
    pub output: Output,
    /// Progress mode.
    pub progress: ProgressMode,
}

impl Context {
    /// A client acting as `role`.
    ///
    /// # Errors
    /// [`CliError::Setup`] when the role's credential is not configured.
    pub fn client(&self, role: Role) -> Result<ApiClient, CliError> {
        Ok(ApiClient::new(&self.settings, role)?)
    }
}

/// Runs the command `cli` names.
///
/// # Errors
/// The command's [`CliError`].
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let output = Output::new(cli.global.json);
    if let Command::Completions { shell } = cli.command {
        completions::run(shell);
        return Ok(());
    }
    let settings = Settings::resolve(&cli.global.flags(), &|name| std::env::var(name).ok())?;
    let ctx = Context {
        settings,
        output,
        progress: ProgressMode::detect(cli.global.quiet),
    };
    match cli.command {
        Command::Release(command) => release::run(&ctx, command).await,
        Command::Artifact(command) => artifact::run(&ctx, command).await,
        Command::Publish(args) => publish::run(&ctx, args).await,
        Command::Customer(command) => customer::run(&ctx, command).await,
        Command::Key(command) => key::run(&ctx, command).await,
        Command::Entitlement(command) => entitlement::run(&ctx, command).await,
        Command::Product(command) => product::run(&ctx, command).await,
        Command::Audit(command) => audit::run(&ctx, command).await,
        Command::Downloads(command) => downloads::run(&ctx, command).await,
        Command::Releases(args) => releases::run(&ctx, args).await,
        Command::Download(args) => download::run(&ctx, args).await,
        Command::Latest(args) => updates::latest(&ctx, args).await,
        Command::Upgrade(args) => updates::upgrade(&ctx, args).await,
        Command::Config => config::run(&ctx),
        // Answered above, before the settings are read.
        Command::Completions { .. } => Ok(()),
    }
}

/// Adds `(name, value)` to `query` when `value` is set.
fn push_opt(
    query: &mut Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<impl ToString>,
) {
    if let Some(value) = value {
        query.push((name, value.to_string()));
    }
}
