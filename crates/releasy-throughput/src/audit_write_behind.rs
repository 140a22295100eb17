//! Write-behind for the audit trail (see [`crate::write_behind`]): reads see every
//! event recorded before them, since [`AuditRepository::list`] flushes the queue first.

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::Timestamp;
use releasy_domain::audit::{AuditEvent, AuditFilter, ChainBounds, ChainedEvent};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{AuditRepository, PruneEvent, RepoError};

use crate::write_behind::{BatchPolicy, BatchWriter, FlushError, QueueStats, WriteBehind};

/// The audit trail as a batch writer.
#[derive(Debug)]
struct AuditBatches(Arc<dyn AuditRepository>);

#[async_trait]
impl BatchWriter<AuditEvent> for AuditBatches {
    async fn write_batch(&self, rows: &[AuditEvent]) -> Result<(), RepoError> {
        self.0.record_many(rows).await
    }
}

/// An [`AuditRepository`] that batches writes to another one.
#[derive(Debug, Clone)]
pub struct AuditWriteBehind {
    inner: Arc<dyn AuditRepository>,
    queue: WriteBehind<AuditEvent>,
}

impl AuditWriteBehind {
    /// Starts the background writer on the current tokio runtime.
    pub fn start(inner: Arc<dyn AuditRepository>, policy: BatchPolicy) -> Self {
        let queue = WriteBehind::start(
            Arc::new(AuditBatches(inner.clone())),
            policy,
            "audit events",
        );
        Self { inner, queue }
    }

    /// Writes everything queued so far.
    ///
    /// # Errors
    /// [`FlushError`] when the database refused the batch (it stays queued).
    pub async fn flush(&self) -> Result<(), FlushError> {
        self.queue.flush().await
    }

    /// The queue's depth and writes so far, for the metrics.
    pub fn queue_stats(&self) -> QueueStats {
        self.queue.stats()
    }

    /// Writes everything queued; call it once the server has stopped taking requests.
    ///
    /// # Errors
    /// [`FlushError`] when the last batch could not be written (within
    /// [`crate::SHUTDOWN_WRITE_LIMIT`]), or when a write that panicked earlier lost
    /// events ([`FlushError::is_only_an_earlier_loss`]).
    pub async fn shutdown(&self) -> Result<(), FlushError> {
        self.queue.shutdown().await
    }
}

#[async_trait]
impl AuditRepository for AuditWriteBehind {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepoError> {
        self.queue.push(event).await
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        if let Err(err) = self.flush().await {
            tracing::warn!(error = %err, "listing audit events while some are still queued");
        }
        self.inner.list(filter, page).await
    }

    async fn chain_bounds(&self) -> Result<ChainBounds, RepoError> {
        if let Err(err) = self.flush().await {
            tracing::warn!(error = %err, "reading the audit chain while events are still queued");
        }
        self.inner.chain_bounds().await
    }

    async fn chained_after(&self, after: u64, limit: u32) -> Result<Vec<ChainedEvent>, RepoError> {
        self.inner.chained_after(after, limit).await
    }

    async fn chained_at_or_below(&self, position: u64) -> Result<Option<String>, RepoError> {
        self.inner.chained_at_or_below(position).await
    }

    async fn unchained(&self, limit: u32) -> Result<Vec<AuditEvent>, RepoError> {
        self.inner.unchained(limit).await
    }

    async fn link_pending(&self, limit: u32) -> Result<u64, RepoError> {
        // Queued events are written first, so that every event recorded before the
        // call is linked by it (the queue waits 50 ms by default; the linker runs
        // every 250 ms).
        if let Err(err) = self.flush().await {
            tracing::warn!(error = %err, "linking the audit chain while events are still queued");
        }
        self.inner.link_pending(limit).await
    }

    async fn prune_before(
        &self,
        cutoff: Timestamp,
        limit: u32,
        record: PruneEvent<'_>,
    ) -> Result<u64, RepoError> {
        self.inner.prune_before(cutoff, limit, record).await
    }
}

