//! A product's stored policy and its summary in the product list.

use crate::Timestamp;
use crate::release::Product;

/// A product's own release policy, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPolicy {
    /// The product.
    pub product: Product,
    /// Whether its releases are sealed when published.
    pub immutable_releases: bool,
    /// When it was last set.
    pub updated_at: Timestamp,
}

/// One product of the product list: every product with a release or a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSummary {
    /// The product.
    pub product: Product,
    /// Its releases, every status.
    pub releases: u64,
    /// Its published releases.
    pub published: u64,
    /// The highest version of its published, non-yanked stable releases: what
    /// `GET /v1/releases/latest` answers by default, unless none of that release's
    /// artifacts can be downloaded yet (pending or failed verification), when `latest`
    /// passes over it and this still names it (the operator's view of what was
    /// published).
    pub latest_version: Option<String>,
    /// When its newest release was created.
    pub last_release_at: Option<Timestamp>,
    /// Its own immutable-releases setting (the server's may apply as well).
    pub immutable_releases: bool,
}
