//! Reading the audit trail, and verifying its chain.

use std::sync::Arc;

use crate::Timestamp;
use crate::audit::{AuditEvent, AuditFilter, ChainBounds, ChainBreak, ChainVerifier};
use crate::pagination::PageRequest;
use crate::ports::{AuditRepository, RepoError};

/// How many chained events [`AuditService::verify`] reads at a time.
const VERIFY_PAGE: u32 = 1_000;

/// Events removed per transaction by [`AuditService::prune`]: small, so that a sweep
/// never holds the chain (which every write appends to) for long.
pub const PRUNE_BATCH: u32 = 500;

/// The most batches one sweep removes (a backlog goes over several sweeps).
const PRUNE_BATCHES_PER_SWEEP: u32 = 200;

/// Why the chain could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain is broken: the first event found wrong.
    #[error(transparent)]
    Broken(#[from] ChainBreak),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// What a verification walked: how many events, from where to where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedChain {
    /// Events checked.
    pub events: u64,
    /// The chain's recorded start and head (print the head to anchor it elsewhere).
    pub bounds: ChainBounds,
}

/// Lists audit events, newest first, and verifies their chain.
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

    /// Walks the whole stored chain, page by page, from its recorded start to its
    /// head as read when the walk begins, and fails on the first event altered, deleted
    /// or inserted (an event that carries no link counts as inserted).
    ///
    /// # Errors
    /// [`VerifyError::Broken`] naming the first break, [`VerifyError::Repo`].
    pub async fn verify(&self) -> Result<VerifiedChain, VerifyError> {
        let bounds = self.events.chain_bounds().await?;
        if let Some(event) = self.events.unchained(1).await?.first() {
            return Err(ChainVerifier::unchained(event).into());
        }
        let mut verifier = ChainVerifier::new(bounds);
        let mut after = bounds.start.position;
        // The walk ends at the head read above: events appended since (the server
        // keeps writing while this runs) are the next walk's.
        'pages: while after < bounds.head.position {
            let page = self.events.chained_after(after, VERIFY_PAGE).await?;
            for chained in &page {
                let Some(link) = chained.link else {
                    return Err(ChainVerifier::unchained(&chained.event).into());
                };
                if link.position > bounds.head.position {
                    break 'pages;
                }
                verifier.check(&chained.event, link)?;
                after = link.position;
            }
            if page.len() < VERIFY_PAGE as usize {
                break;
            }
        }
        let events = verifier.finish()?;
        Ok(VerifiedChain { events, bounds })
    }

    /// Removes the events created before `cutoff` from the chain's start, in batches of
    /// [`PRUNE_BATCH`] (up to 100 000 a sweep), and records an `audit.pruned` event
    /// naming the new start when it removed any. Returns how many it removed.
    ///
    /// # Errors
    /// [`RepoError`]; the batches removed before it are kept, with the start recorded.
    pub async fn prune(&self, cutoff: Timestamp, at: Timestamp) -> Result<u64, RepoError> {
        let mut pruned = 0;
        for _ in 0..PRUNE_BATCHES_PER_SWEEP {
            let removed = self.events.prune_before(cutoff, PRUNE_BATCH).await?;
            pruned += removed;
            if removed < u64::from(PRUNE_BATCH) {
                break;
            }
        }
        if pruned > 0 {
            let start = self.events.chain_bounds().await?.start;
            self.events
                .record(&AuditEvent::audit_pruned(pruned, cutoff, start, at))
                .await?;
        }
        Ok(pruned)
    }
}
