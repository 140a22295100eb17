//! Artifact bodies.

use std::collections::BTreeMap;

use releasy_domain::artifact::{
    Artifact, Checksum, MultipartUpload, PresignedPart, PresignedUpload, UploadState, UploadTarget,
    Verification,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/releases/{release_id}/artifacts/presign`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PresignArtifactRequest {
    /// The file's name (normalised into the object key).
    pub filename: String,
    /// Target platform, such as `linux-x86_64`.
    pub platform: String,
    /// The file's size in bytes (> 0). Above `RELEASY_ARTIFACT_PART_SIZE_BYTES` the file
    /// is uploaded in parts (`multipart` in the response); registration must declare
    /// the same size. On the embedded store a single `upload_url` then stores no more
    /// than this (`413 payload_too_large`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// The file's SHA-256 (64 hex characters); registration must declare the same. For
    /// a single upload, a store that can refuse other bytes is told to (S3 then needs
    /// the headers in `upload_headers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Headers to send with a presigned `PUT`, by name; they are part of its signature.
pub type UploadHeaders = BTreeMap<String, String>;

/// Where to upload.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PresignArtifactResponse {
    /// The id to register the artifact under.
    pub artifact_id: String,
    /// The object key to register.
    pub object_key: String,
    /// A presigned URL: `PUT` the file's bytes to it. `null` when the file is uploaded
    /// in parts (see `multipart`).
    pub upload_url: Option<String>,
    /// Present when the `PUT` to `upload_url` must carry these headers, as given (on
    /// S3, `x-amz-checksum-sha256` when `checksum` was declared: S3 then refuses other
    /// bytes with 400 `BadDigest`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub upload_headers: UploadHeaders,
    /// When the upload URL (or every part URL) expires (Unix seconds).
    pub expires_at: i64,
    /// Present when the declared size calls for an upload in parts: `PUT` each part's
    /// bytes to its URL, keep each answer's `ETag` header, and register with `parts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartDto>,
}

/// An upload in parts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MultipartDto {
    /// The store's id for the upload.
    pub upload_id: String,
    /// Bytes per part: part `n` holds bytes `(n - 1) * part_size` up to
    /// `n * part_size` of the file (the last part holds the rest).
    pub part_size: i64,
    /// How many parts make the file.
    pub part_count: i64,
    /// A presigned `PUT` per part (at presign: every part; in an upload's state: the
    /// parts still missing).
    pub parts: Vec<PartUrlDto>,
}

/// One part's presigned `PUT`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PartUrlDto {
    /// 1 to 10000.
    pub part_number: i64,
    /// `PUT` the part's bytes here; the answer's `ETag` header names the part.
    pub upload_url: String,
}

impl MultipartDto {
    fn new(upload: &MultipartUpload, parts: Vec<PresignedPart>) -> Self {
        Self {
            upload_id: upload.upload_id.as_str().to_owned(),
            part_size: i64::try_from(upload.part_size).unwrap_or(i64::MAX),
            part_count: i64::from(upload.part_count),
            parts: parts
                .into_iter()
                .map(|part| PartUrlDto {
                    part_number: i64::from(part.part_number.get()),
                    upload_url: part.upload.url,
                })
                .collect(),
        }
    }
}

/// When the URLs of `parts` expire: they are made together.
fn parts_expiry(parts: &[PresignedPart]) -> Option<i64> {
    parts.first().map(|p| p.upload.expires_at.unix_seconds())
}

impl From<PresignedUpload> for PresignArtifactResponse {
    fn from(p: PresignedUpload) -> Self {
        let (upload_url, upload_headers, expires_at, multipart) = match p.target {
            UploadTarget::Single(put) => (
                Some(put.url.url),
                put.headers.into_iter().collect(),
                put.url.expires_at.unix_seconds(),
                None,
            ),
            UploadTarget::Multipart { upload, parts } => (
                None,
                UploadHeaders::new(),
                parts_expiry(&parts).unwrap_or_default(),
                Some(MultipartDto::new(&upload, parts)),
            ),
        };
        Self {
            artifact_id: p.artifact_id.to_string(),
            object_key: p.object_key.into_string(),
            upload_url,
            upload_headers,
            expires_at,
            multipart,
        }
    }
}

/// `POST /v1/releases/{release_id}/artifacts`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterArtifactRequest {
    /// From the presign step.
    pub artifact_id: String,
    /// From the presign step.
    pub object_key: String,
    /// SHA-256 of the uploaded bytes, 64 hex characters.
    pub checksum: String,
    /// Size in bytes (> 0); must equal the stored object's size.
    pub size: i64,
    /// Platform, as presigned.
    pub platform: String,
    /// For an upload in parts: every part, in order, with the `ETag` its `PUT` was
    /// answered with. Completes the upload before the checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<CompletedPartDto>>,
    /// Operating system (`linux`, `macos`, `windows`, ...); default: derived from the
    /// platform (`linux-x86_64` -> `linux`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Architecture (`x86_64`, `aarch64`, ...); default: derived from the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// File type (`tar.gz`, `dmg`, `msi`, ...); default: the file name's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filetype: Option<String>,
}

