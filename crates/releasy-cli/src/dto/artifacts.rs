//! Artifact bodies: presign, register.

use serde::{Deserialize, Serialize};

/// `POST /v1/releases/{id}/artifacts/presign`.
#[derive(Debug, Serialize)]
pub struct PresignRequest {
    /// The file's name.
    pub filename: String,
    /// Target platform.
    pub platform: String,
}

/// Where to upload.
#[derive(Debug, Clone, Deserialize)]
pub struct PresignResponse {
    /// The id to register the artifact under.
    pub artifact_id: String,
    /// The object key to register.
    pub object_key: String,
    /// Presigned PUT URL (a secret: never printed).
    pub upload_url: String,
    /// When `upload_url` expires (Unix seconds).
    pub expires_at: i64,
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
}
