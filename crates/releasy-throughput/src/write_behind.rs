//! Write-behind: request handlers enqueue rows and return, and one background task
//! writes them in batches (one transaction per batch), so a request costs no write of
//! its own. The audit trail and the download ledger are written this way.
//!
//! Nothing is lost on a graceful shutdown ([`WriteBehind::shutdown`] writes what is
//! queued); a crash can lose at most the rows of the last `max_delay`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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
    /// Chunks of one round written at once, each in its own transaction: 1 keeps the
    /// rows' order (the audit chain needs it); more lets a database that runs
    /// transactions in parallel (PostgreSQL) keep up with a faster stream of rows
    /// whose order does not matter (the download ledger).
    pub concurrent_writes: usize,
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
            concurrent_writes: 1,
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
    /// Write rounds that found rows, and the time they took in all (for the metrics).
    rounds: AtomicU64,
    round_nanos: AtomicU64,
    /// Set (under the `rows` lock) by [`WriteBehind::shutdown`] before its last flush:
    /// a row pushed after it is written directly, not left in a queue nothing drains.
    closed: AtomicBool,
    /// Rows whose write panicked (or was cancelled with the runtime): gone, and
    /// reported by the shutdown.
    lost_to_panics: AtomicU64,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            rows: Mutex::new(VecDeque::new()),
            batch_full: Notify::new(),
            dropped: AtomicU64::new(0),
            drained: Notify::new(),
            failing: AtomicBool::new(false),
            rounds: AtomicU64::new(0),
            round_nanos: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            lost_to_panics: AtomicU64::new(0),
        }
    }
}

impl<T> Queue<T> {
    fn rows(&self) -> MutexGuard<'_, VecDeque<T>> {
        // A panic while holding the lock leaves a valid queue: keep using it.
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queue's state at one instant, and its writes since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// What the rows are ("audit events", "download ledger rows").
    pub what: &'static str,
    /// Rows queued now.
    pub depth: usize,
    /// Write rounds that found rows to write (each one or more batches).
    pub flushes: u64,
    /// The time those rounds took, in all, in nanoseconds.
    pub flush_nanos: u64,
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
    /// Only rows lost earlier to a write that panicked: what was queued at the end is
    /// written.
    earlier_loss: bool,
}

impl FlushError {
    /// Whether the only rows not written are ones a write that panicked lost earlier:
    /// everything queued at the end is written.
    pub fn is_only_an_earlier_loss(&self) -> bool {
        self.earlier_loss
    }
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
                if self.queue.closed.load(Ordering::Acquire) {
                    // After the shutdown's last flush took the queue (a request still
                    // finishing, a task of its own): written now, not lost.
                    drop(rows);
                    return self.writer.write_batch(std::slice::from_ref(row)).await;
                }
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
    /// [`FlushError`] when the database refused the batch (it stays queued), or when
    /// the writer stopped (the runtime is going down).
    pub async fn flush(&self) -> Result<(), FlushError> {
        let (ack, done) = oneshot::channel();
        // The writer ends on its own only once every handle is gone (a write that
        // panics ends only its own task): while this one lives, a closed channel means
        // the runtime is going down, with what was queued unwritten.
        let stopped = || Err("the writer stopped with the runtime".to_owned());
        let flushed = if self.flushes.send(ack).is_err() {
            stopped()
        } else {
            done.await.unwrap_or_else(|_| stopped())
        };
        flushed.map_err(|reason| FlushError {
            what: self.what,
            reason,
            earlier_loss: false,
        })
    }

    /// [`Self::flush`], given up at `deadline`: a write that hangs (a database whose
    /// connection went silent) must not hold a stopping server past its supervisor's
    /// patience, which would kill it without a word about the rows.
    async fn flush_by(&self, deadline: tokio::time::Instant) -> Result<(), FlushError> {
        tokio::time::timeout_at(deadline, self.flush())
            .await
            .unwrap_or_else(|_| {
                Err(FlushError {
                    what: self.what,
                    reason: format!(
                        "not written within the {} s a shutdown gives them",
                        SHUTDOWN_WRITE_LIMIT.as_secs()
                    ),
                    earlier_loss: false,
                })
            })
    }

    /// How many rows wait now, and how the writes went so far.
    pub fn stats(&self) -> QueueStats {
        QueueStats {
            what: self.what,
            depth: self.queue.rows().len(),
            flushes: self.queue.rounds.load(Ordering::Relaxed),
            flush_nanos: self.queue.round_nanos.load(Ordering::Relaxed),
        }
    }

