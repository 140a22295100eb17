//! Product bodies: the product list and a product's release policy.

use releasy_domain::product::{EffectivePolicy, ProductSummary};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /v1/admin/products` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// Items to skip.
    #[param(value_type = Option<i64>)]
    pub offset: Option<String>,
}

/// One product: every product with a release or a policy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductResponse {
    /// The product.
    pub product: String,
    /// Its releases, every status.
    pub releases: u64,
    /// Its published releases.
    pub published: u64,
    /// The highest version of its published, non-yanked stable releases (what
    /// `GET /v1/releases/latest` answers by default), or `null`.
    pub latest_version: Option<String>,
    /// When its newest release was created (Unix seconds), or `null`.
    pub last_release_at: Option<i64>,
    /// Its own immutable-releases setting.
    pub immutable_releases: bool,
    /// Whether its published releases are sealed: its own setting or the server's
    /// `RELEASY_IMMUTABLE_RELEASES`.
    pub effective_immutable_releases: bool,
}

impl ProductResponse {
    /// The summary, with the server's setting.
    pub fn new(summary: ProductSummary, server_immutable_releases: bool) -> Self {
        Self {
            product: summary.product.into_string(),
            releases: summary.releases,
            published: summary.published,
            latest_version: summary.latest_version,
            last_release_at: summary.last_release_at.map(|t| t.unix_seconds()),
            effective_immutable_releases: summary.immutable_releases || server_immutable_releases,
            immutable_releases: summary.immutable_releases,
        }
    }
}

/// A page of products, by name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductListResponse {
    /// The products.
    pub products: Vec<ProductResponse>,
    /// The page size used.
    pub limit: i64,
    /// The offset used.
    pub offset: i64,
}

/// `PUT /v1/admin/products/{product}/policy`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductPolicyRequest {
    /// Seal the product's releases when they are published: from then on their
    /// artifacts and record never change, and publishing needs an artifact.
    pub immutable_releases: bool,
}

/// A product's release policy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductPolicyResponse {
    /// The product.
    pub product: String,
    /// Its own setting (`false` when never set).
    pub immutable_releases: bool,
    /// The server's `RELEASY_IMMUTABLE_RELEASES`, which applies to every product.
    pub server_immutable_releases: bool,
    /// Whether its published releases are sealed: either setting.
    pub effective_immutable_releases: bool,
    /// When its own setting last changed (Unix seconds), or `null`.
    pub updated_at: Option<i64>,
}

impl From<EffectivePolicy> for ProductPolicyResponse {
    fn from(policy: EffectivePolicy) -> Self {
        Self {
            effective_immutable_releases: policy.applies(),
            product: policy.product.into_string(),
            immutable_releases: policy.immutable_releases,
            server_immutable_releases: policy.server_immutable_releases,
            updated_at: policy.updated_at.map(|t| t.unix_seconds()),
        }
    }
}
