//! Whether the immutable-releases policy applies to a product: the server's setting,
//! or the product's own.

use std::sync::Arc;

use crate::ports::{ProductRepository, RepoError};
use crate::release::{Product, Release, ReleaseStatus};

/// The policy as the release and artifact use cases ask it, read at each write (no
/// cache: a policy switched on is obeyed by every instance at once).
#[derive(Debug, Clone)]
pub struct ImmutabilityPolicy {
    products: Arc<dyn ProductRepository>,
    server_default: bool,
}

impl ImmutabilityPolicy {
    /// The policy over `products`, on for every product when `server_default`
    /// (`RELEASY_IMMUTABLE_RELEASES=true`).
    pub fn new(products: Arc<dyn ProductRepository>, server_default: bool) -> Self {
        Self {
            products,
            server_default,
        }
    }

    /// Whether it is on for every product.
    pub fn server_default(&self) -> bool {
        self.server_default
    }

    /// Whether it applies to `product` now: the server's setting or the product's.
    ///
    /// # Errors
    /// [`RepoError`] when the policy cannot be read.
    pub async fn applies_to(&self, product: &Product) -> Result<bool, RepoError> {
        if self.server_default {
            return Ok(true);
        }
        Ok(self
            .products
            .policy(product)
            .await?
            .is_some_and(|p| p.immutable_releases))
    }
}

/// Whether `release` is fixed now ([`Release::is_immutable`]) under `policy` (without
/// one, only a seal fixes it). The policy is read only for a published release that is
/// not sealed: the one case it decides.
///
/// # Errors
/// [`RepoError`] when the policy cannot be read.
pub(crate) async fn release_is_fixed(
    policy: Option<&ImmutabilityPolicy>,
    release: &Release,
) -> Result<bool, RepoError> {
    let applies = match policy {
        Some(policy) if !release.is_sealed() && release.status == ReleaseStatus::Published => {
            policy.applies_to(&release.product).await?
        }
        _ => false,
    };
    Ok(release.is_immutable(applies))
}
