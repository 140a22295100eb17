//! Entitlements: a customer's access (every entitlement, as the access rule reads
//! it), asked on every customer listing, updater check, token issue and resolve.
//!
//! Activity depends on the time, so what is cached is the entitlements themselves, and
//! the rule ([`CustomerAccess`]) is applied at every request with the request's time:
//! an entitlement that ends stops counting at that second, cached or not.

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::audit::AuditEvent;
use releasy_domain::entitlement::{CustomerAccess, Entitlement};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ChangeEvent, EntitlementRepository, RepoError};
use releasy_domain::{CustomerId, EntitlementId};

use crate::read_cache::coherence::{Generations, Table};
use crate::read_cache::entries::{Entries, Rows};

impl Rows for CustomerAccess {
    fn rows(&self) -> u64 {
        self.grants().len() as u64 + 1
    }
}

/// What a cached answer depends on, and what this repository's writes change.
const TABLES: &[Table] = &[Table::Entitlements];

#[derive(Debug)]
pub(crate) struct CachedEntitlements {
    inner: Arc<dyn EntitlementRepository>,
    generations: Arc<Generations>,
    access: Entries<CustomerId, CustomerAccess>,
}

impl CachedEntitlements {
    pub(crate) fn new(
        inner: Arc<dyn EntitlementRepository>,
        generations: Arc<Generations>,
        max_rows: u64,
    ) -> Self {
        Self {
            inner,
            // A customer's access weighs a row per entitlement: sharded as pages are.
            access: Entries::pages(generations.clone(), "entitlements", TABLES, max_rows),
            generations,
        }
    }

    async fn write<T>(&self, write: impl Future<Output = T>) -> T {
        self.generations.after_write(TABLES, write).await
    }

    /// A write that can narrow a customer's access: answered once other instances'
    /// caches caught up.
    async fn withdrawal<T>(&self, write: impl Future<Output = T>) -> T {
        self.generations.after_withdrawal(TABLES, write).await
    }
}

#[async_trait]
impl EntitlementRepository for CachedEntitlements {
    async fn insert(&self, entitlement: &Entitlement, event: &AuditEvent) -> Result<(), RepoError> {
        self.write(self.inner.insert(entitlement, event)).await
    }

    async fn get(
        &self,
        customer: CustomerId,
        id: EntitlementId,
    ) -> Result<Option<Entitlement>, RepoError> {
        self.inner.get(customer, id).await
    }

    async fn list(
        &self,
        customer: CustomerId,
        product: Option<&str>,
        page: PageRequest,
    ) -> Result<Vec<Entitlement>, RepoError> {
        self.inner.list(customer, product, page).await
    }

    async fn replace(
        &self,
        current: &Entitlement,
        updated: &Entitlement,
        event: &AuditEvent,
    ) -> Result<Option<Entitlement>, RepoError> {
        self.withdrawal(self.inner.replace(current, updated, event))
            .await
    }

    async fn delete(
        &self,
        customer: CustomerId,
        id: EntitlementId,
        event: ChangeEvent<'_, Entitlement>,
    ) -> Result<bool, RepoError> {
        self.withdrawal(self.inner.delete(customer, id, event))
            .await
    }

    async fn customer_access(&self, customer: CustomerId) -> Result<CustomerAccess, RepoError> {
        self.access
            .get_or_load(&customer, |_| true, self.inner.customer_access(customer))
            .await
    }
}
