//! Retention on the in-memory audit trail: the chain is cut at its start, the cut is
//! recorded, and what is kept still verifies.

use releasy_domain::Timestamp;
use releasy_domain::audit::{AuditEvent, AuditFilter, AuditService, AuthReason};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::Repositories;

const T0: i64 = 1_735_312_000;

#[tokio::test]
async fn old_events_leave_from_the_start_and_the_rest_verifies() {
    let repos = Repositories::in_memory();
    let at = Timestamp::from_unix_seconds;
    for t in [0, 1, 2, 100, 3] {
        let event = AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at(T0 + t));
        repos.audit.record(&event).await.unwrap();
    }
    let audit = AuditService::new(repos.audit.clone());

    assert_eq!(audit.prune(at(T0 + 50), at(T0 + 200)).await.unwrap(), 3);
    let chain = audit.verify().await.unwrap();
    assert_eq!(chain.bounds.start.position, 3);
    assert_eq!(chain.events, 3, "two kept and the audit.pruned event");
    let pruned = repos
        .audit
        .list(
            &AuditFilter {
                event: Some("audit.pruned".into()),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(pruned[0].payload["pruned"], 3);
    assert_eq!(pruned[0].actor, "system");

    assert_eq!(
        audit.prune(at(T0 + 50), at(T0 + 201)).await.unwrap(),
        0,
        "an event inside the window stops the cut"
    );
    let nothing_older = audit.prune(at(T0 - 1), at(T0 + 202)).await.unwrap();
    assert_eq!(nothing_older, 0);
}

/// A long sweep cuts over and over while the walk runs, faster than the walk reads
/// (here 2 000 events before every page of 1 000 read after the first): each gap it
/// leaves where the start has moved past the walk is no deletion, however many.
#[tokio::test]
async fn a_sweep_cutting_under_the_walk_again_and_again_is_not_taken_for_a_deletion() {
    let at = Timestamp::from_unix_seconds;
    let repo = CutsUnderTheWalk::new(at(T0 + 6_000), 2_000, Cuts::BeforeEveryPageButTheFirst);
    let events: Vec<AuditEvent> = (0..6_500)
        .map(|t| AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at(T0 + t)))
        .collect();
    repo.inner.append(&events);
    let audit = AuditService::new(std::sync::Arc::new(repo));
    let chain = audit.verify().await.expect("no deletion: only cuts");
    assert_eq!(chain.bounds.start.position, 6_000);
    assert_eq!(
        chain.events, 503,
        "500 kept and the three cuts' audit.pruned events"
    );
}

#[tokio::test]
async fn a_cut_while_the_walk_runs_is_not_taken_for_a_deletion() {
    let at = Timestamp::from_unix_seconds;
    let repo = CutsUnderTheWalk::new(at(T0 + 2_000), 5_000, Cuts::BeforeTheSecondPage);
    // Three pages of events; the cut removes the first 2 000 once the first page of
    // 1 000 has been checked.
    let events: Vec<AuditEvent> = (0..2_500)
        .map(|t| AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at(T0 + t)))
        .collect();
    repo.inner.append(&events);
    let audit = AuditService::new(std::sync::Arc::new(repo));

    let chain = audit
        .verify()
        .await
        .expect("the walk starts again from the new start");
    assert_eq!(chain.bounds.start.position, 2_000);
    assert_eq!(chain.events, 501, "500 kept and the audit.pruned event");
}

/// An audit repository that runs retention cuts (of up to `batch` events older than
/// `cutoff`) while the walk reads its pages, as a sweep on another instance could.
#[derive(Debug)]
struct CutsUnderTheWalk {
    inner: releasy_domain::memory::InMemoryAudit,
    pages_read: std::sync::atomic::AtomicU32,
    cutoff: Timestamp,
    batch: u32,
    cuts: Cuts,
}

/// Before which page reads a cut runs.
#[derive(Debug, Clone, Copy)]
enum Cuts {
    /// Once, before the second page (the first has been checked).
    BeforeTheSecondPage,
    /// Before every page after the first: a long sweep faster than the walk.
    BeforeEveryPageButTheFirst,
}

impl CutsUnderTheWalk {
    fn new(cutoff: Timestamp, batch: u32, cuts: Cuts) -> Self {
        Self {
            inner: releasy_domain::memory::InMemoryAudit::default(),
            pages_read: std::sync::atomic::AtomicU32::new(0),
            cutoff,
            batch,
            cuts,
        }
    }
}

#[async_trait::async_trait]
impl releasy_domain::ports::AuditRepository for CutsUnderTheWalk {
    async fn record(&self, event: &AuditEvent) -> Result<(), releasy_domain::ports::RepoError> {
        self.inner.record(event).await
    }
    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, releasy_domain::ports::RepoError> {
        self.inner.list(filter, page).await
    }
    async fn chain_bounds(
        &self,
    ) -> Result<releasy_domain::audit::ChainBounds, releasy_domain::ports::RepoError> {
        self.inner.chain_bounds().await
    }
    async fn chained_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<releasy_domain::audit::ChainedEvent>, releasy_domain::ports::RepoError> {
        let read_before = self
            .pages_read
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let cut_now = match self.cuts {
            Cuts::BeforeTheSecondPage => read_before == 1,
            Cuts::BeforeEveryPageButTheFirst => read_before >= 1,
        };
        if cut_now {
            let record =
                |removed, start| AuditEvent::audit_pruned(removed, self.cutoff, start, self.cutoff);
            self.inner
                .prune_before(self.cutoff, self.batch, &record)
                .await?;
        }
        self.inner.chained_after(after, limit).await
    }
    async fn chained_at_or_below(
        &self,
        position: u64,
    ) -> Result<Option<String>, releasy_domain::ports::RepoError> {
        self.inner.chained_at_or_below(position).await
    }
    async fn unchained(
        &self,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, releasy_domain::ports::RepoError> {
        self.inner.unchained(limit).await
    }
    async fn link_pending(&self, limit: u32) -> Result<u64, releasy_domain::ports::RepoError> {
        self.inner.link_pending(limit).await
    }
    async fn prune_before(
        &self,
        cutoff: Timestamp,
        limit: u32,
        record: releasy_domain::ports::PruneEvent<'_>,
    ) -> Result<u64, releasy_domain::ports::RepoError> {
        self.inner.prune_before(cutoff, limit, record).await
    }
}
