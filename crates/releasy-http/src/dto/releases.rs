//! Release bodies.

use releasy_domain::artifact::Artifact;
use releasy_domain::release::Release;
use releasy_domain::release::ReleaseListing;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::VerificationDto;

/// `POST /v1/releases`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateReleaseRequest {
    /// Product name.
    pub product: String,
    /// Version; `(product, version)` is unique.
    pub version: String,
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
    /// Artifacts with `include_artifacts=true`, otherwise `null`.
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
