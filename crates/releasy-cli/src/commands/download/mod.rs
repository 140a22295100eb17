//! `releasy download PRODUCT [--version V] [--platform P] [--file NAME] [-o PATH]`:
//! choose the artifact, get a download token, follow the redirect, stream into
//! `PATH.part` (resuming with `Range` from what an earlier run of the same artifact left
//! there), verify the sha256 against the listed checksum, and only then rename to
//! `PATH`. On a mismatch the partial file is deleted and the run fails with exit code 7;
//! `PATH` is never written otherwise. Download links live a few minutes: a transfer that
//! breaks (or a link the storage refuses as expired) continues from the bytes already
//! there on a fresh link.

mod local;
mod part;
mod select;

pub use select::latest_release;

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Context;
use crate::api::{ApiError, Role};
use crate::cli::DownloadArgs;
use crate::dto::{ArtifactSummary, Release, TokenRequest, TokenResponse};
use crate::error::CliError;
use crate::transfer::{Fetch, Fetched, Progress, fetch, hex};
use local::{digest, file_len, target_path};
use part::PartFile;
use select::{choose_artifact, choose_release};

/// Sent with each download token, kept in the server's records.
const PURPOSE: &str = "releasy-cli download";

/// Fresh links tried in a row, each after a broken or refused transfer that brought no
/// new byte, before the download gives up.
const FRESH_LINKS_WITHOUT_PROGRESS: u32 = 3;

/// How long, from the first failure in a row, a download token whose answer was lost
/// (the network down, the server restarting behind its proxy) is asked for again.
const TOKEN_PATIENCE: Duration = Duration::from_secs(30);

/// What was done.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum DownloadStatus {
    /// Downloaded (and verified) now.
    Downloaded,
    /// The target already held the artifact.
    AlreadyPresent,
}

/// What `download --json` prints.
#[derive(Debug, Serialize)]
struct DownloadReport {
    path: String,
    product: String,
    version: String,
    platform: String,
    file_name: String,
    artifact_id: String,
    size: u64,
    sha256: String,
    resumed_from: u64,
    status: DownloadStatus,
    /// When the release was yanked (fetched because `--version` named it).
    #[serde(skip_serializing_if = "Option::is_none")]
    yanked_at: Option<i64>,
}

