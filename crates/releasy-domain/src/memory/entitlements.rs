//! Entitlements in a vector.

use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::entitlement::{CustomerAccess, Entitlement, ProductGrant};
use crate::pagination::PageRequest;
use crate::ports::{EntitlementRepository, RepoError};
use crate::{CustomerId, EntitlementId};

/// Entitlements kept in memory.
#[derive(Debug, Default)]
pub struct InMemoryEntitlements {
    rows: Mutex<Vec<Entitlement>>,
}

#[async_trait]
impl EntitlementRepository for InMemoryEntitlements {
    async fn insert(&self, entitlement: &Entitlement) -> Result<(), RepoError> {
        let mut rows = lock(&self.rows);
        if rows.iter().any(|e| e.id == entitlement.id) {
            return Err(RepoError::Conflict);
        }
        rows.push(entitlement.clone());
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
        Ok(Some(row.clone()))
    }

    async fn delete(&self, customer: CustomerId, id: EntitlementId) -> Result<bool, RepoError> {
        let mut rows = lock(&self.rows);
        let before = rows.len();
        rows.retain(|e| !(e.id == id && e.customer_id == customer));
        Ok(rows.len() < before)
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
