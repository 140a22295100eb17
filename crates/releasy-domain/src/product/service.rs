//! Product use cases: the product list, and reading and setting a product's policy.

use std::sync::Arc;

use crate::audit::{AuditEvent, Origin};
use crate::pagination::PageRequest;
use crate::ports::{Clock, ProductRepository, RepoError};
use crate::product::{ImmutabilityPolicy, ProductPolicy, ProductSummary};
use crate::release::Product;

/// Why a product use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A product's policy as it applies: its own setting, the server's, and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// The product.
    pub product: Product,
    /// Its own setting (`false` when never set).
    pub immutable_releases: bool,
    /// The server's setting (`RELEASY_IMMUTABLE_RELEASES`), which applies to every
    /// product.
    pub server_immutable_releases: bool,
    /// When its own setting was last changed; `None` when never set.
    pub updated_at: Option<crate::Timestamp>,
}

impl EffectivePolicy {
    /// Whether its published releases are sealed: its own setting or the server's.
    pub fn applies(&self) -> bool {
        self.immutable_releases || self.server_immutable_releases
    }
}

/// Lists products and manages their policies.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::pagination::PageRequest;
/// use releasy_domain::release::{Product, Version};
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::audit::Origin;
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
/// let agent = Product::parse("agent").unwrap();
/// releasy.releases.create(&Origin::admin_key(), agent.clone(), Version::parse("1.0.0").unwrap()).await.unwrap();
///
/// let policy = releasy.products.set_policy(&Origin::admin_key(), &agent, true).await.unwrap();
/// assert!(policy.applies());
/// let listed = releasy.products.list(PageRequest::default()).await.unwrap();
/// assert_eq!((listed[0].releases, listed[0].immutable_releases), (1, true));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ProductService {
    products: Arc<dyn ProductRepository>,
    policy: ImmutabilityPolicy,
    clock: Arc<dyn Clock>,
}

impl ProductService {
    /// A service over `products`, with the server's policy in `policy`.
    pub fn new(
        products: Arc<dyn ProductRepository>,
        policy: ImmutabilityPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            products,
            policy,
            clock,
        }
    }

    /// One page of products, by name.
    ///
    /// # Errors
    /// [`ProductError::Repo`].
    pub async fn list(&self, page: PageRequest) -> Result<Vec<ProductSummary>, ProductError> {
        Ok(self.products.summaries(page).await?)
    }

    /// The policy of `product` (any name: a product without releases has the server's
    /// policy).
    ///
    /// # Errors
    /// [`ProductError::Repo`].
    pub async fn policy(&self, product: &Product) -> Result<EffectivePolicy, ProductError> {
        let own = self.products.policy(product).await?;
        Ok(self.effective(product, own))
    }

    /// Sets the product's own immutable-releases setting. Switching it on seals the
    /// releases published from then on, and fixes those published now while they stay
    /// published; switching it off unseals nothing.
    ///
    /// # Errors
    /// [`ProductError::Repo`].
    pub async fn set_policy(
        &self,
        origin: &Origin,
        product: &Product,
        immutable_releases: bool,
    ) -> Result<EffectivePolicy, ProductError> {
        let policy = ProductPolicy {
            product: product.clone(),
            immutable_releases,
            updated_at: self.clock.now(),
        };
        let event = AuditEvent::product_policy_set(origin, &policy);
        self.products.set_policy(&policy, &event).await?;
        Ok(self.effective(product, Some(policy)))
    }

    fn effective(&self, product: &Product, own: Option<ProductPolicy>) -> EffectivePolicy {
        EffectivePolicy {
            product: product.clone(),
            immutable_releases: own.as_ref().is_some_and(|p| p.immutable_releases),
            server_immutable_releases: self.policy.server_default(),
            updated_at: own.map(|p| p.updated_at),
        }
    }
}
