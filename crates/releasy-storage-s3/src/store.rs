//! [`S3ObjectStore`]: the [`ObjectStore`] port on an S3-compatible bucket.

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use releasy_domain::Timestamp;
use releasy_domain::artifact::{
    Checksum, CompletedPart, ObjectKey, PartNumber, UploadId, UploadedPart,
};
use releasy_domain::ports::{
    CompleteMultipartError, DeclaredObject, ObjectMeta, ObjectStore, PresignedPut, PresignedUrl,
    StoreError,
};
use s3::Bucket;
use s3::command::Command;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::request::Request as _;
use s3::request::tokio_backend::ReqwestRequest;
use s3::serde_types::Part;
use sha2::{Digest as _, Sha256};

use crate::config::{CheckedPlace, S3Config, S3ConfigError};

/// The longest validity S3 accepts for a presigned URL: seven days.
pub const MAX_PRESIGN_EXPIRES_SECONDS: u32 = 604_800;

/// How long a completion that joins an upload's parts may take: an hour (S3 copies
/// them server-side, at its own pace).
const LONG_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// How long a streamed read may wait for the answer's headers, and then for each
/// chunk: a read of tens of gigabytes on a slow link takes hours and is never cut off
/// while bytes arrive, but a store that stops sending is given up on.
pub const READ_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a request this adapter sends itself (`ListParts`) may take, and its
/// connection: rust-s3's own default for its requests.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The header that carries a body's SHA-256 (base64): signed into a presigned `PUT`, S3
/// refuses any other body (400 `BadDigest`) and records the digest.
const CHECKSUM_SHA256: &str = "x-amz-checksum-sha256";

/// The header that makes a `PUT` conditional on no object being stored under the key.
const IF_NONE_MATCH: &str = "if-none-match";

/// The query parameter of a presigned `GET` that names the version to serve.
const VERSION_ID: &str = "versionId";

/// The header that makes a `HEAD` answer with the checksums S3 recorded.
const CHECKSUM_MODE: &str = "x-amz-checksum-mode";

/// The query parameter that makes S3 answer a presigned GET with this
/// `Content-Disposition` header.
const RESPONSE_CONTENT_DISPOSITION: &str = "response-content-disposition";

/// Artifact bytes in one bucket of an S3-compatible service.
///
/// Presigning is local (no request is made); `head` and `delete` are signed requests.
/// Its `Debug` shows where the bucket is, never the credentials.
pub struct S3ObjectStore {
    bucket: Box<Bucket>,
    /// The same bucket for joining an upload's parts, which lasts as long as the object
    /// is large: rust-s3's 60 s default would cut it off for multi-GiB objects.
    long_bucket: Box<Bucket>,
    /// The same bucket without a deadline, for streamed reads: they are bounded by
    /// [`Self::read_idle_timeout`] between chunks instead.
    stream_bucket: Box<Bucket>,
    read_idle_timeout: std::time::Duration,
    /// The same bucket sending `x-amz-checksum-mode: ENABLED` (signed) with each request.
    checksum_bucket: Box<Bucket>,
    /// Whether presigned `PUT`s carry `If-None-Match: *`.
    conditional_put: bool,
    client: reqwest::Client,
    region: String,
    endpoint: Option<String>,
    path_style: bool,
}

impl std::fmt::Debug for S3ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3ObjectStore")
            .field("bucket", &self.bucket.name())
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

