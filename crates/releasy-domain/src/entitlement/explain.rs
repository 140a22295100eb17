//! Why a customer may or may not have one release: the access rule with its reasons,
//! for operators answering "why can't they see 2.4?".

use crate::CustomerId;
use crate::entitlement::{AccessReason, EntitlementService, ReleaseFacts};
use crate::pagination::{PageLimit, PageRequest};
use crate::ports::RepoError;
use crate::release::{Product, Release, ReleaseFilter, ReleaseStatus, Version};

/// The decision on one release for one customer, as it would be made now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessExplanation {
    /// The release asked about.
    pub release: Release,
    /// Whether the customer's keys may list it and get download tokens for it.
    pub allowed: bool,
    /// Why: the customer's and the release's state when they refuse, then one reason
    /// per entitlement to the product (or [`AccessReason::NoEntitlement`]).
    pub reasons: Vec<AccessReason>,
}

/// Why an access question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// No customer has that id.
    #[error("customer not found")]
    CustomerNotFound,
    /// The product has no release of that version.
    #[error("release not found")]
    ReleaseNotFound,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl EntitlementService {
    /// Explains whether `customer` may have `version` of `product` now, and why. A
    /// suspended customer and a draft release are refused whatever the entitlements
    /// say; their reasons come first, and the entitlements' reasons follow, so an
    /// operator sees everything that would have to change. (A yank does not hide a
    /// release from a customer who asks for it; whether its downloads are blocked is
    /// on the release.)
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::Arc;
    /// use releasy_domain::memory::FixedClock;
    /// use releasy_domain::customer::CustomerName;
    /// use releasy_domain::entitlement::{AccessReason, EntitlementScope, EntitlementWindow, NewEntitlement};
    /// use releasy_domain::release::{Product, Version, VersionRequirement};
    /// use releasy_domain::{Ports, Services, Timestamp};
    /// use releasy_domain::audit::Origin;
    ///
    /// let now = Timestamp::from_unix_seconds(1_735_312_000);
    /// let releasy = Services::new(Ports::in_memory(Arc::new(FixedClock::at(now))));
    /// let agent = Product::parse("agent").unwrap();
    /// let v3 = Version::parse("3.0.0").unwrap();
    /// let release = releasy.releases.create(&Origin::admin_key(), agent.clone(), v3.clone()).await.unwrap();
    /// releasy.releases.publish(&Origin::admin_key(), release.id).await.unwrap();
    /// let acme = releasy.customers.create(&Origin::admin_key(), CustomerName::parse("Acme").unwrap(), None).await.unwrap();
    /// let scope = EntitlementScope {
    ///     versions: Some(VersionRequirement::parse("versions", "^2").unwrap()),
    ///     ..EntitlementScope::default()
    /// };
    /// let window = EntitlementWindow::new(now, None).unwrap();
    /// releasy.entitlements.create(&Origin::admin_key(), acme.id, NewEntitlement { product: agent.clone(), window, scope, metadata: None, download_quota: None }).await.unwrap();
    ///
    /// let why = releasy.entitlements.explain(acme.id, &agent, &v3).await.unwrap();
    /// assert!(!why.allowed);
    /// assert!(matches!(why.reasons[0], AccessReason::VersionNotGranted { .. }));
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ExplainError::CustomerNotFound`], [`ExplainError::ReleaseNotFound`].
    pub async fn explain(
        &self,
        customer: CustomerId,
        product: &Product,
        version: &Version,
    ) -> Result<AccessExplanation, ExplainError> {
        let customer = self
            .customers
            .get(customer)
            .await?
            .ok_or(ExplainError::CustomerNotFound)?;
        let filter = ReleaseFilter {
            product: Some(product.as_str().to_owned()),
            version: Some(version.as_str().to_owned()),
            ..ReleaseFilter::default()
        };
        let one = PageRequest {
            limit: PageLimit::clamped(1),
            ..PageRequest::default()
        };
        let release = self
            .releases
            .list(&filter, one)
            .await?
            .into_iter()
            .next()
            .ok_or(ExplainError::ReleaseNotFound)?;
        let access = self.entitlements.customer_access(customer.id).await?;
        let decision = access.decide(
            product.as_str(),
            ReleaseFacts::from(&release),
            self.clock.now(),
        );
        let mut reasons = Vec::with_capacity(decision.reasons.len() + 2);
        if customer.is_suspended() {
            reasons.push(AccessReason::CustomerSuspended);
        }
        if release.status != ReleaseStatus::Published {
            reasons.push(AccessReason::ReleaseNotPublished);
        }
        if release.downloads_blocked() {
            reasons.push(AccessReason::ReleaseYanked);
        }
        let allowed = decision.allowed && reasons.is_empty();
        reasons.extend(decision.reasons);
        Ok(AccessExplanation {
            release,
            allowed,
            reasons,
        })
    }
}
