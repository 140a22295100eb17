//! Write-behind: request handlers enqueue rows and return, and one background task
//! writes them in batches (one transaction per batch), so a request costs no write of
//! its own. The audit trail and the download ledger are written this way.
//!
//! Nothing is lost on a graceful shutdown ([`WriteBehind::shutdown`] writes what is
//! queued); a crash can lose at most the rows of the last `max_delay`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use releasy_domain::ports::RepoError;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::MissedTickBehavior;

/// How a queue is drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Write once this many rows are queued.
    pub max_batch: usize,
    /// Write queued rows at least this often.
    pub max_delay: Duration,
    /// The bound on memory: the most rows queued. At the bound a handler waits for
    /// the writer to take the queue while writes succeed (nothing is lost), and the
    /// oldest rows are dropped (and logged) while the database refuses writes (an
    /// outage must not stall requests). Below it a handler never waits, however slow
    /// the disk.
    pub max_pending: usize,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self {
            max_batch: 256,
            max_delay: Duration::from_millis(50),
            // Under 1 KiB a row (an audit event's JSON payload is a small map, a ledger
            // row a dozen short columns): about 30 MiB at most, and half a second of
            // the busiest customer traffic measured (tens of seconds of a typical
            // fleet's) while a slow disk holds a commit up.
            max_pending: 32_768,
        }
    }
}

/// Where a queue's batches go.
#[async_trait]
pub trait BatchWriter<T>: Send + Sync + std::fmt::Debug + 'static {
    /// Writes `rows` in one transaction, all or none.
    async fn write_batch(&self, rows: &[T]) -> Result<(), RepoError>;
}

/// Rows waiting to be written, shared by the handlers that add them and the writer.
#[derive(Debug)]
struct Queue<T> {
    rows: Mutex<VecDeque<T>>,
    /// Wakes the writer when a full batch is waiting.
    batch_full: Notify,
    /// Rows dropped (the oldest) while the queue was at `max_pending`.
    dropped: AtomicU64,
    /// Wakes handlers waiting for room: the writer took the queue.
    drained: Notify,
    /// The last write failed: handlers stop waiting for room (an outage must not stall
    /// requests) and the oldest rows are dropped beyond `max_pending` instead.
    failing: AtomicBool,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            rows: Mutex::new(VecDeque::new()),
            batch_full: Notify::new(),
            dropped: AtomicU64::new(0),
            drained: Notify::new(),
            failing: AtomicBool::new(false),
        }
    }
}

impl<T> Queue<T> {
    fn rows(&self) -> MutexGuard<'_, VecDeque<T>> {
        // A panic while holding the lock leaves a valid queue: keep using it.
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A caller waiting for everything queued to be written.
type FlushRequest = oneshot::Sender<Result<(), String>>;

/// A queue of rows of type `T` and the background task that writes them in batches.
///
/// Handlers append to a shared queue under a short lock and return; the writer is woken
/// only when a batch is full, on its `max_delay` tick, or for a flush, so a request does
/// not cost a task wake-up of its own.
#[derive(Debug)]
pub struct WriteBehind<T> {
    writer: Arc<dyn BatchWriter<T>>,
    queue: Arc<Queue<T>>,
    policy: BatchPolicy,
    flushes: mpsc::UnboundedSender<FlushRequest>,
    /// What the rows are, for logs ("audit events", "download ledger rows").
    what: &'static str,
}

impl<T> Clone for WriteBehind<T> {
    fn clone(&self) -> Self {
        Self {
            writer: self.writer.clone(),
            queue: self.queue.clone(),
            policy: self.policy,
            flushes: self.flushes.clone(),
            what: self.what,
        }
    }
}

/// The batcher could not write what was queued.
#[derive(Debug, thiserror::Error)]
#[error("{what} could not be written: {reason}")]
pub struct FlushError {
    what: &'static str,
    reason: String,
}

impl<T: Clone + Send + Sync + std::fmt::Debug + 'static> WriteBehind<T> {
    /// Starts the background writer of `what` on the current tokio runtime.
    pub fn start(writer: Arc<dyn BatchWriter<T>>, policy: BatchPolicy, what: &'static str) -> Self {
        let queue = Arc::new(Queue::default());
        let (flushes, flush_requests) = mpsc::unbounded_channel();
        tokio::spawn(write_behind(
            writer.clone(),
            queue.clone(),
            flush_requests,
            policy,
            what,
        ));
        Self {
            writer,
            queue,
            policy,
            flushes,
            what,
        }
    }

