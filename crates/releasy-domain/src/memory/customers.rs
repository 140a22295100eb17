//! Customers in a vector.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{InMemoryAudit, lock};
use crate::CustomerId;
use crate::audit::AuditEvent;
use crate::customer::{Customer, CustomerFilter, CustomerUpdate, fold_case};
use crate::pagination::{Cursor, CursorPage, PageLimit, PageStart};
use crate::ports::{ChangeEvents, CustomerRepository, RepoError};

/// Customers kept in memory; the events of their changes go to `audit`.
#[derive(Debug, Default)]
pub struct InMemoryCustomers {
    rows: Mutex<Vec<Customer>>,
    audit: Arc<InMemoryAudit>,
}

impl InMemoryCustomers {
    /// Customers whose changes are recorded in `audit`.
    pub fn with_audit(audit: Arc<InMemoryAudit>) -> Self {
        Self {
            rows: Mutex::default(),
            audit,
        }
    }

    /// Where their changes (and those of the keys and releases joined to them) are
    /// recorded.
    pub(crate) fn audit(&self) -> &InMemoryAudit {
        &self.audit
    }
}

fn matches(filter: &CustomerFilter, c: &Customer) -> bool {
    filter.customer_id.is_none_or(|id| c.id == id)
        && filter
            .name_contains
            .as_ref()
            .is_none_or(|n| fold_case(c.name.as_str()).contains(&fold_case(n)))
        && filter.plan.as_ref().is_none_or(|p| {
            c.plan
                .as_ref()
                .is_some_and(|plan| fold_case(plan.as_str()) == fold_case(p))
        })
}

/// The listing order: `(created_at, id)` descending.
fn sort_key(c: &Customer) -> (i64, String) {
    (c.created_at.unix_seconds(), c.id.to_string())
}

#[async_trait]
impl CustomerRepository for InMemoryCustomers {
    async fn insert(&self, customer: &Customer, event: &AuditEvent) -> Result<(), RepoError> {
        let mut rows = lock(&self.rows);
        if rows.iter().any(|c| c.id == customer.id) {
            return Err(RepoError::Conflict);
        }
        rows.push(customer.clone());
        self.audit.append(std::slice::from_ref(event));
        Ok(())
    }

    async fn get(&self, id: CustomerId) -> Result<Option<Customer>, RepoError> {
        Ok(lock(&self.rows).iter().find(|c| c.id == id).cloned())
    }

    async fn list(
        &self,
        filter: &CustomerFilter,
        limit: PageLimit,
        start: &PageStart,
    ) -> Result<CursorPage<Customer>, RepoError> {
        let mut rows: Vec<Customer> = lock(&self.rows)
            .iter()
            .filter(|c| matches(filter, c))
            .cloned()
            .collect();
        rows.sort_by_key(|c| std::cmp::Reverse(sort_key(c)));
        let remaining: Vec<Customer> = match start {
            PageStart::Offset(offset) => rows.into_iter().skip(offset.get() as usize).collect(),
            PageStart::After(cursor) => {
                let after = (cursor.created_at.unix_seconds(), cursor.id.clone());
                rows.into_iter().filter(|c| sort_key(c) < after).collect()
            }
        };
        let limit = limit.get() as usize;
        let has_more = remaining.len() > limit;
        let items: Vec<Customer> = remaining.into_iter().take(limit).collect();
        let next_cursor = has_more.then(|| items.last()).flatten().map(|last| Cursor {
            created_at: last.created_at,
            id: last.id.to_string(),
        });
        Ok(CursorPage { items, next_cursor })
    }

    async fn update(
        &self,
        id: CustomerId,
        update: &CustomerUpdate,
        events: ChangeEvents<'_, Customer>,
    ) -> Result<Option<Customer>, RepoError> {
        let mut rows = lock(&self.rows);
        let Some(row) = rows.iter_mut().find(|c| c.id == id) else {
            return Ok(None);
        };
        let before = row.clone();
        if let Some(name) = &update.name {
            row.name = name.clone();
        }
        if let Some(plan) = &update.plan {
            row.plan = plan.clone();
        }
        if let Some(suspended_at) = update.suspended_at {
            row.suspended_at = suspended_at;
        }
        self.audit.append(&events(&before, row));
        Ok(Some(row.clone()))
    }
}
