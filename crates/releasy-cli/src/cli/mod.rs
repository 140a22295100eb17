//! The command line: global flags and the command tree (clap derive). Each command's
//! behaviour lives in `commands/`.

mod customer;
mod operator;
mod vendor;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use customer::{DownloadArgs, LatestArgs, ReleasesArgs, UpgradeArgs};
pub use operator::{
    AuditCommand, CustomerCommand, DownloadsCommand, EntitlementCommand, KeyCommand, LedgerFilter,
    ProductCommand, QuotaArgs,
};
pub use vendor::{ArtifactCommand, PublishArgs, ReleaseCommand, ReleaseDetails};

use crate::config::FlagValues;
use crate::exit::EXIT_CODES_HELP;

/// Releasy from the command line: publish releases from CI, manage customers, keys and
/// entitlements, and download artifacts with checksum verification.
#[derive(Debug, Parser)]
#[command(name = "releasy", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Connection and output flags.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Server base URL [env: RELEASY_URL] [default: http://127.0.0.1:8080]
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Admin key, for vendor and operator commands [env: RELEASY_ADMIN_API_KEY]
    #[arg(long, global = true, value_name = "KEY")]
    pub admin_key: Option<String>,
    /// Customer API key, for `releases` and `download` [env: RELEASY_API_KEY]
    #[arg(long, global = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Operator JWT; the credential given most directly is sent (a flag before an
    /// environment variable before the profile; from one place, the admin key before
    /// it) [env: RELEASY_OPERATOR_TOKEN]
    #[arg(long, global = true, value_name = "JWT")]
    pub operator_token: Option<String>,
    /// Profile of the profile file to use [env: RELEASY_PROFILE]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Profile file [env: RELEASY_CONFIG] [default: ~/.config/releasy/config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON on standard output (and errors as JSON on standard error)
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or progress lines
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl GlobalArgs {
    /// The connection values given as flags.
    pub fn flags(&self) -> FlagValues {
        FlagValues {
            url: self.url.clone(),
            admin_key: self.admin_key.clone(),
            api_key: self.api_key.clone(),
            operator_token: self.operator_token.clone(),
            profile: self.profile.clone(),
            config: self.config.clone(),
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, publish, unpublish, yank and delete releases (vendor, CI)
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Upload artifacts to an existing release (vendor, CI)
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// Create a release, upload every file and publish it, in one retry-safe step
    Publish(PublishArgs),
    /// Manage customers (operator)
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Create and revoke customer API keys (operator)
    #[command(subcommand)]
    Key(KeyCommand),
    /// Grant, list, update and revoke entitlements (operator)
    #[command(subcommand)]
    Entitlement(EntitlementCommand),
    /// List products and set their release policy (operator)
    #[command(subcommand)]
    Product(ProductCommand),
    /// Read the audit trail (operator)
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Read the download ledger: list, statistics, CSV export (operator)
    #[command(subcommand)]
    Downloads(DownloadsCommand),
    /// List the releases and files the customer API key may download (customer)
    Releases(ReleasesArgs),
    /// Download an artifact, verify its sha256, resume partial downloads (customer)
    Download(DownloadArgs),
    /// Show the newest release the credentials may have on a channel
    Latest(LatestArgs),
    /// Check for a release newer than the version you run
    Upgrade(UpgradeArgs),
    /// Show the resolved settings and where each came from (secrets hidden)
    Config,
    /// Print a shell completion script
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("7  checksum mismatch"), "{help}");
    }
}
