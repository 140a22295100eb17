//! The audit trail in a vector.

use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::audit::{AuditEvent, AuditFilter};
use crate::pagination::PageRequest;
use crate::ports::{AuditRepository, RepoError};

/// Audit events kept in memory.
#[derive(Debug, Default)]
pub struct InMemoryAudit {
    rows: Mutex<Vec<AuditEvent>>,
}

#[async_trait]
impl AuditRepository for InMemoryAudit {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepoError> {
        lock(&self.rows).push(event.clone());
        Ok(())
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        let mut rows: Vec<AuditEvent> = lock(&self.rows)
            .iter()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect();
        rows.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.to_string())));
        Ok(rows
            .into_iter()
            .skip(page.offset.get() as usize)
            .take(page.limit.get() as usize)
            .collect())
    }
}
