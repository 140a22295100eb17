//! Reading the audit trail.

use std::sync::Arc;

use crate::audit::{AuditEvent, AuditFilter};
use crate::pagination::PageRequest;
use crate::ports::{AuditRepository, RepoError};

/// Lists audit events, newest first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::audit::AuditFilter;
/// use releasy_domain::pagination::PageRequest;
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
///
/// // A refused key check is recorded like an accepted one.
/// assert!(releasy.authenticator.authenticate(None).await.is_err());
/// let events = releasy.audit.list(&AuditFilter::default(), PageRequest::default()).await.unwrap();
/// assert_eq!(events[0].event, "api_key.auth");
/// # }
/// ```
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