    /// Writes everything queued; call it once the server has stopped taking requests.
    /// Rows pushed from then on are written directly, one write each. A refused batch
    /// stays queued and is tried again for a few seconds
    /// ([`SHUTDOWN_RETRY_DELAYS`]): a database blip at the moment of a shutdown (a
    /// failover, a restarting pooler) must not lose the rows. All of it ends within
    /// [`SHUTDOWN_WRITE_LIMIT`].
    ///
    /// # Errors
    /// [`FlushError`] when the last batch could still not be written, or not within
    /// the limit.
    pub async fn shutdown(&self) -> Result<(), FlushError> {
        {
            // Under the lock pushes queue under: each row is queued before this (and
            // written by the flush below) or written directly by its push.
            let _rows = self.queue.rows();
            self.queue.closed.store(true, Ordering::Release);
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_WRITE_LIMIT;
        let mut flushed = self.flush_by(deadline).await;
        for delay in SHUTDOWN_RETRY_DELAYS {
            let Err(err) = &flushed else {
                break;
            };
            // A writer that is gone never writes them; nor does one that would be
            // tried again past the limit.
            if self.flushes.is_closed() || tokio::time::Instant::now() + delay >= deadline {
                break;
            }
            tracing::warn!(error = %err, retry_in_ms = delay.as_millis(), "writing queued rows at shutdown failed");
            tokio::time::sleep(delay).await;
            flushed = self.flush_by(deadline).await;
        }
        let lost = self.queue.lost_to_panics.load(Ordering::Acquire);
        if flushed.is_ok() && lost > 0 {
            return Err(FlushError {
                what: self.what,
                reason: format!("{lost} rows were lost to a write that panicked"),
                earlier_loss: true,
            });
        }
        flushed
    }
}

/// The longest a shutdown spends writing one queue, its retries included. With the
/// audit trail's and the ledger's written side by side, a stopping server is done
/// writing this long after its drain: supervisors' stop timeouts allow for it
/// (`deploy/`: pre-stop pause 5 s, drain up to 30 s, writes up to 8 s, of 45 s).
pub const SHUTDOWN_WRITE_LIMIT: Duration = Duration::from_secs(8);

/// The waits between a shutdown's attempts to write what is queued: about 4 s in all,
/// well within the usual 30 s a supervisor grants a stopping process.
pub const SHUTDOWN_RETRY_DELAYS: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

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
    // The first tick a full delay from now: an interval's immediate first tick would
    // write whatever the first pushes had queued at a moment no policy chose.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + policy.max_delay,
        policy.max_delay,
    );
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        let flush = tokio::select! {
            () = queue.batch_full.notified(), if !failing => None,
            _ = tick.tick() => None,
            request = flush_requests.recv() => match request {
                Some(ack) => Some(ack),
                None => {
                    if let Err(err) = write_queued(&writer, &queue, policy, what).await {
                        tracing::error!(error = %err, lost = queue.rows().len(), what, "rows lost at shutdown");
                    }
                    return;
                }
            },
        };
        let started = Instant::now();
        let had_rows = !queue.rows().is_empty();
        let result = write_queued(&writer, &queue, policy, what).await;
        if had_rows {
            let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            queue.rounds.fetch_add(1, Ordering::Relaxed);
            queue.round_nanos.fetch_add(took, Ordering::Relaxed);
        }
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

/// The fewest rows a round is split for: below it, one transaction costs less than
/// two.
const LEAST_SPLIT_CHUNK: usize = 256;

/// Writes everything queued when called, in chunks of at most [`WRITE_CHUNK`] rows,
/// up to `concurrent_writes` of them at once (rows queued meanwhile wait for the next
/// round); on failure puts the chunks that failed back in front of what arrived
/// meanwhile (bounded by `max_pending`, dropping the oldest).
async fn write_queued<T: Send + Sync + 'static>(
    writer: &Arc<dyn BatchWriter<T>>,
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
    let writers = policy.concurrent_writes.max(1);
    let mut left = queue.rows().len();
    while left > 0 {
        let chunk_len = left.div_ceil(writers).clamp(LEAST_SPLIT_CHUNK, WRITE_CHUNK);
        let chunks: Vec<Vec<T>> = {
            let mut rows = queue.rows();
            let mut chunks = Vec::with_capacity(writers);
            while chunks.len() < writers && left > 0 && !rows.is_empty() {
                let take = left.min(chunk_len).min(rows.len());
                left -= take;
                chunks.push(rows.drain(..take).collect());
            }
            chunks
        };
        queue.drained.notify_waiters();
        if chunks.is_empty() {
            break;
        }
        let (failed, lost) = write_chunks(writer, chunks).await;
        if lost > 0 {
            let lost_rows = u64::try_from(lost).unwrap_or(u64::MAX);
            queue.lost_to_panics.fetch_add(lost_rows, Ordering::AcqRel);
            tracing::error!(lost, what, "a batch write panicked; its rows are lost");
        }
        if let Some((_, err)) = failed.first() {
            let err = err.to_string();
            let mut rows = queue.rows();
            for row in failed.into_iter().flat_map(|(chunk, _)| chunk).rev() {
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
            return Err(err);
        }
    }
    Ok(())
}

