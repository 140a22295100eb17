//! Release bodies.

use releasy_domain::artifact::Artifact;
use releasy_domain::release::Release;
use releasy_domain::release::ReleaseListing;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::VerificationDto;

/// `POST /v1/releases`.
///
/// The optional fields are left out of the idempotency fingerprint when absent, so a
/// request an older client stored keeps matching its retry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateReleaseRequest {
    /// Product name.
    pub product: String,
    /// Version; `(product, version)` is unique. Semver versions are ordered by semver
    /// precedence; others are allowed.
    pub version: String,
    /// `stable`, `rc`, `beta`, `alpha` or `dev`; default: the channel the version
    /// implies (no pre-release: stable; a pre-release whose first identifier is `rc`,
    /// `beta` or `alpha`, alone or followed by a number or a hyphen (`rc.1`, `rc1`):
    /// that; another pre-release: dev; not semver: as semver when only a leading `v`
    /// keeps it from being semver, else rc, beta or alpha when a hyphen-separated part
    /// is that word, alone or followed by a number (`2.0-beta`, `2.0-rc.1`), dev when
    /// it is dev, nightly, snapshot, preview, pre or canary, alone or followed by a
    /// number or a dot, stable otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Release notes, markdown, at most 64 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Free-form JSON object, at most 16 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// `PATCH /v1/releases/{id}`: at least one field; `null` clears `notes` or `metadata`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateReleaseRequest {
    /// New channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// New notes (markdown, at most 64 KiB); `null` removes them.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// New metadata (a JSON object, at most 16 KiB); `null` removes it.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Value>>,
}

/// `POST /v1/releases/{id}/yank`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct YankReleaseRequest {
    /// Why (1 to 1024 characters); shown as `yank_reason`.
    pub reason: String,
    /// Refuse download tokens (403 `release yanked`) and resolves for its artifacts.
    /// Default false: like a yanked crate, it stays fetchable for those who pin it.
    #[serde(default)]
    pub block_downloads: bool,
}

/// An artifact in a release listing.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtifactSummary {
    /// Artifact id.
    pub id: String,
    /// Where its bytes are stored.
    pub object_key: String,
    /// SHA-256, 64 hex characters.
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
    /// Whether the stored bytes were checked; `pending` and `failed` artifacts cannot
    /// be downloaded.
    pub verification: VerificationDto,
}

impl From<Artifact> for ArtifactSummary {
    fn from(a: Artifact) -> Self {
        Self {
            id: a.id.to_string(),
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

/// A release.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReleaseResponse {
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
    /// Publication time (Unix seconds), `null` for drafts.
    pub published_at: Option<i64>,
    /// `stable`, `rc`, `beta`, `alpha` or `dev`.
    pub channel: String,
    /// Release notes (markdown); left out when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Free-form JSON object; left out when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// When it was yanked (Unix seconds); left out unless yanked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked_at: Option<i64>,
    /// Why it was yanked; left out unless yanked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yank_reason: Option<String>,
    /// Whether the yank refuses its downloads; left out unless yanked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yank_blocks_downloads: Option<bool>,
    /// When it was sealed by its publication under the immutable-releases policy
    /// (Unix seconds): its artifacts and record never change again. Left out unless
    /// sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_at: Option<i64>,
    /// Artifacts with `include_artifacts=true` (and always from `latest` and
    /// `upgrade`), otherwise `null`.
    pub artifacts: Option<Vec<ArtifactSummary>>,
}

impl From<Release> for ReleaseResponse {
    fn from(r: Release) -> Self {
        Self::from(ReleaseListing {
            release: r,
            artifacts: None,
        })
    }
}

impl From<ReleaseListing> for ReleaseResponse {
    fn from(listing: ReleaseListing) -> Self {
        let r = listing.release;
        Self {
            id: r.id.to_string(),
            product: r.product.into_string(),
            version: r.version.into_string(),
            status: r.status.as_str().to_owned(),
            created_at: r.created_at.unix_seconds(),
            published_at: r.published_at.map(|t| t.unix_seconds()),
            channel: r.channel.as_str().to_owned(),
            notes: r.notes.map(|n| n.as_str().to_owned()),
            // Stored metadata is JSON this server wrote.
            metadata: r
                .metadata
                .and_then(|m| serde_json::from_str(m.as_json()).ok()),
            yanked_at: r.yank.as_ref().map(|y| y.at.unix_seconds()),
            yank_blocks_downloads: r.yank.as_ref().map(|y| y.blocks_downloads),
            yank_reason: r.yank.map(|y| y.reason.into_string()),
            sealed_at: r.sealed_at.map(|t| t.unix_seconds()),
            artifacts: listing
                .artifacts
                .map(|a| a.into_iter().map(Into::into).collect()),
        }
    }
}

/// `GET /v1/releases` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReleaseListQuery {
    /// Exactly this product.
    pub product: Option<String>,
    /// Exactly this version.
    pub version: Option<String>,
    /// `draft` or `published` (customer keys: `published` only).
    pub status: Option<String>,
    /// `true` to include each release's artifacts.
    #[param(value_type = Option<bool>)]
    pub include_artifacts: Option<String>,
    /// Only releases on this channel and the more stable ones
    /// (stable > rc > beta > alpha > dev).
    pub channel: Option<String>,
    /// `created` (default: newest first) or `version` (highest semver first; versions
    /// that are not semver after them, newest first).
    pub sort: Option<String>,
    /// Whether yanked releases are listed: default `true` for operators, `false` for
    /// customer keys.
    #[param(value_type = Option<bool>)]
    pub include_yanked: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// Items to skip.
    #[param(value_type = Option<i64>)]
    pub offset: Option<String>,
}

/// A page of releases, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReleaseListResponse {
    /// The releases.
    pub releases: Vec<ReleaseResponse>,
    /// The page size used.
    pub limit: i64,
    /// The offset used.
    pub offset: i64,
}

/// `GET /v1/releases/latest` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestReleaseQuery {
    /// The product (required).
    #[param(required = true)]
    pub product: Option<String>,
    /// The channel followed (default `stable`): it and every more stable one.
    pub channel: Option<String>,
    /// Only releases with an artifact for this platform; only those artifacts are
    /// listed.
    pub platform: Option<String>,
}

/// `GET /v1/releases/upgrade` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpgradeQuery {
    /// The product (required).
    #[param(required = true)]
    pub product: Option<String>,
    /// The version running now, semver (required).
    #[param(required = true)]
    pub current: Option<String>,
    /// The channel followed (default `stable`): it and every more stable one.
    pub channel: Option<String>,
    /// Only releases with an artifact for this platform.
    pub platform: Option<String>,
    /// A semver requirement the answer must satisfy, such as `^1.4` or `>=1.0, <3.0`.
    pub constraint: Option<String>,
}

/// `GET /v1/releases/upgrade` when there is a newer release.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpgradeResponse {
    /// The version asked about, as sent.
    pub current: String,
    /// The newest allowed release above it, with its artifacts.
    pub release: ReleaseResponse,
}