impl S3ObjectStore {
    /// A store for `config.bucket`. Makes no request: a wrong bucket or wrong
    /// credentials show up at the first `head` or `delete`, or when a client uses a URL.
    ///
    /// With an endpoint the region is only the signing region; without one it must be
    /// an AWS region name rust-s3 knows (e.g. `eu-west-1`).
    ///
    /// # Errors
    /// [`S3ConfigError`] when a setting is empty, the region is unknown and no endpoint
    /// is given, the endpoint is not an `http(s)://host[:port]` URL, or rust-s3 refuses
    /// the settings.
    pub fn new(config: S3Config) -> Result<Self, S3ConfigError> {
        let CheckedPlace {
            endpoint,
            region: s3_region,
        } = config.checked()?;
        let S3Config {
            bucket,
            region,
            access_key,
            secret_key,
            path_style,
            ..
        } = config;
        let credentials = Credentials::new(Some(&access_key), Some(&secret_key), None, None, None)
            .map_err(|e| S3ConfigError::Client(Box::new(e)))?;
        let mut bucket = Bucket::new(&bucket, s3_region, credentials)
            .map_err(|e| S3ConfigError::Client(Box::new(e)))?;
        if path_style {
            bucket = bucket.with_path_style();
        }
        let long_bucket = bucket
            .with_request_timeout(LONG_REQUEST_TIMEOUT)
            .map_err(|e| S3ConfigError::Client(Box::new(e)))?;
        let mut stream_bucket = bucket.clone();
        stream_bucket.set_request_timeout(None);
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| S3ConfigError::Client(Box::new(e)))?;
        let mut checksum_mode = reqwest::header::HeaderMap::new();
        checksum_mode.insert(
            CHECKSUM_MODE,
            reqwest::header::HeaderValue::from_static("ENABLED"),
        );
        let checksum_bucket = bucket
            .with_extra_headers(checksum_mode)
            .map_err(|e| S3ConfigError::Client(Box::new(e)))?;
        Ok(Self {
            bucket,
            long_bucket,
            stream_bucket,
            read_idle_timeout: READ_IDLE_TIMEOUT,
            checksum_bucket: Box::new(checksum_bucket),
            conditional_put: false,
            client,
            region,
            endpoint,
            path_style,
        })
    }
}

impl S3ObjectStore {
    /// Streamed reads give up after `idle` without a byte (default
    /// [`READ_IDLE_TIMEOUT`]).
    #[must_use]
    pub fn with_read_idle_timeout(mut self, idle: std::time::Duration) -> Self {
        self.read_idle_timeout = idle;
        self
    }

    /// What a `HEAD` answered 404 means: no such object, unless the bucket itself is
    /// missing (a mistyped `RELEASY_ARTIFACT_BUCKET`, a bucket being moved), which a
    /// body-less `HEAD` answer cannot tell; a one-byte ranged `GET` (the same
    /// permission) asks for S3's error code. A missing bucket must not read as missing
    /// objects: a download would then judge every artifact's bytes changed.
    async fn missing(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        match self.bucket.get_object_range(key.as_str(), 0, Some(0)).await {
            Err(S3Error::HttpFailWithBody(404, body)) if body.contains("NoSuchBucket") => {
                Err(self.bucket_missing())
            }
            // A store that failed to answer says nothing about the object: a missing
            // object reads as changed bytes, which fails the artifact for good.
            Err(e) if !is_not_found(&e) => Err(store_error(e)),
            Ok(response) if response.status_code() >= 500 => Err(StoreError::Unavailable(
                format!("the store answered {}", response.status_code()).into(),
            )),
            // 404, or an object that appeared after the `HEAD` (its answer stands).
            _ => Ok(None),
        }
    }

    /// What a request answered `NoSuchBucket` reports.
    fn bucket_missing(&self) -> StoreError {
        StoreError::Unavailable(format!("the bucket {} does not exist", self.bucket.name()).into())
    }

    /// Makes every presigned whole-object `PUT` conditional (`If-None-Match: *`, signed
    /// in, which the client must then send as the presign answer's `upload_headers`
    /// say): once an object is stored under a key, no URL replaces it. Needs a store
    /// that honours the header (AWS S3 since 2024, MinIO, Ceph RGW, R2) and clients
    /// that send `upload_headers` (the `releasy` CLI does; older scripts may not).
    #[must_use]
    pub fn with_conditional_put(mut self, conditional: bool) -> Self {
        self.conditional_put = conditional;
        self
    }

    /// A presigned `GET` for `key` (of `version`, when given) that makes S3 answer with
    /// `Content-Disposition: attachment; filename="<last key segment>"`. Expiry as in
    /// `presign_put`.
    async fn presign_get_of(
        &self,
        key: &ObjectKey,
        version: Option<&str>,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        let expires = clamp_expiry(expires_in_seconds);
        let mut queries = HashMap::from([(
            RESPONSE_CONTENT_DISPOSITION.to_owned(),
            attachment_disposition(key),
        )]);
        if let Some(version) = version {
            queries.insert(VERSION_ID.to_owned(), version.to_owned());
        }
        let command = Command::PresignGet {
            expiry_secs: expires,
            custom_queries: Some(queries),
        };
        self.presign_at(key, command, now, expires).await
    }

