//! Download token bodies.

use serde::{Deserialize, Serialize};

/// `POST /v1/downloads/token`.
#[derive(Debug, Serialize)]
pub struct TokenRequest {
    /// The artifact.
    pub artifact_id: String,
    /// Why (kept with the token).
    pub purpose: String,
    /// How many times the link may be followed (unlimited when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}

/// A download link (a secret: never printed).
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    /// `GET` it, following the redirect.
    pub download_url: String,
}