/// Writes each chunk in its own transaction, all at once, each on a task of its own (a
/// write that panics takes only its rows, not the writer); returns the chunks that
/// failed, with why, in their order, and how many rows went with writes that panicked.
async fn write_chunks<T: Send + Sync + 'static>(
    writer: &Arc<dyn BatchWriter<T>>,
    chunks: Vec<Vec<T>>,
) -> (Vec<(Vec<T>, RepoError)>, usize) {
    let mut writes = tokio::task::JoinSet::new();
    let mut sizes = std::collections::HashMap::new();
    for (index, chunk) in chunks.into_iter().enumerate() {
        let writer = writer.clone();
        let size = chunk.len();
        let task = writes.spawn(async move {
            let written = writer.write_batch(&chunk).await;
            (index, chunk, written)
        });
        sizes.insert(task.id(), size);
    }
    let (mut failed, mut lost) = (Vec::new(), 0);
    while let Some(joined) = writes.join_next().await {
        match joined {
            Ok((_, _, Ok(()))) => {}
            Ok((index, chunk, Err(err))) => failed.push((index, chunk, err)),
            // A write that panicked (or was cancelled as the runtime went down): its
            // rows are gone with its task; counted, to be reported.
            Err(join_error) => {
                tracing::error!(error = %join_error, panicked = join_error.is_panic(), "a write-behind batch write did not finish");
                lost += sizes.get(&join_error.id()).copied().unwrap_or(0);
            }
        }
    }
    failed.sort_by_key(|(index, _, _)| *index);
    let failed = failed
        .into_iter()
        .map(|(_, chunk, err)| (chunk, err))
        .collect();
    (failed, lost)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Records every row written and how many writes ran at once; fails the first
    /// write that holds `fail_once_on` (then never again).
    #[derive(Debug, Default)]
    struct Recorder {
        written: Mutex<Vec<u32>>,
        writes: AtomicUsize,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        fail_once_on: Mutex<Option<u32>>,
    }

    #[async_trait]
    impl BatchWriter<u32> for Recorder {
        async fn write_batch(&self, rows: &[u32]) -> Result<(), RepoError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let fail = {
                let mut fail_once_on = self
                    .fail_once_on
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let hit = fail_once_on.is_some_and(|row| rows.contains(&row));
                if hit {
                    *fail_once_on = None;
                }
                hit
            };
            if fail {
                return Err(RepoError::unavailable("the database went away"));
            }
            self.written
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(rows);
            Ok(())
        }
    }

    fn start(recorder: &Arc<Recorder>, concurrent_writes: usize) -> WriteBehind<u32> {
        start_with(recorder.clone(), concurrent_writes)
    }

    fn start_with(writer: Arc<dyn BatchWriter<u32>>, concurrent_writes: usize) -> WriteBehind<u32> {
        let policy = BatchPolicy {
            max_batch: usize::MAX,
            max_delay: Duration::from_secs(3_600),
            concurrent_writes,
            ..BatchPolicy::default()
        };
        WriteBehind::start(writer, policy, "test rows")
    }

    fn written(recorder: &Recorder) -> Vec<u32> {
        let mut rows = recorder
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        rows.sort_unstable();
        rows
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_split_a_round_and_write_every_row_once() {
        let recorder = Arc::new(Recorder::default());
        let queue = start(&recorder, 4);
        for row in 0..5_000 {
            queue.push(&row).await.unwrap();
        }
        queue.flush().await.unwrap();
        assert_eq!(written(&recorder), (0..5_000).collect::<Vec<_>>());
        assert_eq!(
            recorder.writes.load(Ordering::SeqCst),
            4,
            "1 250 rows a write"
        );
        assert_eq!(recorder.most_in_flight.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_round_is_one_write_and_one_writer_keeps_the_order() {
        let recorder = Arc::new(Recorder::default());
        let queue = start(&recorder, 4);
        for row in 0..100 {
            queue.push(&row).await.unwrap();
        }
        queue.flush().await.unwrap();
        assert_eq!(
            recorder.writes.load(Ordering::SeqCst),
            1,
            "below the split size"
        );

        let ordered = Arc::new(Recorder::default());
        let queue = start(&ordered, 1);
        for row in 0..10_000 {
            queue.push(&row).await.unwrap();
        }
        queue.flush().await.unwrap();
        let rows = ordered
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(
            rows,
            (0..10_000).collect::<Vec<_>>(),
            "in order, one at a time"
        );
        assert_eq!(ordered.most_in_flight.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_shutdown_tries_a_refused_batch_again() {
        let recorder = Arc::new(Recorder::default());
        *recorder
            .fail_once_on
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(7);
        let queue = start(&recorder, 1);
        for row in 0..10 {
            queue.push(&row).await.unwrap();
        }
        queue.shutdown().await.unwrap();
        assert_eq!(
            written(&recorder),
            (0..10).collect::<Vec<_>>(),
            "written by the second attempt"
        );
        assert_eq!(recorder.writes.load(Ordering::SeqCst), 2);
    }

    /// A database whose connection went silent: every write waits for ever.
    #[derive(Debug)]
    struct Silent;

    #[async_trait]
    impl BatchWriter<u32> for Silent {
        async fn write_batch(&self, _rows: &[u32]) -> Result<(), RepoError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_gives_up_on_a_silent_database_within_its_limit() {
        let queue = WriteBehind::start(Arc::new(Silent), BatchPolicy::default(), "test rows");
        queue.push(&1).await.unwrap();
        let started = tokio::time::Instant::now();
        let refused = tokio::time::timeout(SHUTDOWN_WRITE_LIMIT * 2, queue.shutdown())
            .await
            .expect("the shutdown ends");
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(started.elapsed(), SHUTDOWN_WRITE_LIMIT);
    }

    /// A write that panics, as a bug in an adapter would.
    #[derive(Debug)]
    struct Panicking;

    #[async_trait]
    impl BatchWriter<u32> for Panicking {
        async fn write_batch(&self, _rows: &[u32]) -> Result<(), RepoError> {
            panic!("a bug in the writer")
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_a_panicked_writer_held_are_reported_lost() {
        // One write at a time and several side by side: the panic ends the write's
        // task, and the writer goes on without its rows.
        for concurrent_writes in [1, 4] {
            let queue = start_with(Arc::new(Panicking), concurrent_writes);
            for row in 0..5_000 {
                queue.push(&row).await.unwrap();
            }
            let lost = queue.shutdown().await.unwrap_err();
            assert!(
                lost.is_only_an_earlier_loss(),
                "{concurrent_writes}: {lost}"
            );
            assert!(lost.to_string().contains("5000 rows were lost"), "{lost}");
        }
    }

    /// A write that panics the first time only.
    #[derive(Debug, Default)]
    struct PanicsOnce {
        panicked: AtomicBool,
        written: Mutex<Vec<u32>>,
    }

    #[async_trait]
    impl BatchWriter<u32> for PanicsOnce {
        async fn write_batch(&self, rows: &[u32]) -> Result<(), RepoError> {
            if !self.panicked.swap(true, Ordering::SeqCst) {
                panic!("a bug in the writer, once")
            }
            self.written
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(rows);
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_goes_on_after_a_write_panicked() {
        let writer = Arc::new(PanicsOnce::default());
        let queue = start_with(writer.clone(), 1);
        for row in 0..10 {
            queue.push(&row).await.unwrap();
        }
        queue.flush().await.unwrap();
        for row in 10..20 {
            queue.push(&row).await.unwrap();
        }
        queue.flush().await.unwrap();
        let written = writer
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(
            written,
            (10..20).collect::<Vec<_>>(),
            "in order, after the loss"
        );
        let lost = queue.shutdown().await.unwrap_err();
        assert!(lost.is_only_an_earlier_loss(), "{lost}");
        assert!(lost.to_string().contains("10 rows were lost"), "{lost}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_row_pushed_after_the_shutdown_is_written_directly() {
        let recorder = Arc::new(Recorder::default());
        let queue = start(&recorder, 1);
        queue.push(&1).await.unwrap();
        queue.shutdown().await.unwrap();
        assert_eq!(written(&recorder), [1]);
        // A request that ends after the last flush (its own task, say) records its row.
        queue.push(&2).await.unwrap();
        assert_eq!(written(&recorder), [1, 2], "no flush is coming for it");
        assert_eq!(queue.stats().depth, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_chunk_is_queued_again_and_the_others_stay_written() {
        let recorder = Arc::new(Recorder::default());
        *recorder
            .fail_once_on
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(4_000);
        let queue = start(&recorder, 4);
        for row in 0..5_000 {
            queue.push(&row).await.unwrap();
        }
        assert!(
            queue.flush().await.is_err(),
            "the flush reports the failed chunk"
        );
        let first = written(&recorder);
        assert_eq!(first.len(), 3_750, "three of four chunks were written");
        assert!(!first.contains(&4_000));
        queue.flush().await.unwrap();
        assert_eq!(
            written(&recorder),
            (0..5_000).collect::<Vec<_>>(),
            "every row once, the failed chunk on the next round"
        );
    }
}
