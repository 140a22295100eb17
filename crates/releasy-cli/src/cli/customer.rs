//! Customer commands: what the key may see, and downloads.

use std::path::PathBuf;

use clap::Args;

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

/// `releasy download`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without --version, the highest published version the key may see is used (numbers
compare as numbers: 1.10.0 > 1.9.0; a pre-release such as 2.0.0-rc.1 < 2.0.0). The
file is written to PATH.part first and renamed to PATH only when its sha256 matches the
listed checksum; on a mismatch it is deleted and the exit code is 7. A PATH.part left by
an interrupted download (or a PATH shorter than the artifact) is resumed with a Range
request. A PATH that already holds the artifact is not downloaded again.")]
pub struct DownloadArgs {
    /// Product
    pub product: String,
    /// Version [default: the highest published]
    #[arg(long)]
    pub version: Option<String>,
    /// Platform; needed when the release has files for several platforms
    #[arg(long)]
    pub platform: Option<String>,
    /// File name; needed when the platform has several files
    #[arg(long)]
    pub file: Option<String>,
    /// Where to write: a file, or a directory (existing, or ending in /) [default: the file's name]
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}
