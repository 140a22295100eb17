//! Artifact bodies.

use releasy_domain::artifact::{Artifact, PresignedUpload};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/releases/{release_id}/artifacts/presign`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PresignArtifactRequest {
    /// The file's name (normalised into the object key).
    pub filename: String,
    /// Target platform, such as `linux-x86_64`.
    pub platform: String,
}

/// Where to upload.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PresignArtifactResponse {
    /// The id to register the artifact under.
    pub artifact_id: String,
    /// The object key to register.
    pub object_key: String,
    /// A presigned URL: `PUT` the file's bytes to it.
    pub upload_url: String,
    /// When `upload_url` expires (Unix seconds).
    pub expires_at: i64,
}

impl From<PresignedUpload> for PresignArtifactResponse {
    fn from(p: PresignedUpload) -> Self {
        Self {
            artifact_id: p.artifact_id.to_string(),
            object_key: p.object_key.into_string(),
            upload_url: p.upload.url,
            expires_at: p.upload.expires_at.unix_seconds(),
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
    /// Registration time (Unix seconds).
    pub created_at: i64,
}

impl From<Artifact> for ArtifactResponse {
    fn from(a: Artifact) -> Self {
        Self {
            id: a.id.to_string(),
            release_id: a.release_id.to_string(),
            object_key: a.object_key.into_string(),
            checksum: a.checksum.into_string(),
            size: a.size.bytes() as i64,
            platform: a.platform.into_string(),
            created_at: a.created_at.unix_seconds(),
        }
    }
}
