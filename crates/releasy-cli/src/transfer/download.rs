//! A streamed `GET` of a download link into a `.part` file: follows the redirect to
//! the storage URL by hand, asks for the missing bytes only (`Range`) when part of the
//! file is already there, and hashes everything written.

use std::io::SeekFrom;
use std::path::Path;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, LOCATION, RANGE};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::{CHUNK, Progress, hex};
use crate::api::ApiError;
use crate::error::CliError;

/// At most this many redirects are followed.
const MAX_REDIRECTS: usize = 5;

/// A finished transfer into the `.part` file.
#[derive(Debug)]
pub struct Fetched {
    /// Bytes that were already there and were not fetched again.
    pub resumed_from: u64,
    /// The whole file's length.
    pub bytes: u64,
    /// The whole file's sha256.
    pub sha256: String,
}

/// How a transfer ended.
#[derive(Debug)]
pub enum Fetch {
    /// The file is complete (its hash still has to be checked).
    Complete(Fetched),
    /// The server cannot serve the missing range: start again from nothing.
    RangeRefused,
    /// The storage refused the link (`403`: it expired before it was used); nothing
    /// was written, and `hasher` is handed back as it came.
    LinkRefused {
        /// The hash of the `.part` file's first `offset` bytes.
        hasher: Sha256,
    },
    /// The link or the storage failed on its side (`5xx`: S3's `503 SlowDown`, a
    /// server restarting behind its proxy); nothing was written, and `hasher` is handed
    /// back as it came.
    ServerError {
        /// The hash of the `.part` file's first `offset` bytes.
        hasher: Sha256,
        /// The status it answered.
        status: u16,
    },
    /// The connection broke midway; the `.part` file holds `bytes` bytes, all fed into
    /// `hasher`, so a fresh link can continue from there.
    Interrupted {
        /// Everything written so far, hashed.
        hasher: Sha256,
        /// How much is in the `.part` file.
        bytes: u64,
        /// What broke.
        cause: reqwest::Error,
    },
}

/// Downloads `url` into `part`, keeping its first `offset` bytes (already fed into
/// `hasher`) when the server honours the range. Stops after `expected` bytes.
///
/// # Errors
/// [`CliError::Api`] for an error status or a network failure, [`CliError::Io`] when
/// the file cannot be written.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
    part: &Path,
    expected: u64,
    mut hasher: Sha256,
    mut offset: u64,
    progress: impl Fn(u64) -> Progress,
) -> Result<Fetch, CliError> {
    let response = follow(http, url, offset).await?;
    match response.status() {
        StatusCode::PARTIAL_CONTENT if offset > 0 => {
            let start = range_start(&response);
            if start != Some(offset) {
                return Err(ApiError::Unexpected {
                    status: 206,
                    detail: format!("asked for bytes from {offset}, got {start:?}"),
                }
                .into());
            }
        }
        StatusCode::OK => {
            // The server sent the whole file (it ignored the range, or none was asked).
            hasher = Sha256::new();
            offset = 0;
        }
        StatusCode::RANGE_NOT_SATISFIABLE => return Ok(Fetch::RangeRefused),
        // The download link answers 404 for its refusals: a 403 comes from the storage.
        StatusCode::FORBIDDEN => return Ok(Fetch::LinkRefused { hasher }),
        status if status.is_server_error() => {
            return Ok(Fetch::ServerError {
                hasher,
                status: status.as_u16(),
            });
        }
        status if status.is_success() => {
            return Err(ApiError::Unexpected {
                status: status.as_u16(),
                detail: "expected the file".to_owned(),
            }
            .into());
        }
        _ => return Err(ApiError::from_response(response).await.into()),
    }

    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(part)
        .await
        .map_err(|e| CliError::io(part, e))?;
    file.set_len(offset)
        .await
        .map_err(|e| CliError::io(part, e))?;
    let mut writer = BufWriter::with_capacity(CHUNK, file);
    writer
        .seek(SeekFrom::Start(offset))
        .await
        .map_err(|e| CliError::io(part, e))?;

    let progress = progress(offset);
    let mut bytes = offset;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                progress.abandon();
                writer.flush().await.map_err(|e| CliError::io(part, e))?;
                return Ok(Fetch::Interrupted {
                    hasher,
                    bytes,
                    cause: e,
                });
            }
        };
        writer
            .write_all(&chunk)
            .await
            .map_err(|e| CliError::io(part, e))?;
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        progress.advance(chunk.len() as u64);
        if bytes > expected {
            // More than the listed size: the hash check will fail; stop reading.
            break;
        }
    }
    writer.flush().await.map_err(|e| CliError::io(part, e))?;
    writer
        .get_ref()
        .sync_all()
        .await
        .map_err(|e| CliError::io(part, e))?;
    progress.finish();
    Ok(Fetch::Complete(Fetched {
        resumed_from: offset,
        bytes,
        sha256: hex(hasher),
    }))
}

/// Sends the `GET` (with `Range` from `offset`), following redirects without
/// credentials.
async fn follow(
    http: &reqwest::Client,
    url: &str,
    offset: u64,
) -> Result<reqwest::Response, CliError> {
    let mut url = reqwest::Url::parse(url).map_err(|e| ApiError::Unexpected {
        status: 200,
        detail: format!("the download URL is not a URL: {e}"),
    })?;
    for _ in 0..=MAX_REDIRECTS {
        let mut request = http.get(url.clone());
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::network(&url, e))?;
        if !response.status().is_redirection() {
            return Ok(response);
        }
        let next = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| url.join(location).ok())
            .ok_or_else(|| ApiError::Unexpected {
                status: response.status().as_u16(),
                detail: "a redirect without a usable Location".to_owned(),
            })?;
        url = next;
    }
    Err(ApiError::Unexpected {
        status: 302,
        detail: format!("more than {MAX_REDIRECTS} redirects"),
    }
    .into())
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` answer.
fn range_start(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}