    /// Queues `row` and returns; waits only while the queue is at its bound and writes
    /// succeed.
    ///
    /// # Errors
    /// [`RepoError`] only when the writer is gone and the direct write fails.
    pub async fn push(&self, row: &T) -> Result<(), RepoError> {
        if self.flushes.is_closed() {
            // The writer is gone (the runtime is shutting down): write directly.
            return self.writer.write_batch(std::slice::from_ref(row)).await;
        }
        // Only a queue at its bound makes handlers wait for the writer (memory stays
        // bounded and nothing is dropped), and never while writes fail. A slow commit
        // alone never holds a request up.
        let room = self.policy.max_pending;
        loop {
            // Registered before the check, so a drain in between is not missed.
            let drained = self.queue.drained.notified();
            let queued = {
                let mut rows = self.queue.rows();
                let failing = self.queue.failing.load(Ordering::Acquire);
                if rows.len() < room || failing {
                    if rows.len() >= self.policy.max_pending {
                        rows.pop_front();
                        self.queue.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    rows.push_back(row.clone());
                    Some(rows.len())
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

    /// Writes everything queued so far.
    ///
    /// # Errors
    /// [`FlushError`] when the database refused the batch (it stays queued).
    pub async fn flush(&self) -> Result<(), FlushError> {
        let (ack, done) = oneshot::channel();
        if self.flushes.send(ack).is_err() {
            return Ok(());
        }
        done.await.unwrap_or(Ok(())).map_err(|reason| FlushError {
            what: self.what,
            reason,
        })
    }

    /// Writes everything queued; call it once the server has stopped taking requests.
    ///
    /// # Errors
    /// [`FlushError`] when the last batch could not be written.
    pub async fn shutdown(&self) -> Result<(), FlushError> {
        self.flush().await
    }
}

/// The writer: writes what is queued when a batch is full, every `max_delay`, and on
/// each flush request; after a failed write it waits for the next tick (an outage is
/// retried, not hammered). Ends, writing what is left, when every handle is dropped.
async fn write_behind<T: Send + Sync + 'static>(
    writer: Arc<dyn BatchWriter<T>>,
    queue: Arc<Queue<T>>,
    mut flush_requests: mpsc::UnboundedReceiver<FlushRequest>,
    policy: BatchPolicy,
    what: &'static str,
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
                    if let Err(err) = write_queued(writer.as_ref(), &queue, policy, what).await {
                        tracing::error!(error = %err, lost = queue.rows().len(), what, "rows lost at shutdown");
                    }
                    return;
                }
            },
        };
        let result = write_queued(writer.as_ref(), &queue, policy, what).await;
        failing = result.is_err();
        queue.failing.store(failing, Ordering::Release);
        // Room again (or, when failing, no more waiting for it).
        queue.drained.notify_waiters();
        if let Some(ack) = flush {
            let _ = ack.send(result);
        }
    }
}

/// Rows written in one statement batch (one transaction): bounds the memory a batch
/// in flight holds on top of the queue, and how long one commit takes.
const WRITE_CHUNK: usize = 4_096;

/// Writes everything queued when called, in chunks of at most [`WRITE_CHUNK`] rows
/// (rows queued meanwhile wait for the next round); on failure puts the chunk back in
/// front of what arrived meanwhile (bounded by `max_pending`, dropping the oldest).
async fn write_queued<T: Send + Sync + 'static>(
    writer: &dyn BatchWriter<T>,
    queue: &Queue<T>,
    policy: BatchPolicy,
    what: &'static str,
) -> Result<(), String> {
    let dropped = queue.dropped.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        tracing::error!(
            dropped,
            what,
            "write-behind queue full while the database refuses writes; oldest rows dropped"
        );
    }
    let mut left = queue.rows().len();
    while left > 0 {
        let chunk: Vec<T> = {
            let mut rows = queue.rows();
            let take = left.min(WRITE_CHUNK).min(rows.len());
            rows.drain(..take).collect()
        };
        queue.drained.notify_waiters();
        if chunk.is_empty() {
            break;
        }
        left -= chunk.len();
        if let Err(err) = writer.write_batch(&chunk).await {
            let mut rows = queue.rows();
            for row in chunk.into_iter().rev() {
                rows.push_front(row);
            }
            let excess = rows.len().saturating_sub(policy.max_pending);
            if excess > 0 {
                rows.drain(..excess);
                tracing::error!(
                    dropped = excess,
                    what,
                    "write-behind queue full while the database refuses writes; oldest rows dropped"
                );
            }
            tracing::warn!(error = %err, queued = rows.len(), what, "batch not written; will retry");
            return Err(err.to_string());
        }
    }
    Ok(())
}
