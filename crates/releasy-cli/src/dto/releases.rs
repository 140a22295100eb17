//! Release bodies.

use serde::{Deserialize, Serialize};

/// `POST /v1/releases`. The optional fields are left out when unset, so servers
/// without the release model (and idempotency keys of earlier runs) see what they
/// always saw.
#[derive(Debug, Default, Serialize)]
pub struct CreateRelease {
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// Channel; the server derives it from the version when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Release notes (markdown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// A JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// `PATCH /v1/releases/{id}`: `Some(None)` sends `null` (clears).
#[derive(Debug, Default, Serialize)]
pub struct UpdateRelease {
    /// New channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// New notes; `Some(None)` removes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Option<String>>,
    /// New metadata; `Some(None)` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Option<serde_json::Value>>,
}

/// `POST /v1/releases/{id}/yank`.
#[derive(Debug, Serialize)]
pub struct YankRelease {
    /// Why.
    pub reason: String,
    /// Refuse its downloads.
    pub block_downloads: bool,
}

/// `GET /v1/releases/upgrade` when there is a newer release.
#[derive(Debug, Serialize, Deserialize)]
pub struct Upgrade {
    /// The version asked about.
    pub current: String,
    /// The newest allowed release above it.
    pub release: Release,
}

/// An artifact as a release listing shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ArtifactSummary {
    /// Artifact id.
    pub id: String,
    /// Where its bytes are stored; the last segment is the file name.
    pub object_key: String,
    /// sha256, 64 hex characters.
    pub checksum: String,
    /// Size in bytes.
    pub size: u64,
    /// Platform.
    pub platform: String,
    /// Operating system, when the server knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Architecture, when the server knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// File type, when the server knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filetype: Option<String>,
    /// Registration time (Unix seconds).
    pub created_at: i64,
    /// `verified`, `pending`, `failed` or `unverified`; absent from servers that do not
    /// check bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
}

impl ArtifactSummary {
    /// The file name: the object key's last segment.
    pub fn file_name(&self) -> &str {
        self.object_key
            .rsplit('/')
            .next()
            .unwrap_or(self.object_key.as_str())
    }
}

/// A release.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Release {
    /// Release id.
    pub id: String,
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// `draft` or `published`.
    pub status: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Publication time (Unix seconds).
    pub published_at: Option<i64>,
    /// `stable`, `rc`, `beta`, `alpha` or `dev`; absent from servers without channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Release notes (markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Free-form JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// When it was yanked (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked_at: Option<i64>,
    /// Why it was yanked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yank_reason: Option<String>,
    /// Whether the yank refuses its downloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yank_blocks_downloads: Option<bool>,
    /// When its publication sealed it (immutable releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_at: Option<i64>,
    /// Artifacts, when asked for.
    #[serde(default)]
    pub artifacts: Option<Vec<ArtifactSummary>>,
}

/// `GET /v1/releases`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseList {
    /// The releases, newest first.
    pub releases: Vec<Release>,
    /// Page size used.
    pub limit: i64,
    /// Offset used.
    pub offset: i64,
}
