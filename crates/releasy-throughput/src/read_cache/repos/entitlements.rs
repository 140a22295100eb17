//! Entitlements: the products a customer is entitled to *now*, asked on every customer
//! listing, token issue and token resolve.
//!
//! Activity depends on the time, so what is cached is each customer's entitlement
//! windows, and the activity rule ([`EntitlementWindow::is_active_at`]) is applied at
//! every request: an entitlement that ends stops counting at that second, cached or not.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::entitlement::{Entitlement, EntitlementWindow};
use releasy_domain::pagination::{Offset, PageLimit, PageRequest};
use releasy_domain::ports::{EntitlementRepository, RepoError};
use releasy_domain::{CustomerId, EntitlementId, Timestamp};

use crate::read_cache::coherence::{Generations, Table};
use crate::read_cache::entries::{Entries, Rows};

/// A customer's entitlements as product and window; `complete` is false when the
/// customer has more than one page of them (then the repository is asked each time).
#[derive(Debug, Clone)]
struct Windows {
    windows: Vec<(String, EntitlementWindow)>,
    complete: bool,
}

impl Rows for Windows {
    fn rows(&self) -> u64 {
        self.windows.rows()
    }
}

/// What a cached answer depends on, and what this repository's writes change.
const TABLES: &[Table] = &[Table::Entitlements];

#[derive(Debug)]
pub(crate) struct CachedEntitlements {
    inner: Arc<dyn EntitlementRepository>,
    generations: Arc<Generations>,
    windows: Entries<CustomerId, Windows>,
}

impl CachedEntitlements {
    pub(crate) fn new(
        inner: Arc<dyn EntitlementRepository>,
        generations: Arc<Generations>,
        max_rows: u64,
    ) -> Self {
        Self {
            inner,
            windows: Entries::new(generations.clone(), TABLES, max_rows),
            generations,
        }
    }

    async fn load_windows(&self, customer: CustomerId) -> Result<Windows, RepoError> {
        let page = PageRequest {
            limit: PageLimit::LARGEST,
            offset: Offset::default(),
        };
        let all = self.inner.list(customer, None, page).await?;
        Ok(Windows {
            complete: all.len() < PageLimit::MAX as usize,
            windows: all
                .into_iter()
                .map(|e| (e.product.as_str().to_owned(), e.window))
                .collect(),
        })
    }

    async fn write<T>(&self, write: impl Future<Output = T>) -> T {
        self.generations.after_write(TABLES, write).await
    }
}

#[async_trait]
impl EntitlementRepository for CachedEntitlements {
    async fn insert(&self, entitlement: &Entitlement) -> Result<(), RepoError> {
        self.write(self.inner.insert(entitlement)).await
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
    ) -> Result<Option<Entitlement>, RepoError> {
        self.write(self.inner.replace(current, updated)).await
    }

    async fn delete(&self, customer: CustomerId, id: EntitlementId) -> Result<bool, RepoError> {
        self.write(self.inner.delete(customer, id)).await
    }

    async fn active_products(
        &self,
        customer: CustomerId,
        now: Timestamp,
    ) -> Result<Vec<String>, RepoError> {
        let known = self
            .windows
            .get_or_load(&customer, |w| w.complete, self.load_windows(customer))
            .await?;
        if !known.complete {
            return self.inner.active_products(customer, now).await;
        }
        let active: BTreeSet<String> = known
            .windows
            .into_iter()
            .filter(|(_, window)| window.is_active_at(now))
            .map(|(product, _)| product)
            .collect();
        Ok(active.into_iter().collect())
    }
}
