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
    },
    /// List releases, newest first
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
    /// Parts of a large file sent at once
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallel: u16,
    /// Files to upload, as FILE or FILE:PLATFORM
    #[arg(required = true, value_name = "FILE[:PLATFORM]")]
    pub files: Vec<String>,
}