    /// Signs `command` (a presign of `key` for `expires` seconds) dated `now`, not
    /// rust-s3's own later reading of the clock: the URL then expires exactly at
    /// `now + expires`. A link resolved from a download token must not outlive the
    /// token, and a signature dated by a clock read a moment later lands a second
    /// past it whenever that moment crosses into the next second.
    async fn presign_at(
        &self,
        key: &ObjectKey,
        command: Command<'_>,
        now: Timestamp,
        expires: u32,
    ) -> Result<PresignedUrl, StoreError> {
        let mut request = ReqwestRequest::new(&self.bucket, key.as_str(), command)
            .await
            .map_err(store_error)?;
        request.datetime = time::OffsetDateTime::from_unix_timestamp(now.unix_seconds())
            .map_err(|e| StoreError::Internal(Box::new(e)))?;
        let url = request.presigned().await.map_err(store_error)?;
        Ok(PresignedUrl {
            url,
            expires_at: now.plus_seconds(i64::from(expires)),
        })
    }
}

/// `expires_in_seconds` within what S3 accepts: at least 1 s, at most 7 days.
fn clamp_expiry(expires_in_seconds: i64) -> u32 {
    let clamped = expires_in_seconds.clamp(1, i64::from(MAX_PRESIGN_EXPIRES_SECONDS));
    u32::try_from(clamped).unwrap_or(MAX_PRESIGN_EXPIRES_SECONDS)
}

/// The `Content-Disposition` a download gets: `attachment` named after the key's last
/// segment. The naming rule already limits segments to `[a-z0-9._-]`; anything else
/// (a key from elsewhere) becomes `_` so the header cannot be broken out of.
fn attachment_disposition(key: &ObjectKey) -> String {
    let last = key.as_str().rsplit('/').next().unwrap_or_default();
    let filename: String = last
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    let filename = if filename.is_empty() {
        "download".to_owned()
    } else {
        filename
    };
    format!("attachment; filename=\"{filename}\"")
}

/// Sorts a rust-s3 failure into the port's two kinds: unavailable is what may pass
/// (the store unreachable or cut off midway, an answer S3 says to retry, a bucket
/// missing while it is moved), internal the rest. Request errors lose their URL (the
/// object's address), and no error carries a signature or credential.
pub(crate) fn store_error(error: S3Error) -> StoreError {
    match error {
        S3Error::Reqwest(e) => transport_error(e),
        S3Error::HttpFailWithBody(status, _) if is_transient_status(status) => {
            StoreError::Unavailable(Box::new(error))
        }
        // S3 may answer a completion `200 OK` with an error document when it failed
        // after the headers went out; rust-s3 reports that as a 200 failure.
        S3Error::HttpFailWithBody(200, ref body)
            if matches!(
                s3_error_code(body),
                "InternalError" | "SlowDown" | "RequestTimeout" | "ServiceUnavailable"
            ) =>
        {
            StoreError::Unavailable(Box::new(error))
        }
        S3Error::HttpFailWithBody(404, ref body) if body.contains("NoSuchBucket") => {
            StoreError::Unavailable(Box::new(error))
        }
        other => StoreError::Internal(Box::new(other)),
    }
}

/// Whether an HTTP status from the store asks to try again: 500 (`InternalError`), 503
/// (`SlowDown`), 502 and 504 from a proxy in front, and 429, which R2 and Google Cloud
/// Storage answer when they throttle. Not 501 and the like: a store lacking a feature
/// lacks it on every retry.
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502..=504)
}

/// A transport failure, without its URL (which carries a signature or the object's
/// address): unavailable when the store was unreachable, slow, or cut the answer off.
pub(crate) fn transport_error(error: reqwest::Error) -> StoreError {
    let unavailable = error.is_connect()
        || error.is_timeout()
        || error.is_request()
        // A body cut off midway: the connection reset, or closed early.
        || error.is_body()
        || error.is_decode();
    let error = error.without_url();
    if unavailable {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Internal(Box::new(error))
    }
}

