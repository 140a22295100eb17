//! Streamed `PUT`s to presigned URLs: a whole file, hashing the bytes as they go, or
//! one part of it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;

use super::{CHUNK, Progress, hex};
use crate::api::ApiError;
use crate::error::CliError;

/// What went over the wire so far.
#[derive(Debug, Default)]
struct Tally {
    hasher: Sha256,
    bytes: u64,
}

/// Uploads `path` (`size` bytes) to `upload_url` with a `Content-Length` and the
/// `headers` the presign asked for, and returns the sha256 of the bytes sent.
///
/// # Errors
/// [`CliError::Io`] when the file cannot be read, [`CliError::FileChanged`] when its
/// size changed, [`CliError::Api`] when the storage refused or failed.
pub async fn put_file(
    http: &reqwest::Client,
    upload_url: &str,
    headers: &BTreeMap<String, String>,
    path: &Path,
    size: u64,
    progress: &Progress,
) -> Result<String, CliError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::io(path, e))?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let counted = {
        let tally = Arc::clone(&tally);
        let progress = progress.clone();
        ReaderStream::with_capacity(file, CHUNK).map(move |chunk| {
            if let Ok(bytes) = &chunk {
                let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
                tally.hasher.update(bytes);
                tally.bytes += bytes.len() as u64;
                progress.advance(bytes.len() as u64);
            }
            chunk
        })
    };
    let body = reqwest::Body::wrap_stream(counted);
    put(http, upload_url, headers, size, body).await?;
    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(PoisonError::into_inner));
    if tally.bytes != size {
        return Err(CliError::FileChanged {
            path: path.to_owned(),
        });
    }
    Ok(hex(tally.hasher))
}

/// Uploads bytes `offset..offset + len` of `path` to the part URL `upload_url` with a
/// `Content-Length`, and returns the `ETag` the store answered with. Bytes it counted
/// on `progress` are taken back when it fails: a part is sent whole or not at all.
///
/// # Errors
/// As [`put_file`]; an answer without an `ETag` is [`ApiError::Unexpected`].
pub async fn put_part(
    http: &reqwest::Client,
    upload_url: &str,
    path: &Path,
    offset: u64,
    len: u64,
    progress: &Progress,
) -> Result<String, CliError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::io(path, e))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| CliError::io(path, e))?;
    let advanced = Arc::new(AtomicU64::new(0));
    let counted = {
        let (progress, advanced) = (progress.clone(), Arc::clone(&advanced));
        ReaderStream::with_capacity(file.take(len), CHUNK).inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                advanced.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                progress.advance(bytes.len() as u64);
            }
        })
    };
    let body = reqwest::Body::wrap_stream(counted);
    let sent = put(http, upload_url, &BTreeMap::new(), len, body)
        .await
        .and_then(|response| etag_of(&response));
    if sent.is_err() {
        progress.retract(advanced.load(Ordering::Relaxed));
    }
    sent
}

/// The `ETag` a part's upload was answered with.
fn etag_of(response: &reqwest::Response) -> Result<String, CliError> {
    response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|etag| etag.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::Unexpected {
                status: response.status().as_u16(),
                detail: "the store answered a part upload without an ETag".to_owned(),
            }
            .into()
        })
}

/// `PUT`s `body` (`len` bytes) to the presigned `upload_url` with `headers`; the answer
/// when it is a success.
async fn put(
    http: &reqwest::Client,
    upload_url: &str,
    headers: &BTreeMap<String, String>,
    len: u64,
    body: reqwest::Body,
) -> Result<reqwest::Response, CliError> {
    let url = reqwest::Url::parse(upload_url).map_err(|e| ApiError::Unexpected {
        status: 200,
        detail: format!("the upload URL is not a URL: {e}"),
    })?;
    let mut request = http
        .put(url.clone())
        .header(reqwest::header::CONTENT_LENGTH, len);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| ApiError::network(&url, e))?;
    if !response.status().is_success() {
        return Err(ApiError::from_response(response).await.into());
    }
    Ok(response)
}
