//! Entitlement use cases: list, grant, change and revoke a customer's entitlements.

use std::sync::Arc;

use crate::entitlement::{Entitlement, EntitlementChanges, EntitlementWindow, Metadata};
use crate::pagination::PageRequest;
use crate::ports::{Clock, CustomerRepository, EntitlementRepository, RepoError};
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
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A new entitlement, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntitlement {
    /// The product.
    pub product: Product,
    /// When it applies.
    pub window: EntitlementWindow,
    /// Free-form details.
    pub metadata: Option<Metadata>,
}

/// Manages customers' entitlements.
#[derive(Debug, Clone)]
pub struct EntitlementService {
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
    clock: Arc<dyn Clock>,
}

impl EntitlementService {
    /// A service over the given ports.
    pub fn new(
        entitlements: Arc<dyn EntitlementRepository>,
        customers: Arc<dyn CustomerRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            entitlements,
            customers,
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

    /// Grants an entitlement.
    ///
    /// # Errors
    /// [`EntitlementError::CustomerNotFound`] for an unknown customer.
    pub async fn create(
        &self,
        customer: CustomerId,
        new: NewEntitlement,
    ) -> Result<Entitlement, EntitlementError> {
        self.require_customer(customer).await?;
        let entitlement = Entitlement {
            id: EntitlementId::generate(),
            customer_id: customer,
            product: new.product,
            window: new.window,
            metadata: new.metadata,
            created_at: self.clock.now(),
        };
        self.entitlements.insert(&entitlement).await?;
        Ok(entitlement)
    }

    /// Applies `changes`, validating the merged entitlement as a whole.
    ///
    /// # Errors
    /// [`EntitlementError::NotFound`] (or `CustomerNotFound`) for unknown ids,
    /// [`EntitlementError::Invalid`] when the merged window breaks a rule.
    pub async fn update(
        &self,
        customer: CustomerId,
        id: EntitlementId,
        changes: EntitlementChanges,
    ) -> Result<Entitlement, EntitlementError> {
        self.require_customer(customer).await?;
        let current = self
            .entitlements
            .get(customer, id)
            .await?
            .ok_or(EntitlementError::NotFound)?;
        let updated = current.with_changes(changes)?;
        if self.entitlements.update(&updated).await? {
            Ok(updated)
        } else {
            Err(EntitlementError::NotFound)
        }
    }

    /// Revokes an entitlement.
    ///
    /// # Errors
    /// [`EntitlementError::NotFound`] (or `CustomerNotFound`) for unknown ids.
    pub async fn delete(
        &self,
        customer: CustomerId,
        id: EntitlementId,
    ) -> Result<(), EntitlementError> {
        self.require_customer(customer).await?;
        if self.entitlements.delete(customer, id).await? {
            Ok(())
        } else {
            Err(EntitlementError::NotFound)
        }
    }
}
