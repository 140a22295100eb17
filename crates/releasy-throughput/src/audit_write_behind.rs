//! Write-behind for the audit trail: request handlers enqueue events and return, and one
//! background task writes them in batches (one transaction per batch), so a customer-key
//! request costs no audit write of its own.
//!
//! Nothing is lost on a graceful shutdown ([`AuditWriteBehind::shutdown`] writes what is
//! queued), and reads see every event recorded before them: [`AuditRepository::list`]
//! flushes the queue first. A crash can lose at most the events of the last
//! `max_delay`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use releasy_domain::Timestamp;
use releasy_domain::audit::{AuditEvent, AuditFilter, ChainBounds, ChainedEvent};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{AuditRepository, PruneEvent, RepoError};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::MissedTickBehavior;

/// How the queue is drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Write once this many events are queued.
    pub max_batch: usize,
    /// Write queued events at least this often.
    pub max_delay: Duration,
    /// The bound on memory: the most events queued. At the bound a handler waits for
    /// the writer to take the queue while writes succeed (nothing is lost), and the
    /// oldest events are dropped (and logged) while the database refuses writes (an
    /// outage must not stall requests). Below it a handler never waits, however slow
    /// the disk.
    pub max_pending: usize,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self {
            max_batch: 256,
            max_delay: Duration::from_millis(50),
            // Under 1 KiB an event (its JSON payload is a small map): about 30 MiB at
            // most, and half a second of the busiest customer traffic measured (tens
            // of seconds of a typical fleet's) while a slow disk holds a commit up.
            max_pending: 32_768,
        }
    }
}

/// Events waiting to be written, shared by the handlers that add them and the writer.
#[derive(Debug, Default)]
struct Queue {
    events: Mutex<VecDeque<AuditEvent>>,
    /// Wakes the writer when a full batch is waiting.
    batch_full: Notify,
    /// Events dropped (the oldest) while the queue was at `max_pending`.
    dropped: AtomicU64,
    /// Wakes handlers waiting for room: the writer took the queue.
    drained: Notify,
    /// The last write failed: handlers stop waiting for room (an outage must not stall
    /// requests) and the oldest events are dropped beyond `max_pending` instead.
    failing: AtomicBool,
}

impl Queue {
    fn events(&self) -> MutexGuard<'_, VecDeque<AuditEvent>> {
        // A panic while holding the lock leaves a valid queue: keep using it.
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A caller waiting for everything queued to be written.
type FlushRequest = oneshot::Sender<Result<(), String>>;

/// An [`AuditRepository`] that batches writes to another one.
///
/// Handlers append to a shared queue under a short lock and return; the writer is woken
/// only when a batch is full, on its `max_delay` tick, or for a flush, so a request does
/// not cost a task wake-up of its own.
#[derive(Debug, Clone)]
pub struct AuditWriteBehind {
    inner: Arc<dyn AuditRepository>,
    queue: Arc<Queue>,
    policy: BatchPolicy,
    flushes: mpsc::UnboundedSender<FlushRequest>,
}

/// The batcher could not write what was queued.
#[derive(Debug, thiserror::Error)]
#[error("audit events could not be written: {0}")]
pub struct FlushError(String);

impl AuditWriteBehind {
    /// Starts the background writer on the current tokio runtime.
    pub fn start(inner: Arc<dyn AuditRepository>, policy: BatchPolicy) -> Self {
        let queue = Arc::new(Queue::default());
        let (flushes, flush_requests) = mpsc::unbounded_channel();
        tokio::spawn(write_behind(
            inner.clone(),
            queue.clone(),
            flush_requests,
            policy,
        ));
        Self {
            inner,
            queue,
            policy,
            flushes,
        }
    }

    /// Writes everything queued so far.
    ///
    /// # Errors
    /// [`FlushError`] when the database refused the batch (it stays queued).
    pub async fn flush(&self) -> Result<(), FlushError> {
        let (ack, done) = oneshot::channel();
        if self.flushes.send(ack).is_err() {
            return Ok(());
        }
        done.await.unwrap_or(Ok(())).map_err(FlushError)
    }

