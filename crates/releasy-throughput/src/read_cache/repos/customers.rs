//! Customers: single customers and admin listing pages.

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::CustomerId;
use releasy_domain::audit::AuditEvent;
use releasy_domain::customer::{Customer, CustomerFilter, CustomerUpdate};
use releasy_domain::pagination::{CursorPage, PageLimit, PageStart};
use releasy_domain::ports::{ChangeEvents, CustomerRepository, RepoError};

use crate::read_cache::coherence::{Generations, Table};
use crate::read_cache::entries::Entries;

const TABLES: &[Table] = &[Table::Customers];

type PageKey = (CustomerFilter, PageLimit, PageStart);

#[derive(Debug)]
pub(crate) struct CachedCustomers {
    inner: Arc<dyn CustomerRepository>,
    generations: Arc<Generations>,
    by_id: Entries<CustomerId, Option<Customer>>,
    pages: Entries<PageKey, CursorPage<Customer>>,
}

impl CachedCustomers {
    pub(crate) fn new(
        inner: Arc<dyn CustomerRepository>,
        generations: Arc<Generations>,
        max_rows: u64,
    ) -> Self {
        Self {
            inner,
            by_id: Entries::new(generations.clone(), "customers", TABLES, max_rows),
            pages: Entries::pages(generations.clone(), "customer_pages", TABLES, max_rows),
            generations,
        }
    }
}

#[async_trait]
impl CustomerRepository for CachedCustomers {
    async fn insert(&self, customer: &Customer, event: &AuditEvent) -> Result<(), RepoError> {
        self.generations
            .after_write(TABLES, self.inner.insert(customer, event))
            .await
    }

    async fn get(&self, id: CustomerId) -> Result<Option<Customer>, RepoError> {
        // Absent customers are cached too: creating one bumps the generation.
        self.by_id
            .get_or_load(&id, |_| true, self.inner.get(id))
            .await
    }

    async fn list(
        &self,
        filter: &CustomerFilter,
        limit: PageLimit,
        start: &PageStart,
    ) -> Result<CursorPage<Customer>, RepoError> {
        let key = (filter.clone(), limit, start.clone());
        self.pages
            .get_or_load(&key, |_| true, self.inner.list(filter, limit, start))
            .await
    }

    async fn update(
        &self,
        id: CustomerId,
        update: &CustomerUpdate,
        events: ChangeEvents<'_, Customer>,
    ) -> Result<Option<Customer>, RepoError> {
        // A suspension withdraws every key's access.
        self.generations
            .after_withdrawal(TABLES, self.inner.update(id, update, events))
            .await
    }
}
