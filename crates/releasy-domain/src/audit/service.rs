//! Reading the audit trail.

use std::sync::Arc;

use crate::audit::{AuditEvent, AuditFilter};
use crate::pagination::PageRequest;
use crate::ports::{AuditRepository, RepoError};

/// Lists audit events, newest first.
#[derive(Debug, Clone)]
pub struct AuditService {
    events: Arc<dyn AuditRepository>,
}

impl AuditService {
    /// A service over the audit repository.
    pub fn new(events: Arc<dyn AuditRepository>) -> Self {
        Self { events }
    }

    /// One page of events matching `filter`, newest first.
    ///
    /// # Errors
    /// [`RepoError`] when the repository failed.
    pub async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        self.events.list(filter, page).await
    }
}
