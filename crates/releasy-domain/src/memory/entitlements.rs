//! Entitlements in a vector.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{InMemoryAudit, lock};
use crate::audit::AuditEvent;
use crate::entitlement::{CustomerAccess, Entitlement, ProductGrant};
use crate::pagination::PageRequest;
use crate::ports::{ChangeEvent, EntitlementRepository, RepoError};
use crate::{CustomerId, EntitlementId};

/// Entitlements kept in memory; the events of their changes go to `audit`.
#[derive(Debug, Default)]
pub struct InMemoryEntitlements {
    rows: Mutex<Vec<Entitlement>>,
    audit: Arc<InMemoryAudit>,
}

impl InMemoryEntitlements {
    /// Entitlements whose changes are recorded in `audit`.
    pub fn with_audit(audit: Arc<InMemoryAudit>) -> Self {
        Self {
            rows: Mutex::default(),
            audit,
        }
    }
}

#[async_trait]
impl EntitlementRepository for InMemoryEntitlements {
    async fn insert(&self, entitlement: &Entitlement, event: &AuditEvent) -> Result<(), RepoError> {
        let mut rows = lock(&self.rows);
        if rows.iter().any(|e| e.id == entitlement.id) {
            return Err(RepoError::Conflict);
        }
        rows.push(entitlement.clone());
        self.audit.append(std::slice::from_ref(event));
        Ok(())
    }

    async fn get(
        &self,
        customer: CustomerId,
        id: EntitlementId,
    ) -> Result<Option<Entitlement>, RepoError> {
        Ok(lock(&self.rows)
            .iter()
            .find(|e| e.id == id && e.customer_id == customer)
            .cloned())
    }

    async fn list(
        &self,
        customer: CustomerId,
        product: Option<&str>,
        page: PageRequest,
    ) -> Result<Vec<Entitlement>, RepoError> {
        let mut rows: Vec<Entitlement> = lock(&self.rows)
            .iter()
            .filter(|e| e.customer_id == customer)
            .filter(|e| product.is_none_or(|p| e.product.as_str() == p))
            .cloned()
            .collect();
        rows.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.to_string())));
        Ok(rows
            .into_iter()
            .skip(page.offset.get() as usize)
            .take(page.limit.get() as usize)
            .collect())
    }

    async fn replace(
        &self,
        current: &Entitlement,
        updated: &Entitlement,
        event: &AuditEvent,
    ) -> Result<Option<Entitlement>, RepoError> {
        let mut rows = lock(&self.rows);
        let Some(row) = rows.iter_mut().find(|e| {
            e.id == current.id
                && e.customer_id == current.customer_id
                && e.revision == current.revision
        }) else {
            return Ok(None);
        };
        *row = Entitlement {
            id: current.id,
            customer_id: current.customer_id,
            created_at: current.created_at,
            revision: current.revision + 1,
            ..updated.clone()
        };
        self.audit.append(std::slice::from_ref(event));
        Ok(Some(row.clone()))
    }

    async fn delete(
        &self,
        customer: CustomerId,
        id: EntitlementId,
        event: ChangeEvent<'_, Entitlement>,
    ) -> Result<bool, RepoError> {
        let mut rows = lock(&self.rows);
        let Some(at) = rows
            .iter()
            .position(|e| e.id == id && e.customer_id == customer)
        else {
            return Ok(false);
        };
        let deleted = rows.remove(at);
        self.audit.append(&[event(&deleted)]);
        Ok(true)
    }

    async fn customer_access(&self, customer: CustomerId) -> Result<CustomerAccess, RepoError> {
        Ok(CustomerAccess::new(
            lock(&self.rows)
                .iter()
                .filter(|e| e.customer_id == customer)
                .map(ProductGrant::from)
                .collect(),
        ))
    }
}