/// A part named at registration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CompletedPartDto {
    /// 1 to 10000.
    pub part_number: i64,
    /// The `ETag` header of the part's `PUT` answer, quotes included.
    pub etag: String,
}

/// `GET /v1/releases/{release_id}/artifacts/{artifact_id}/upload`: an unfinished upload.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadStateResponse {
    /// The artifact the upload is for.
    pub artifact_id: String,
    /// Where its bytes go.
    pub object_key: String,
    /// The size declared at presign, if any.
    pub size: Option<i64>,
    /// The checksum declared at presign, if any.
    pub checksum: Option<String>,
    /// The parts the store holds whole: do not send these again.
    pub uploaded_parts: Vec<UploadedPartDto>,
    /// For a single upload: a fresh URL to `PUT` the file to.
    pub upload_url: Option<String>,
    /// Present when the `PUT` to `upload_url` must carry these headers, as given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub upload_headers: UploadHeaders,
    /// When the fresh URLs expire (Unix seconds).
    pub expires_at: Option<i64>,
    /// For an upload in parts: fresh URLs for the parts still missing.
    pub multipart: Option<MultipartDto>,
    /// When the upload was presigned (Unix seconds).
    pub created_at: i64,
}

/// A part the store holds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadedPartDto {
    /// 1 to 10000.
    pub part_number: i64,
    /// Its size in bytes.
    pub size: i64,
    /// Its `ETag`, to name it at registration (`null` where the store does not report
    /// it when listing parts).
    pub etag: Option<String>,
}

impl From<UploadState> for UploadStateResponse {
    fn from(state: UploadState) -> Self {
        let upload = state.upload;
        let expires_at = state
            .single_put
            .as_ref()
            .map(|put| put.url.expires_at.unix_seconds())
            .or_else(|| parts_expiry(&state.missing_parts));
        let (upload_url, upload_headers) = match state.single_put {
            Some(put) => (Some(put.url.url), put.headers.into_iter().collect()),
            None => (None, UploadHeaders::new()),
        };
        let multipart = upload
            .multipart
            .as_ref()
            .map(|m| MultipartDto::new(m, state.missing_parts));
        Self {
            artifact_id: upload.artifact_id.to_string(),
            object_key: upload.object_key.into_string(),
            size: upload
                .size
                .map(|s| i64::try_from(s.bytes()).unwrap_or(i64::MAX)),
            checksum: upload.checksum.map(Checksum::into_string),
            uploaded_parts: state
                .uploaded_parts
                .into_iter()
                .map(|part| UploadedPartDto {
                    part_number: i64::from(part.part_number.get()),
                    size: i64::try_from(part.size).unwrap_or(i64::MAX),
                    etag: part.etag,
                })
                .collect(),
            upload_url,
            upload_headers,
            expires_at,
            multipart,
            created_at: upload.created_at.unix_seconds(),
        }
    }
}

/// A registered artifact.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtifactResponse {
    /// Artifact id.
    pub id: String,
    /// Its release.
    pub release_id: String,
    /// Where its bytes are stored.
    pub object_key: String,
    /// SHA-256.
    pub checksum: String,
    /// Size in bytes.
    pub size: i64,
    /// Platform.
    pub platform: String,
    /// Operating system, given or derived from the platform; left out when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Architecture, given or derived from the platform; left out when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// File type, given or the file name's extension; left out when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filetype: Option<String>,
    /// Registration time (Unix seconds).
    pub created_at: i64,
    /// Whether the stored bytes were checked against `size` and `checksum`.
    pub verification: VerificationDto,
}

/// Where an artifact stands with the check of its stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerificationDto {
    /// The stored bytes have the declared size and SHA-256.
    Verified,
    /// Being checked in the background; downloads answer 403 until it is verified.
    Pending,
    /// The stored bytes are not what was declared; downloads answer 403.
    Failed,
    /// Registered before the server checked bytes; still downloadable
    /// (`releasy-server verify-artifacts` checks it).
    Unverified,
}

impl From<Verification> for VerificationDto {
    fn from(v: Verification) -> Self {
        match v {
            Verification::Verified => Self::Verified,
            Verification::Pending => Self::Pending,
            Verification::Failed => Self::Failed,
            Verification::Unverified => Self::Unverified,
        }
    }
}

impl From<Artifact> for ArtifactResponse {
    fn from(a: Artifact) -> Self {
        Self {
            id: a.id.to_string(),
            release_id: a.release_id.to_string(),
            object_key: a.object_key.into_string(),
            checksum: a.checksum.into_string(),
            size: a.size.bytes() as i64,
            os: a.target.os.map(|l| l.as_str().to_owned()),
            arch: a.target.arch.map(|l| l.as_str().to_owned()),
            filetype: a.target.filetype.map(|l| l.as_str().to_owned()),
            platform: a.platform.into_string(),
            created_at: a.created_at.unix_seconds(),
            verification: a.verification.into(),
        }
    }
}