/// Runs `download`.
///
/// # Errors
/// [`CliError`]; [`CliError::ChecksumMismatch`] when the bytes do not match.
pub async fn run(ctx: &Context, args: DownloadArgs) -> Result<(), CliError> {
    let client = ctx.client(Role::Customer)?;
    let version = args.version.as_deref().map(str::trim);
    let release = choose_release(
        &client,
        args.product.trim(),
        version,
        &args.channel,
        args.platform.as_deref(),
    )
    .await?;
    if release.yanked_at.is_some() {
        // Asked for by name (a lockfile pins it): fetched, but not without a word.
        ctx.output.note(&format!(
            "warning: {} {} is yanked{}",
            release.product,
            release.version,
            release
                .yank_reason
                .as_deref()
                .map(|reason| format!(": {reason}"))
                .unwrap_or_default()
        ));
    }
    let artifact = choose_artifact(&release, args.platform.as_deref(), args.file.as_deref())?;
    let target = target_path(args.output.as_deref(), artifact.file_name(), &artifact.id);
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| CliError::io(dir, e))?;
    }
    let expected = artifact.checksum.to_ascii_lowercase();
    let size = artifact.size;

    if file_len(&target).await == Some(size)
        && digest(&target, size, ctx.progress).await? == expected
    {
        report(
            ctx,
            &release,
            &artifact,
            &target,
            0,
            DownloadStatus::AlreadyPresent,
        )?;
        return Ok(());
    }

    // `PATH` itself is never written to: only the verified part file replaces it.
    let (part, kept) = PartFile::claim(&target, &expected, size, ctx.progress).await?;
    let (mut hasher, mut offset) = (kept.hasher, kept.bytes);
    let mut restarted = false;
    let mut fruitless_links = 0;
    loop {
        let fetched = if offset == size {
            // A run that stopped between the last byte and the rename: nothing to fetch.
            Fetched {
                resumed_from: size,
                bytes: size,
                sha256: hex(hasher),
            }
        } else {
            let request = TokenRequest {
                artifact_id: artifact.id.clone(),
                purpose: PURPOSE.to_owned(),
                max_uses: args.max_uses,
            };
            // Asked again while lost: a transfer that broke because the network did is
            // not ended by the next request failing the same way, and a token issued
            // before its answer was lost is replayed, not issued (and recorded) again.
            let token: TokenResponse = client
                .post_until_answered("/v1/downloads/token", &request, TOKEN_PATIENCE, |err| {
                    ctx.output.note(&format!(
                        "asking for a download link failed ({err}); asking again"
                    ));
                })
                .await?
                .body;
            if offset > 0 {
                ctx.output
                    .note(&format!("resuming {} from byte {offset}", target.display()));
            }
            let label = format!("download {}", artifact.file_name());
            let mode = ctx.progress;
            let outcome = fetch(
                client.storage(),
                &token.download_url,
                part.path(),
                size,
                hasher,
                offset,
                |from| Progress::start(mode, label.clone(), size, from),
            )
            .await?;
            match outcome {
                Fetch::Complete(fetched) => fetched,
                Fetch::RangeRefused if !restarted => {
                    part.restart().await?;
                    (hasher, offset, restarted) = (Sha256::new(), 0, true);
                    continue;
                }
                Fetch::RangeRefused => {
                    return Err(ApiError::Unexpected {
                        status: 416,
                        detail: "the storage refused a download from the start".to_owned(),
                    }
                    .into());
                }
                // A link lives a few minutes at most: a transfer that broke, or a link
                // that expired before its first byte, continues on a fresh one.
                Fetch::Interrupted {
                    hasher: so_far,
                    bytes,
                    cause,
                } => {
                    fruitless_links = if bytes > offset {
                        0
                    } else {
                        fruitless_links + 1
                    };
                    if fruitless_links >= FRESH_LINKS_WITHOUT_PROGRESS {
                        return Err(cause.into_error().into());
                    }
                    ctx.output.note(&format!(
                        "the transfer broke after {bytes} bytes ({cause}); continuing with a fresh link"
                    ));
                    (hasher, offset) = (so_far, bytes);
                    continue;
                }
                Fetch::ServerError {
                    hasher: unchanged,
                    status,
                } => {
                    fruitless_links += 1;
                    if fruitless_links >= FRESH_LINKS_WITHOUT_PROGRESS {
                        return Err(ApiError::Unexpected {
                            status,
                            detail: "the download failed on the server's side for every fresh link"
                                .to_owned(),
                        }
                        .into());
                    }
                    ctx.output.note(&format!(
                        "the download answered {status}; trying again with a fresh link"
                    ));
                    // A store shedding load (S3's SlowDown) is given a moment.
                    tokio::time::sleep(std::time::Duration::from_secs(u64::from(fruitless_links)))
                        .await;
                    hasher = unchanged;
                    continue;
                }
                Fetch::LinkRefused { hasher: unchanged } => {
                    fruitless_links += 1;
                    if fruitless_links >= FRESH_LINKS_WITHOUT_PROGRESS {
                        return Err(ApiError::Unexpected {
                            status: 403,
                            detail: "the storage refused every fresh download link".to_owned(),
                        }
                        .into());
                    }
                    ctx.output
                        .note("the storage refused the download link; asking for a fresh one");
                    hasher = unchanged;
                    continue;
                }
            }
        };
        if fetched.bytes == size && fetched.sha256 == expected {
            part.finish(&target).await?;
            report(
                ctx,
                &release,
                &artifact,
                &target,
                fetched.resumed_from,
                DownloadStatus::Downloaded,
            )?;
            return Ok(());
        }
        if fetched.resumed_from > 0 && !restarted {
            // The kept bytes were not this artifact's start after all (the part file
            // was changed since): start over once.
            ctx.output.note(
                "checksum mismatch after resuming: the partial file was not the start of \
                 this artifact; downloading again from the start",
            );
            part.restart().await?;
            (hasher, offset, restarted) = (Sha256::new(), 0, true);
            continue;
        }
        part.discard().await?;
        return Err(CliError::ChecksumMismatch {
            path: target.clone(),
            expected: expected.clone(),
            actual: fetched.sha256,
        });
    }
}

fn report(
    ctx: &Context,
    release: &Release,
    artifact: &ArtifactSummary,
    target: &Path,
    resumed_from: u64,
    status: DownloadStatus,
) -> Result<(), CliError> {
    let report = DownloadReport {
        path: target.display().to_string(),
        product: release.product.clone(),
        version: release.version.clone(),
        platform: artifact.platform.clone(),
        file_name: artifact.file_name().to_owned(),
        artifact_id: artifact.id.clone(),
        size: artifact.size,
        sha256: artifact.checksum.to_ascii_lowercase(),
        resumed_from,
        status,
        yanked_at: release.yanked_at,
    };
    ctx.output.emit(&report, || {
        let what = match status {
            DownloadStatus::Downloaded if resumed_from > 0 => {
                format!("downloaded (resumed from byte {resumed_from})")
            }
            DownloadStatus::Downloaded => "downloaded".to_owned(),
            DownloadStatus::AlreadyPresent => "already present".to_owned(),
        };
        format!(
            "{} {} ({}) {what}: {}, {} bytes, sha256 {} verified",
            report.product,
            report.version,
            report.platform,
            report.path,
            report.size,
            report.sha256
        )
    })
}