#[cfg(test)]
mod tests {
    use releasy_domain::Timestamp;
    use releasy_domain::audit::AuthReason;
    use releasy_domain::memory::InMemoryAudit;
    use releasy_domain::pagination::{Offset, PageLimit};

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::*;

    fn event(at: i64) -> AuditEvent {
        AuditEvent::api_key_auth(AuthReason::Ok, None, None, Timestamp::from_unix_seconds(at))
    }

    /// Every event `repo` holds, page by page.
    async fn count(repo: &dyn AuditRepository) -> usize {
        let mut total = 0;
        loop {
            let page = PageRequest {
                limit: PageLimit::LARGEST,
                offset: Offset::parse(Some(total as i64)).unwrap(),
            };
            let found = repo
                .list(&AuditFilter::default(), page)
                .await
                .unwrap()
                .len();
            if found == 0 {
                return total;
            }
            total += found;
        }
    }

    #[tokio::test]
    async fn reads_see_every_event_recorded_before_them() {
        let inner = Arc::new(InMemoryAudit::default());
        let batched = AuditWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_delay: Duration::from_secs(3600),
                ..BatchPolicy::default()
            },
        );
        for at in 0..10 {
            batched.record(&event(at)).await.unwrap();
        }
        assert_eq!(count(&batched).await, 10, "list flushes first");
        assert_eq!(count(inner.as_ref()).await, 10);
    }

    #[tokio::test]
    async fn a_full_batch_is_written_without_waiting() {
        let inner = Arc::new(InMemoryAudit::default());
        let batched = AuditWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_batch: 4,
                max_delay: Duration::from_secs(3600),
                ..BatchPolicy::default()
            },
        );
        for at in 0..4 {
            batched.record(&event(at)).await.unwrap();
        }
        for _ in 0..100 {
            if count(inner.as_ref()).await == 4 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the full batch was not written");
    }

    #[tokio::test]
    async fn queued_events_are_written_after_the_delay() {
        let inner = Arc::new(InMemoryAudit::default());
        let batched = AuditWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_delay: Duration::from_millis(20),
                ..BatchPolicy::default()
            },
        );
        batched.record(&event(1)).await.unwrap();
        for _ in 0..100 {
            if count(inner.as_ref()).await == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the queued event was not written");
    }

    /// An audit trail that takes `delay` for every batch, refuses writes while `down`
    /// is set, and while `stalled` is set holds every write until [`Scripted::resume`]
    /// (a disk that a competing writer keeps busy).
    #[derive(Debug, Default)]
    struct Scripted {
        rows: InMemoryAudit,
        delay: Duration,
        down: AtomicBool,
        stalled: AtomicBool,
        resumed: Notify,
    }

    impl Scripted {
        fn resume(&self) {
            self.stalled.store(false, Ordering::SeqCst);
            self.resumed.notify_waiters();
        }
    }

    #[async_trait]
    impl AuditRepository for Scripted {
        async fn record(&self, event: &AuditEvent) -> Result<(), RepoError> {
            self.record_many(std::slice::from_ref(event)).await
        }

        async fn record_many(&self, events: &[AuditEvent]) -> Result<(), RepoError> {
            loop {
                let resumed = self.resumed.notified();
                if !self.stalled.load(Ordering::SeqCst) {
                    break;
                }
                resumed.await;
            }
            tokio::time::sleep(self.delay).await;
            if self.down.load(Ordering::SeqCst) {
                return Err(RepoError::unavailable(std::io::Error::other("down")));
            }
            self.rows.record_many(events).await
        }

        async fn list(
            &self,
            filter: &AuditFilter,
            page: PageRequest,
        ) -> Result<Vec<AuditEvent>, RepoError> {
            self.rows.list(filter, page).await
        }

        async fn chain_bounds(&self) -> Result<ChainBounds, RepoError> {
            self.rows.chain_bounds().await
        }

        async fn chained_after(
            &self,
            after: u64,
            limit: u32,
        ) -> Result<Vec<ChainedEvent>, RepoError> {
            self.rows.chained_after(after, limit).await
        }

        async fn chained_at_or_below(&self, position: u64) -> Result<Option<String>, RepoError> {
            self.rows.chained_at_or_below(position).await
        }

        async fn unchained(&self, limit: u32) -> Result<Vec<AuditEvent>, RepoError> {
            self.rows.unchained(limit).await
        }

        async fn link_pending(&self, limit: u32) -> Result<u64, RepoError> {
            self.rows.link_pending(limit).await
        }

        async fn prune_before(
            &self,
            cutoff: releasy_domain::Timestamp,
            limit: u32,
            record: releasy_domain::ports::PruneEvent<'_>,
        ) -> Result<u64, RepoError> {
            self.rows.prune_before(cutoff, limit, record).await
        }
    }

    #[tokio::test]
    async fn an_outage_keeps_the_newest_events_and_writes_them_once_it_ends() {
        let inner = Arc::new(Scripted::default());
        inner.down.store(true, Ordering::SeqCst);
        let batched = AuditWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_batch: 2,
                max_delay: Duration::from_secs(3600),
                max_pending: 3,
                concurrent_writes: 1,
            },
        );
        for at in 0..5 {
            batched.record(&event(at)).await.unwrap();
        }
        assert!(batched.flush().await.is_err(), "the database is down");
        inner.down.store(false, Ordering::SeqCst);
        batched.flush().await.unwrap();
        let written: Vec<i64> = inner
            .rows
            .list(&AuditFilter::default(), PageRequest::default())
            .await
            .unwrap()
            .iter()
            .map(|e| e.created_at.unix_seconds())
            .collect();
        assert_eq!(
            written,
            [4, 3, 2],
            "the oldest were dropped, the rest written"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_falls_behind_slows_handlers_down_and_loses_nothing() {
        let inner = Arc::new(Scripted {
            delay: Duration::from_millis(5),
            ..Scripted::default()
        });
        let batched = AuditWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_batch: 2,
                max_delay: Duration::from_millis(5),
                max_pending: 10,
                concurrent_writes: 1,
            },
        );
        let handlers: Vec<_> = (0..400)
            .map(|at| {
                let batched = batched.clone();
                tokio::spawn(async move { batched.record(&event(at)).await })
            })
            .collect();
        for handler in handlers {
            handler.await.unwrap().unwrap();
        }
        batched.flush().await.unwrap();
        assert_eq!(
            count(&inner.rows).await,
            400,
            "every event is written, none dropped"
        );
    }

    /// Records `count` events one after the other; a handler that waits (here, for
    /// ever) fails the test after 10 s with `why`.
    async fn record_without_waiting(batched: &AuditWriteBehind, count: i64, why: &str) {
        let recording = async {
            for at in 0..count {
                batched.record(&event(at)).await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(10), recording)
            .await
            .expect(why);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_held_up_by_the_disk_holds_no_handler_up_below_the_bound() {
        let inner = Arc::new(Scripted::default());
        inner.stalled.store(true, Ordering::SeqCst);
        let batched = AuditWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_batch: 2,
                max_delay: Duration::from_millis(1),
                max_pending: 1_000,
                concurrent_writes: 1,
            },
        );
        record_without_waiting(
            &batched,
            500,
            "no handler waits for the stalled commit while the queue has room",
        )
        .await;
        inner.resume();
        batched.flush().await.unwrap();
        assert_eq!(count(&inner.rows).await, 500, "every event is written");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handlers_never_wait_on_a_database_that_refuses_writes() {
        let inner = Arc::new(Scripted::default());
        inner.down.store(true, Ordering::SeqCst);
        let batched = AuditWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_batch: 1,
                max_delay: Duration::from_secs(3600),
                max_pending: 5,
                concurrent_writes: 1,
            },
        );
        record_without_waiting(
            &batched,
            100,
            "recording does not wait for a failing database",
        )
        .await;
    }

    #[tokio::test]
    async fn shutdown_writes_what_is_queued() {
        let inner = Arc::new(InMemoryAudit::default());
        let batched = AuditWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_delay: Duration::from_secs(3600),
                ..BatchPolicy::default()
            },
        );
        for at in 0..3 {
            batched.record(&event(at)).await.unwrap();
        }
        batched.shutdown().await.unwrap();
        assert_eq!(count(inner.as_ref()).await, 3);
    }
}
