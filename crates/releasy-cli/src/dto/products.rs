//! Product bodies.

use serde::{Deserialize, Serialize};

/// One product of `GET /v1/admin/products`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Product {
    /// The product.
    pub product: String,
    /// Its releases.
    pub releases: u64,
    /// Its published releases.
    pub published: u64,
    /// Its latest stable version.
    pub latest_version: Option<String>,
    /// When its newest release was created.
    pub last_release_at: Option<i64>,
    /// Its own immutable-releases setting.
    pub immutable_releases: bool,
    /// Whether its releases are sealed when published.
    pub effective_immutable_releases: bool,
}

/// `GET /v1/admin/products`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProductList {
    /// The products.
    pub products: Vec<Product>,
    /// Page size used.
    pub limit: i64,
    /// Offset used.
    pub offset: i64,
}

/// `PUT /v1/admin/products/{product}/policy`.
#[derive(Debug, Serialize)]
pub struct SetPolicy {
    /// Seal releases when published.
    pub immutable_releases: bool,
}

/// A product's release policy.
#[derive(Debug, Serialize, Deserialize)]
pub struct Policy {
    /// The product.
    pub product: String,
    /// Its own setting.
    pub immutable_releases: bool,
    /// The server's setting.
    pub server_immutable_releases: bool,
    /// Either.
    pub effective_immutable_releases: bool,
    /// When its own setting last changed.
    pub updated_at: Option<i64>,
}
