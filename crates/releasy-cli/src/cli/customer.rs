//! Customer commands: what the key may see, and downloads.

use std::path::PathBuf;

use clap::Args;

use super::vendor::CHANNELS;

/// `releasy releases`.
#[derive(Debug, Args)]
pub struct ReleasesArgs {
    /// Only this product
    #[arg(long)]
    pub product: Option<String>,
    /// Only this version
    #[arg(long)]
    pub version: Option<String>,
    /// Page size (1 to 200)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,
    /// Releases to skip
    #[arg(long)]
    pub offset: Option<u64>,
}

/// `releasy latest`.
#[derive(Debug, Args)]
pub struct LatestArgs {
    /// Product
    pub product: String,
    /// Channel followed: it and every more stable one
    #[arg(long, value_parser = CHANNELS, default_value = "stable")]
    pub channel: String,
    /// Only releases with a file for this platform
    #[arg(long)]
    pub platform: Option<String>,
}

/// `releasy upgrade`.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints the newest release above --current that the credentials may have, or says that
--current is the newest (exit code 0 either way; --json prints null then).")]
pub struct UpgradeArgs {
    /// Product
    pub product: String,
    /// The version running now (semver)
    #[arg(long)]
    pub current: String,
    /// Channel followed: it and every more stable one
    #[arg(long, value_parser = CHANNELS, default_value = "stable")]
    pub channel: String,
    /// Only releases with a file for this platform
    #[arg(long)]
    pub platform: Option<String>,
    /// A semver requirement the answer must satisfy, such as '^1.4'
    #[arg(long)]
    pub constraint: Option<String>,
}

/// `releasy download`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without --version, the newest release on --channel (and the more stable ones) that the
key may have is used, as the server's `latest` answers it: semver order, yanked
releases skipped (numbers compare as numbers: 1.10.0 > 1.9.0; a pre-release such as
2.0.0-rc.1 < 2.0.0). The
file is written to PATH.part first and renamed to PATH only when its sha256 matches the
listed checksum; on a mismatch it is deleted and the exit code is 7. A PATH.part left by
an interrupted download of this artifact is resumed with a Range request; PATH itself is
never resumed (a shorter PATH is taken for an older version and downloaded over whole).
A PATH that already holds the artifact is not downloaded again.")]
pub struct DownloadArgs {
    /// Product
    pub product: String,
    /// Version [default: the newest on --channel, as `latest` answers]
    #[arg(long)]
    pub version: Option<String>,
    /// Channel followed without --version: it and every more stable one
    #[arg(long, value_parser = CHANNELS, default_value = "stable")]
    pub channel: String,
    /// Platform; needed when the release has files for several platforms
    #[arg(long)]
    pub platform: Option<String>,
    /// File name; needed when the platform has several files
    #[arg(long)]
    pub file: Option<String>,
    /// Where to write: a file, or a directory (existing, or ending in /) [default: the file's name]
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Ask for download links that work at most N times (1: single use), so a link
    /// that leaks from a log or a proxy cannot be replayed. Each link is followed once
    /// (a resumed transfer asks for a fresh one) [default: unlimited]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_uses: Option<u32>,
}
