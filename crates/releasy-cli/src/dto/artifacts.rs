//! Artifact bodies: presign, register.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /v1/releases/{id}/artifacts/presign`.
#[derive(Debug, Serialize)]
pub struct PresignRequest {
    /// The file's name.
    pub filename: String,
    /// Target platform.
    pub platform: String,
    /// Its size: above the server's part size the upload is in parts.
    pub size: u64,
    /// Its sha256, which registration must match.
    pub checksum: String,
}

/// Where to upload.
#[derive(Debug, Clone, Deserialize)]
pub struct PresignResponse {
    /// The id to register the artifact under.
    pub artifact_id: String,
    /// The object key to register.
    pub object_key: String,
    /// Presigned PUT URL (a secret: never printed); `None` for an upload in parts.
    pub upload_url: Option<String>,
    /// Headers the `PUT` to `upload_url` must carry (S3's `x-amz-checksum-sha256`).
    #[serde(default)]
    pub upload_headers: BTreeMap<String, String>,
    /// When the URLs expire (Unix seconds).
    pub expires_at: i64,
    /// The upload in parts, when the file is larger than the server's part size.
    #[serde(default)]
    pub multipart: Option<Multipart>,
}

/// An upload in parts: its plan and presigned part URLs.
#[derive(Debug, Clone, Deserialize)]
pub struct Multipart {
    /// Bytes per part (the last holds the rest).
    pub part_size: u64,
    /// How many parts.
    pub part_count: u32,
    /// A presigned `PUT` per part still to send.
    pub parts: Vec<PartUrl>,
}

/// One part's presigned `PUT` (a secret: never printed).
#[derive(Debug, Clone, Deserialize)]
pub struct PartUrl {
    /// Which part.
    pub part_number: u32,
    /// Where to `PUT` it.
    pub upload_url: String,
}

/// `GET /v1/releases/{id}/artifacts/{artifact_id}/upload`.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadState {
    /// The parts the server holds.
    pub uploaded_parts: Vec<UploadedPart>,
    /// Fresh URLs for the parts still to send.
    pub multipart: Option<Multipart>,
    /// When those URLs expire (Unix seconds).
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A part the server holds.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadedPart {
    /// Which part.
    pub part_number: u32,
    /// Its size.
    pub size: u64,
    /// Its ETag, when the store reports it.
    pub etag: Option<String>,
}

/// A part named at registration.
#[derive(Debug, Clone, Serialize)]
pub struct CompletedPart {
    /// Which part.
    pub part_number: u32,
    /// The ETag its `PUT` was answered with.
    pub etag: String,
}

/// `POST /v1/releases/{id}/artifacts`.
#[derive(Debug, Serialize)]
pub struct RegisterRequest {
    /// From the presign step.
    pub artifact_id: String,
    /// From the presign step.
    pub object_key: String,
    /// sha256, 64 lowercase hex characters.
    pub checksum: String,
    /// Size in bytes.
    pub size: u64,
    /// Platform.
    pub platform: String,
    /// For an upload in parts: every part, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<CompletedPart>>,
}

/// A registered artifact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Artifact {
    /// Artifact id.
    pub id: String,
    /// Its release.
    pub release_id: String,
    /// Where its bytes are stored.
    pub object_key: String,
    /// sha256.
    pub checksum: String,
    /// Size in bytes.
    pub size: u64,
    /// Platform.
    pub platform: String,
    /// Registration time (Unix seconds).
    pub created_at: i64,
    /// `verified`, `pending` (being checked; not downloadable yet), `failed` or
    /// `unverified`; absent from servers that do not check bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
}
