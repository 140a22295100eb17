//! Vendor and CI commands: releases, artifact uploads, one-shot publish.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `releasy release ...`.
#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Create a draft release
    Create {
        /// Product name
        #[arg(long)]
        product: String,
        /// Version
        #[arg(long)]
        version: String,
        #[command(flatten)]
        details: ReleaseDetails,
    },
    /// List releases, newest first (or highest version first with --sort version)
    List {
        /// Only this product
        #[arg(long)]
        product: Option<String>,
        /// Only this version
        #[arg(long)]
        version: Option<String>,
        /// Only this status
        #[arg(long, value_parser = ["draft", "published"])]
        status: Option<String>,
        /// Only this channel and the more stable ones
        #[arg(long, value_parser = CHANNELS)]
        channel: Option<String>,
        /// The order: created (newest first) or version (highest first)
        #[arg(long, value_parser = ["created", "version"])]
        sort: Option<String>,
        /// Also list yanked releases (customer keys leave them out by default)
        #[arg(long)]
        include_yanked: bool,
        /// Include each release's artifacts
        #[arg(long)]
        artifacts: bool,
        /// Page size (1 to 200)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: Option<u32>,
        /// Releases to skip
        #[arg(long)]
        offset: Option<u64>,
    },
    /// Publish a draft release
    Publish {
        /// Release id, or PRODUCT@VERSION
        release: String,
    },
    /// Return a published release to draft
    Unpublish {
        /// Release id, or PRODUCT@VERSION
        release: String,
    },
    /// Delete a release with its artifacts and download links
    Delete {
        /// Release id, or PRODUCT@VERSION
        release: String,
    },
    /// Change a draft's channel, notes or metadata
    Update {
        /// Release id, or PRODUCT@VERSION
        release: String,
        #[command(flatten)]
        details: ReleaseDetails,
        /// Remove the notes
        #[arg(long, conflicts_with = "notes_file")]
        clear_notes: bool,
        /// Remove the metadata
        #[arg(long, conflicts_with = "metadata")]
        clear_metadata: bool,
    },
    /// Yank a release: updaters and customer listings skip it; its files stay
    /// downloadable by id unless --block-downloads
    Yank {
        /// Release id, or PRODUCT@VERSION
        release: String,
        /// Why (shown with the release)
        #[arg(long)]
        reason: String,
        /// Refuse download tokens for its artifacts too
        #[arg(long)]
        block_downloads: bool,
    },
    /// Lift a release's yank
    Unyank {
        /// Release id, or PRODUCT@VERSION
        release: String,
    },
}

/// The release channels, most stable first.
pub const CHANNELS: [&str; 5] = ["stable", "rc", "beta", "alpha", "dev"];

/// What a new release may carry besides its version.
#[derive(Debug, Args)]
pub struct ReleaseDetails {
    /// Channel [default: the one the version implies: 2.0.0-rc.1 is rc]
    #[arg(long, value_parser = CHANNELS)]
    pub channel: Option<String>,
    /// A markdown file with the release notes (at most 64 KiB)
    #[arg(long, value_name = "FILE")]
    pub notes_file: Option<PathBuf>,
    /// A JSON object of metadata, such as '{"min_os":"13.0"}'
    #[arg(long, value_name = "JSON", value_parser = parse_json_object)]
    pub metadata: Option<serde_json::Value>,
}

fn parse_json_object(text: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("must be a JSON object".to_owned()),
        Err(err) => Err(format!("not JSON: {err}")),
    }
}

/// `releasy artifact ...`.
#[derive(Debug, Subcommand)]
pub enum ArtifactCommand {
    /// Upload files to a release: presign, streamed PUT (in parts above the server's
    /// part size), register with sha256 and size. Safe to re-run: files already
    /// registered are skipped, and an interrupted upload in parts resumes.
    Upload {
        /// Release id, or PRODUCT@VERSION
        release: String,
        /// Files to upload
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Platform of every file, such as linux-x86_64
        #[arg(long)]
        platform: String,
        /// Parts of a large file sent at once
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
        parallel: u16,
    },
}

/// `releasy publish`.
#[derive(Debug, Args)]
#[command(after_help = "\
Each FILE may name its platform after a colon: dist/app.tar.gz:linux-x86_64.
Files without one take --platform. Files larger than the server's part size (64 MiB by
default) are uploaded in parts, --parallel at a time. Re-running the same command after
a failure is safe: an existing release is reused, files already registered are skipped,
an interrupted upload in parts sends only the parts the server lacks, and the
idempotency keys sent are derived from the product, version, platform, file name and
sha256, so nothing is created twice. A release that is already published is success.")]
pub struct PublishArgs {
    /// Product name
    #[arg(long)]
    pub product: String,
    /// Version
    #[arg(long)]
    pub version: String,
    /// Platform for files that do not name one
    #[arg(long)]
    pub platform: Option<String>,
    /// Upload but leave the release a draft
    #[arg(long)]
    pub no_publish: bool,
    #[command(flatten)]
    pub details: ReleaseDetails,
    /// Parts of a large file sent at once
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallel: u16,
    /// Files to upload, as FILE or FILE:PLATFORM
    #[arg(required = true, value_name = "FILE[:PLATFORM]")]
    pub files: Vec<String>,
}
