//! Entitlement use cases: list, grant, change and revoke a customer's entitlements.

use std::sync::Arc;

use crate::audit::{AuditEvent, Origin};
use crate::entitlement::{
    DownloadQuota, Entitlement, EntitlementChanges, EntitlementScope, EntitlementWindow, Metadata,
};
use crate::pagination::PageRequest;
use crate::ports::{
    Clock, CustomerRepository, EntitlementRepository, ReleaseRepository, RepoError,
};
use crate::release::Product;
use crate::{CustomerId, EntitlementId, ValidationError};

/// Why an entitlement use case failed.
#[derive(Debug, thiserror::Error)]
pub enum EntitlementError {
    /// No customer has that id.
    #[error("customer not found")]
    CustomerNotFound,
    /// The customer has no entitlement with that id.
    #[error("entitlement not found")]
    NotFound,
    /// The (merged) entitlement breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The entitlement changed between each read and write of an update, on every
    /// attempt.
    #[error("entitlement changed concurrently")]
    Contended,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Reads and writes an update may take when concurrent changes keep invalidating it.
const UPDATE_ATTEMPTS: usize = 4;

/// A new entitlement, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntitlement {
    /// The product.
    pub product: Product,
    /// When it applies.
    pub window: EntitlementWindow,
    /// What it grants within the product ([`EntitlementScope::default`]: everything).
    pub scope: EntitlementScope,
    /// Free-form details.
    pub metadata: Option<Metadata>,
    /// How much it allows downloading per period (`None`: no limit).
    pub download_quota: Option<DownloadQuota>,
}

/// Manages customers' entitlements.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::customer::CustomerName;
/// use releasy_domain::entitlement::{EntitlementScope, EntitlementWindow, NewEntitlement};
/// use releasy_domain::pagination::PageRequest;
/// use releasy_domain::release::Product;
/// use releasy_domain::audit::Origin;
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
///
/// let acme = releasy.customers.create(&Origin::admin_key(), CustomerName::parse("Acme").unwrap(), None).await.unwrap();
/// let starts = Timestamp::from_unix_seconds(1_735_312_000);
/// let granted = releasy
///     .entitlements
///     .create(&Origin::admin_key(),
///         acme.id,
///         NewEntitlement {
///             product: Product::parse("agent").unwrap(),
///             window: EntitlementWindow::new(starts, Some(starts.plus_seconds(86_400))).unwrap(),
///             scope: EntitlementScope::default(),
///             metadata: None,
///             download_quota: None,
///         },
///     )
///     .await
///     .unwrap();
/// let listed = releasy.entitlements.list(acme.id, None, PageRequest::default()).await.unwrap();
/// assert_eq!(listed, [granted]);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EntitlementService {
    pub(super) entitlements: Arc<dyn EntitlementRepository>,
    pub(super) customers: Arc<dyn CustomerRepository>,
    pub(super) releases: Arc<dyn ReleaseRepository>,
    pub(super) clock: Arc<dyn Clock>,
}

impl EntitlementService {
    /// A service over the given ports (releases are read to explain access).
    pub fn new(
        entitlements: Arc<dyn EntitlementRepository>,
        customers: Arc<dyn CustomerRepository>,
        releases: Arc<dyn ReleaseRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            entitlements,
            customers,
            releases,
            clock,
        }
    }

    async fn require_customer(&self, customer: CustomerId) -> Result<(), EntitlementError> {
        match self.customers.get(customer).await? {
            Some(_) => Ok(()),
            None => Err(EntitlementError::CustomerNotFound),
        }
    }

    /// One page of a customer's entitlements, optionally for one product.
    ///
    /// # Errors
    /// [`EntitlementError::CustomerNotFound`] for an unknown customer.
    pub async fn list(
        &self,
        customer: CustomerId,
        product: Option<&str>,
        page: PageRequest,
    ) -> Result<Vec<Entitlement>, EntitlementError> {
        self.require_customer(customer).await?;
        Ok(self.entitlements.list(customer, product, page).await?)
    }

    /// The entitlement `id` of `customer`, or `None`.
    ///
    /// # Errors
    /// [`RepoError`] when the repository failed.
    pub async fn find(
        &self,
        customer: CustomerId,
        id: EntitlementId,
    ) -> Result<Option<Entitlement>, RepoError> {
        self.entitlements.get(customer, id).await
    }

    /// Grants an entitlement.
    ///
    /// # Errors
    /// [`EntitlementError::CustomerNotFound`] for an unknown customer.
    pub async fn create(
        &self,
        origin: &Origin,
        customer: CustomerId,
        new: NewEntitlement,
    ) -> Result<Entitlement, EntitlementError> {
        self.require_customer(customer).await?;
        let entitlement = Entitlement {
            id: origin.new_id(),
            customer_id: customer,
            product: new.product,
            window: new.window,
            scope: new.scope,
            metadata: new.metadata,
            download_quota: new.download_quota,
            created_at: self.clock.now(),
            revision: 0,
        };
        let event = AuditEvent::entitlement_created(origin, &entitlement);
        self.entitlements.insert(&entitlement, &event).await?;
        Ok(entitlement)
    }

    /// Applies `changes`, validating the merged entitlement as a whole; changes that
    /// change nothing write nothing (no audit event, no new revision). The merge is
    /// judged here, against the entitlement as read, and written as one compare-and-set
    /// on its revision: when another change landed in between, nothing is written and
    /// the change is merged and judged again against what is stored now. So concurrent
    /// changes never leave an inverted window, and never lose one another's fields.
    ///
    /// # Errors
    /// [`EntitlementError::NotFound`] (or `CustomerNotFound`) for unknown ids,
    /// [`EntitlementError::Invalid`] when the merged window breaks a rule,
    /// [`EntitlementError::Contended`] when the entitlement kept changing underneath.
    pub async fn update(
        &self,
        origin: &Origin,
        customer: CustomerId,
        id: EntitlementId,
        changes: EntitlementChanges,
    ) -> Result<Entitlement, EntitlementError> {
        self.require_customer(customer).await?;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self
                .entitlements
                .get(customer, id)
                .await?
                .ok_or(EntitlementError::NotFound)?;
            let updated = current.with_changes(changes.clone())?;
            if updated == current {
                // Nothing changes (`{}`, or every field as it is): no write, no audit
                // event, no revision for other instances to reload.
                return Ok(current);
            }
            let event =
                AuditEvent::entitlement_updated(origin, &current, &updated, self.clock.now());
            if let Some(stored) = self
                .entitlements
                .replace(&current, &updated, &event)
                .await?
            {
                return Ok(stored);
            }
            // Changed or deleted between the read and the write: read it again.
        }
        Err(EntitlementError::Contended)
    }

    /// Revokes an entitlement.
    ///
    /// # Errors
    /// [`EntitlementError::NotFound`] (or `CustomerNotFound`) for unknown ids.
    pub async fn delete(
        &self,
        origin: &Origin,
        customer: CustomerId,
        id: EntitlementId,
    ) -> Result<(), EntitlementError> {
        self.require_customer(customer).await?;
        let now = self.clock.now();
        let event = |deleted: &Entitlement| AuditEvent::entitlement_deleted(origin, deleted, now);
        if self.entitlements.delete(customer, id, &event).await? {
            Ok(())
        } else {
            Err(EntitlementError::NotFound)
        }
    }
}