/// `text` escaped for XML character data: an ETag comes from the client, and must not
/// change the document it is written into.
fn xml_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// A read given up on: the store sent nothing for `idle`.
fn stalled(idle: std::time::Duration) -> StoreError {
    StoreError::Unavailable(format!("the store sent nothing for {} s", idle.as_secs_f64()).into())
}

/// Whether rust-s3 reported an HTTP 404 (with `fail-on-err`, every non-2xx is an error).
fn is_not_found(error: &S3Error) -> bool {
    matches!(error, S3Error::HttpFailWithBody(404, _))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    /// A presigned `PUT` for `key`. The expiry is clamped to 1 s ..= 7 days; the
    /// signature is dated `now`, so the URL expires exactly at `expires_at`, `now` plus
    /// the clamped expiry.
    async fn presign_put(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        let expires = clamp_expiry(expires_in_seconds);
        let command = Command::PresignPut {
            expiry_secs: expires,
            custom_headers: None,
            custom_queries: None,
        };
        self.presign_at(key, command, now, expires).await
    }

    /// A presigned `PUT` with the headers the client must send, signed in: with
    /// `checksum`, `x-amz-checksum-sha256` (S3 refuses a body with another SHA-256, and
    /// records it for [`Self::recorded_sha256`]); when the store makes conditional
    /// uploads ([`S3ObjectStore::with_conditional_put`]), `If-None-Match: *` (S3 refuses
    /// the `PUT` once an object is stored under the key, `412 PreconditionFailed`). The
    /// declared size is not signed: a `Content-Length` header to send along would be
    /// one more thing a client must not get wrong, and the bucket is not the server's
    /// disk; registration checks the size.
    async fn presign_put_with(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
        declared: DeclaredObject<'_>,
    ) -> Result<PresignedPut, StoreError> {
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Some(checksum) = declared.checksum {
            headers.push((CHECKSUM_SHA256, checksum.to_base64()));
        }
        if self.conditional_put {
            headers.push((IF_NONE_MATCH, "*".to_owned()));
        }
        let mut signed = reqwest::header::HeaderMap::new();
        for (name, value) in &headers {
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|e| StoreError::Internal(Box::new(e)))?;
            signed.insert(*name, value);
        }
        let expires = clamp_expiry(expires_in_seconds);
        let command = Command::PresignPut {
            expiry_secs: expires,
            custom_headers: Some(signed),
            custom_queries: None,
        };
        Ok(PresignedPut {
            url: self.presign_at(key, command, now, expires).await?,
            headers: headers
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        })
    }

    /// A presigned `GET` of version `version` (`versionId`), otherwise as
    /// [`Self::presign_get`].
    async fn presign_get_version(
        &self,
        key: &ObjectKey,
        version: &str,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        self.presign_get_of(key, Some(version), now, expires_in_seconds)
            .await
    }

    /// A presigned `GET` for `key` that makes S3 answer with
    /// `Content-Disposition: attachment; filename="<last key segment>"`. Expiry as in
    /// [`Self::presign_put`].
    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        self.presign_get_of(key, None, now, expires_in_seconds)
            .await
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        match self.bucket.head_object(key.as_str()).await {
            Ok((_, 404)) => self.missing(key).await,
            Ok((head, _)) => {
                let size = head
                    .content_length
                    .and_then(|len| u64::try_from(len).ok())
                    .ok_or_else(|| {
                        StoreError::Internal("HEAD response has no valid Content-Length".into())
                    })?;
                Ok(Some(ObjectMeta {
                    size,
                    etag: head.e_tag,
                    version_id: head.version_id.and_then(pinnable_version),
                }))
            }
            Err(e) if is_not_found(&e) => self.missing(key).await,
            Err(e) => Err(store_error(e)),
        }
    }

    /// The `x-amz-checksum-sha256` S3 recorded for the object (a `HEAD` with
    /// `x-amz-checksum-mode: ENABLED`): there for a `PUT` presigned by
    /// [`Self::presign_put_with`], absent for other uploads and for uploads in parts
    /// (whose checksum, when any, is one of parts).
    async fn recorded_sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        let request = ReqwestRequest::new(&self.checksum_bucket, key.as_str(), Command::HeadObject)
            .await
            .map_err(store_error)?;
        match request.response_header().await {
            Ok((_, 404)) => Ok(None),
            Ok((headers, _)) => Ok(headers
                .get(CHECKSUM_SHA256)
                .and_then(|value| value.to_str().ok())
                .and_then(Checksum::from_base64)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Reads the object through SHA-256 (a streamed `GET`; nothing is held in memory),
    /// for as long as it takes while bytes keep arriving ([`READ_IDLE_TIMEOUT`]).
    async fn sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        let idle = self.read_idle_timeout;
        let started = self.stream_bucket.get_object_stream(key.as_str());
        let mut response = match tokio::time::timeout(idle, started).await {
            Err(_) => return Err(stalled(idle)),
            Ok(Ok(response)) => response,
            // A missing bucket is no missing object (which fails its artifact for good);
            // the answer's body says which, as it does for a delete.
            Ok(Err(S3Error::HttpFailWithBody(404, body))) => {
                return if body.contains("NoSuchBucket") {
                    Err(self.bucket_missing())
                } else {
                    Ok(None)
                };
            }
            Ok(Err(e)) => return Err(store_error(e)),
        };
        if response.status_code == 404 {
            // No body read: ask as for a `HEAD`.
            return self.missing(key).await.map(|_| None);
        }
        let mut hasher = Sha256::new();
        loop {
            match tokio::time::timeout(idle, response.bytes().next()).await {
                Err(_) => return Err(stalled(idle)),
                Ok(None) => break,
                Ok(Some(chunk)) => hasher.update(chunk.map_err(store_error)?),
            }
        }
        Ok(Some(Checksum::from_digest(&hasher.finalize().into())))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self.bucket.delete_object(key.as_str()).await {
            Ok(_) => Ok(()),
            // S3 answers 204 for a missing key; some compatible services answer 404
            // NoSuchKey. A missing bucket is a configuration error, not a missing object.
            Err(S3Error::HttpFailWithBody(404, body)) if !body.contains("NoSuchBucket") => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn start_multipart(
        &self,
        key: &ObjectKey,
        _part_size: u64,
    ) -> Result<UploadId, StoreError> {
        let started = self
            .bucket
            .initiate_multipart_upload(key.as_str(), "application/octet-stream")
            .await
            .map_err(store_error)?;
        UploadId::parse(started.upload_id).map_err(|e| StoreError::Internal(Box::new(e)))
    }

    /// A presigned `PUT ?partNumber=&uploadId=` (S3's `UploadPart`). Expiry as in
    /// [`Self::presign_put`].
    async fn presign_part(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        part: PartNumber,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        let expires = clamp_expiry(expires_in_seconds);
        let queries = HashMap::from([
            ("partNumber".to_owned(), part.get().to_string()),
            ("uploadId".to_owned(), upload.as_str().to_owned()),
        ]);
        let command = Command::PresignPut {
            expiry_secs: expires,
            custom_headers: None,
            custom_queries: Some(queries),
        };
        self.presign_at(key, command, now, expires).await
    }

    async fn list_parts(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
    ) -> Result<Option<Vec<UploadedPart>>, StoreError> {
        crate::list_parts::list_parts(&self.bucket, &self.client, key.as_str(), upload).await
    }

    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        parts: &[CompletedPart],
    ) -> Result<(), CompleteMultipartError> {
        let parts = parts
            .iter()
            .map(|part| Part {
                part_number: part.part_number.get(),
                // rust-s3 writes it into the request's XML as it is.
                etag: xml_text(&part.etag),
            })
            .collect();
        match self
            .long_bucket
            .complete_multipart_upload(key.as_str(), upload.as_str(), parts)
            .await
        {
            Ok(_) => Ok(()),
            Err(S3Error::HttpFailWithBody(404, body)) if body.contains("NoSuchUpload") => {
                Err(CompleteMultipartError::UploadNotFound)
            }
            Err(S3Error::HttpFailWithBody(400, body)) => Err(completion_refused(&body)),
            Err(e) => Err(CompleteMultipartError::Store(store_error(e))),
        }
    }

    async fn abort_multipart(&self, key: &ObjectKey, upload: &UploadId) -> Result<(), StoreError> {
        match self
            .bucket
            .abort_upload(key.as_str(), upload.as_str())
            .await
        {
            Ok(()) => Ok(()),
            Err(S3Error::HttpFailWithBody(404, body)) if !body.contains("NoSuchBucket") => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }
}

/// What a `400` to `CompleteMultipartUpload` means: the client's parts are wrong
/// (`InvalidPart`: a part missing or of another ETag; `InvalidPartOrder`;
/// `EntityTooSmall`), or the request failed for a reason of the store's
/// (`RequestTimeout`, `SlowDown`: try again; an expired credential, a wrong region:
/// the server's configuration), which the client must not be told to fix.
fn completion_refused(body: &str) -> CompleteMultipartError {
    match s3_error_code(body) {
        code @ ("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall") => {
            CompleteMultipartError::PartsRejected(code.to_owned())
        }
        code @ ("RequestTimeout" | "SlowDown") => CompleteMultipartError::Store(
            StoreError::Unavailable(format!("the store answered 400 {code}").into()),
        ),
        code => CompleteMultipartError::Store(StoreError::Internal(
            format!("the store refused to complete the upload: 400 {code}").into(),
        )),
    }
}

/// A version id that pins one version of an object. A bucket whose versioning is
/// suspended names every new object's version `null`, which the next `PUT` under the
/// key replaces: it pins nothing, so the object is judged by its ETag instead.
fn pinnable_version(version: String) -> Option<String> {
    (version != "null" && !version.is_empty()).then_some(version)
}

/// The `<Code>` of an S3 error document (`InvalidPart`, `EntityTooSmall`, ...), or a
/// generic phrase when the body has none.
fn s3_error_code(body: &str) -> &str {
    body.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or("the store refused the parts", |(code, _)| code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> S3Config {
        S3Config {
            bucket: "artifacts".into(),
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:9000/".into()),
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "super-secret-value".into(),
            path_style: true,
        }
    }

    #[test]
    fn an_etag_cannot_change_the_completion_document() {
        assert_eq!(xml_text("\"9b2cf535f27731c9\""), "\"9b2cf535f27731c9\"");
        assert_eq!(
            xml_text("\"x\"</ETag></Part><!--&"),
            "\"x\"&lt;/ETag&gt;&lt;/Part&gt;&lt;!--&amp;"
        );
    }

    #[tokio::test]
    async fn a_versioned_link_names_its_version_and_others_none() {
        let store = S3ObjectStore::new(config()).unwrap();
        let key = ObjectKey::from_stored("releases/app/1.0.0/linux/id/app.tgz".into());
        let now = Timestamp::from_unix_seconds(1_735_312_000);
        let pinned = store
            .presign_get_version(&key, "3HL4kqtJ+lcpX/o=", now, 60)
            .await
            .unwrap();
        let query: HashMap<String, String> = reqwest::Url::parse(&pinned.url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(query["versionId"], "3HL4kqtJ+lcpX/o=");
        assert_eq!(
            query["response-content-disposition"],
            "attachment; filename=\"app.tgz\""
        );
        let plain = store.presign_get(&key, now, 60).await.unwrap();
        assert!(!plain.url.contains("versionId"), "{}", plain.url);
    }

    #[test]
    fn expiry_is_clamped_to_what_s3_accepts() {
        assert_eq!(clamp_expiry(900), 900);
        assert_eq!(clamp_expiry(0), 1);
        assert_eq!(clamp_expiry(-5), 1);
        assert_eq!(clamp_expiry(604_800), 604_800);
        assert_eq!(clamp_expiry(604_801), 604_800);
        assert_eq!(clamp_expiry(i64::MAX), 604_800);
    }

    #[test]
    fn disposition_names_the_last_key_segment() {
        let key = ObjectKey::from_stored("releases/app/1.0.0/linux/id/app-1.0.tgz".into());
        assert_eq!(
            attachment_disposition(&key),
            "attachment; filename=\"app-1.0.tgz\""
        );
        let odd = ObjectKey::from_stored("x/a\"b;c\r\n.txt".into());
        assert_eq!(
            attachment_disposition(&odd),
            "attachment; filename=\"a_b_c__.txt\""
        );
        let empty = ObjectKey::from_stored("x/".into());
        assert_eq!(
            attachment_disposition(&empty),
            "attachment; filename=\"download\""
        );
    }

    #[test]
    fn s3_error_codes_are_read_from_the_body() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>InvalidPart</Code><Message>m</Message></Error>";
        assert_eq!(s3_error_code(body), "InvalidPart");
        assert_eq!(s3_error_code("oops"), "the store refused the parts");
    }

    #[test]
    fn settings_are_checked() {
        assert!(S3ObjectStore::new(config()).is_ok());

        let mut empty = config();
        empty.secret_key = " ".into();
        assert!(matches!(
            S3ObjectStore::new(empty),
            Err(S3ConfigError::Empty("secret_key"))
        ));

        let mut unknown = config();
        unknown.endpoint = None;
        unknown.region = "mars-north-1".into();
        assert!(matches!(
            S3ObjectStore::new(unknown),
            Err(S3ConfigError::UnknownRegion(_))
        ));

        let mut aws = config();
        aws.endpoint = None;
        aws.region = "eu-west-1".into();
        assert!(S3ObjectStore::new(aws).is_ok());
    }

    #[test]
    fn debug_shows_no_credentials() {
        let store = S3ObjectStore::new(config()).unwrap();
        let debug = format!("{store:?}");
        assert!(!debug.contains("super-secret-value"), "{debug}");
        assert!(!debug.contains("AKIDEXAMPLE"), "{debug}");
        assert!(debug.contains("artifacts"), "{debug}");
    }

    #[tokio::test]
    async fn presigned_urls_carry_the_clamped_expiry() {
        let store = S3ObjectStore::new(config()).unwrap();
        let key = ObjectKey::from_stored("releases/app/1.0.0/linux/id/app.tgz".into());
        let now = Timestamp::from_unix_seconds(1_000);

        let put = store.presign_put(&key, now, 900).await.unwrap();
        assert_eq!(put.expires_at, Timestamp::from_unix_seconds(1_900));
        assert!(
            put.url.starts_with(
                "http://127.0.0.1:9000/artifacts/releases/app/1.0.0/linux/id/app.tgz?"
            )
        );
        assert!(put.url.contains("X-Amz-Expires=900"), "{}", put.url);
        // Dated at the caller's instant, so it expires exactly at `expires_at`.
        assert!(
            put.url.contains("X-Amz-Date=19700101T001640Z"),
            "{}",
            put.url
        );
        assert!(put.url.contains("X-Amz-Signature="));

        let get = store.presign_get(&key, now, 10 * 604_800).await.unwrap();
        assert_eq!(
            get.expires_at,
            Timestamp::from_unix_seconds(1_000 + 604_800)
        );
        assert!(get.url.contains("X-Amz-Expires=604800"), "{}", get.url);
        assert!(
            get.url.contains("X-Amz-Date=19700101T001640Z"),
            "{}",
            get.url
        );
        assert!(
            get.url.contains("response-content-disposition=attachment"),
            "{}",
            get.url
        );
        assert!(!format!("{get:?}").contains("X-Amz-Signature"));
    }

    #[test]
    fn only_wrong_parts_are_the_clients_fault_at_completion() {
        let document = |code: &str| format!("<Error><Code>{code}</Code></Error>");
        for code in ["InvalidPart", "InvalidPartOrder", "EntityTooSmall"] {
            assert!(
                matches!(completion_refused(&document(code)), CompleteMultipartError::PartsRejected(c) if c == code),
                "{code}"
            );
        }
        for code in ["RequestTimeout", "SlowDown"] {
            assert!(
                matches!(
                    completion_refused(&document(code)),
                    CompleteMultipartError::Store(StoreError::Unavailable(_))
                ),
                "{code}"
            );
        }
        for code in [
            "AuthorizationHeaderMalformed",
            "ExpiredToken",
            "MalformedXML",
        ] {
            assert!(
                matches!(
                    completion_refused(&document(code)),
                    CompleteMultipartError::Store(StoreError::Internal(_))
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn a_null_version_pins_nothing() {
        assert_eq!(pinnable_version("null".into()), None);
        assert_eq!(pinnable_version(String::new()), None);
        assert_eq!(
            pinnable_version("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd".into()).as_deref(),
            Some("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
        );
    }
}