    /// Writes everything queued; call it once the server has stopped taking requests.
    ///
    /// # Errors
    /// [`FlushError`] when the last batch could not be written.
    pub async fn shutdown(&self) -> Result<(), FlushError> {
        self.flush().await
    }
}

#[async_trait]
impl AuditRepository for AuditWriteBehind {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepoError> {
        if self.flushes.is_closed() {
            // The writer is gone (the runtime is shutting down): write directly.
            return self.inner.record(event).await;
        }
        // Only a queue at its bound makes handlers wait for the writer (memory stays
        // bounded and nothing is dropped), and never while writes fail. A slow commit
        // alone never holds a request up.
        let room = self.policy.max_pending;
        loop {
            // Registered before the check, so a drain in between is not missed.
            let drained = self.queue.drained.notified();
            let queued = {
                let mut events = self.queue.events();
                let failing = self.queue.failing.load(Ordering::Acquire);
                if events.len() < room || failing {
                    if events.len() >= self.policy.max_pending {
                        events.pop_front();
                        self.queue.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    events.push_back(event.clone());
                    Some(events.len())
                } else {
                    None
                }
            };
            match queued {
                Some(queued) => {
                    if queued == self.policy.max_batch {
                        self.queue.batch_full.notify_one();
                    }
                    return Ok(());
                }
                None => {
                    self.queue.batch_full.notify_one();
                    drained.await;
                }
            }
        }
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

/// The writer: writes what is queued when a batch is full, every `max_delay`, and on
/// each flush request; after a failed write it waits for the next tick (an outage is
/// retried, not hammered). Ends, writing what is left, when every handle is dropped.
async fn write_behind(
    inner: Arc<dyn AuditRepository>,
    queue: Arc<Queue>,
    mut flush_requests: mpsc::UnboundedReceiver<FlushRequest>,
    policy: BatchPolicy,
) {
    let mut tick = tokio::time::interval(policy.max_delay);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        let flush = tokio::select! {
            () = queue.batch_full.notified(), if !failing => None,
            _ = tick.tick() => None,
            request = flush_requests.recv() => match request {
                Some(ack) => Some(ack),
                None => {
                    if let Err(err) = write_queued(inner.as_ref(), &queue, policy).await {
                        tracing::error!(error = %err, lost = queue.events().len(), "audit events lost at shutdown");
                    }
                    return;
                }
            },
        };
        let result = write_queued(inner.as_ref(), &queue, policy).await;
        failing = result.is_err();
        queue.failing.store(failing, Ordering::Release);
        // Room again (or, when failing, no more waiting for it).
        queue.drained.notify_waiters();
        if let Some(ack) = flush {
            let _ = ack.send(result);
        }
    }
}

/// Events written in one statement batch (one transaction): bounds the memory a batch
/// in flight holds on top of the queue, and how long one commit takes.
const WRITE_CHUNK: usize = 4_096;

/// Writes everything queued when called, in chunks of at most [`WRITE_CHUNK`] events
/// (events queued meanwhile wait for the next round); on failure puts the chunk back in
/// front of what arrived meanwhile (bounded by `max_pending`, dropping the oldest).
async fn write_queued(
    inner: &dyn AuditRepository,
    queue: &Queue,
    policy: BatchPolicy,
) -> Result<(), String> {
    let dropped = queue.dropped.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        tracing::error!(
            dropped,
            "audit queue full while the database refuses writes; oldest events dropped"
        );
    }
    let mut left = queue.events().len();
    while left > 0 {
        let chunk: Vec<AuditEvent> = {
            let mut events = queue.events();
            let take = left.min(WRITE_CHUNK).min(events.len());
            events.drain(..take).collect()
        };
        queue.drained.notify_waiters();
        if chunk.is_empty() {
            break;
        }
        left -= chunk.len();
        if let Err(err) = inner.record_many(&chunk).await {
            let mut events = queue.events();
            for event in chunk.into_iter().rev() {
                events.push_front(event);
            }
            let excess = events.len().saturating_sub(policy.max_pending);
            if excess > 0 {
                events.drain(..excess);
                tracing::error!(
                    dropped = excess,
                    "audit queue full while the database refuses writes; oldest events dropped"
                );
            }
            tracing::warn!(error = %err, queued = events.len(), "audit batch not written; will retry");
            return Err(err.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use releasy_domain::Timestamp;
    use releasy_domain::audit::AuthReason;
    use releasy_domain::memory::InMemoryAudit;
    use releasy_domain::pagination::{Offset, PageLimit};

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
