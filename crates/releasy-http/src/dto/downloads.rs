//! Download bodies.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/downloads/token`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DownloadTokenRequest {
    /// The artifact to download.
    pub artifact_id: String,
    /// Why (kept with the token, at most 200 characters).
    #[serde(default)]
    pub purpose: Option<String>,
    /// Token lifetime, 1 to `RELEASY_DOWNLOAD_TOKEN_TTL_SECONDS` (the default).
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
    /// How many times the link may be followed, 1 (single use) to 1000000; as often as
    /// its lifetime allows when omitted.
    // Not serialized when absent, so the idempotency fingerprint of a request without it
    // is what it was before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<i64>,
}

/// A download link.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DownloadTokenResponse {
    /// `GET` it (following the redirect) to download.
    pub download_url: String,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
    /// How many times it may be followed; present only when the request set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}
