//! Write-behind for the audit trail: request handlers enqueue events and return, and one
//! background task writes them in batches (one transaction per batch), so a customer-key
//! request costs no audit write of its own.
//!
//! Nothing is lost on a graceful shutdown ([`BatchedAudit::shutdown`] writes what is
//! queued), and reads see every event recorded before them: [`AuditRepository::list`]
//! flushes the queue first. A crash can lose at most the events of the last
//! `max_delay`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use releasy_domain::audit::{AuditEvent, AuditFilter};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{AuditRepository, RepoError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How the queue is drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Write once this many events are queued.
    pub max_batch: usize,
    /// Write queued events at most this long after the first of them arrived.
    pub max_delay: Duration,
    /// Events held while the database refuses writes; beyond this the oldest are
    /// dropped (and logged), so an outage cannot exhaust memory.
    pub max_pending: usize,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self {
            max_batch: 256,
            max_delay: Duration::from_millis(50),
            max_pending: 100_000,
        }
    }
}

enum Message {
    Event(AuditEvent),
    Flush(oneshot::Sender<Result<(), String>>),
}

/// An [`AuditRepository`] that batches writes to another one.
#[derive(Debug, Clone)]
pub struct BatchedAudit {
    inner: Arc<dyn AuditRepository>,
    queue: mpsc::Sender<Message>,
}

/// The batcher could not write what was queued.
#[derive(Debug, thiserror::Error)]
#[error("audit events could not be written: {0}")]
pub struct FlushError(String);

impl BatchedAudit {
    /// Starts the background writer on the current tokio runtime.
    pub fn start(inner: Arc<dyn AuditRepository>, policy: BatchPolicy) -> Self {
        let (queue, receiver) = mpsc::channel(policy.max_batch.saturating_mul(16).max(1));
        tokio::spawn(write_behind(inner.clone(), receiver, policy));
        Self { inner, queue }
    }

    /// Writes everything queued so far.
    ///
    /// # Errors
    /// [`FlushError`] when the database refused the batch (it stays queued).
    pub async fn flush(&self) -> Result<(), FlushError> {
        let (ack, done) = oneshot::channel();
        if self.queue.send(Message::Flush(ack)).await.is_err() {
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
impl AuditRepository for BatchedAudit {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepoError> {
        match self.queue.send(Message::Event(event.clone())).await {
            Ok(()) => Ok(()),
            // The writer is gone (the runtime is shutting down): write directly.
            Err(_) => self.inner.record(event).await,
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
}

async fn write_behind(
    inner: Arc<dyn AuditRepository>,
    mut receiver: mpsc::Receiver<Message>,
    policy: BatchPolicy,
) {
    let mut pending: Vec<AuditEvent> = Vec::new();
    // When the queued events are due: `max_delay` after the first, or, after a failed
    // write, `max_delay` after the failure (so an outage is retried, not hammered).
    let mut due: Option<Instant> = None;
    let mut failing = false;
    loop {
        let message = match due {
            Some(at) => tokio::select! {
                message = receiver.recv() => message,
                () = tokio::time::sleep_until(at) => {
                    failing = write(&inner, &mut pending, policy).await.is_err();
                    due = failing.then(|| Instant::now() + policy.max_delay);
                    continue;
                }
            },
            None => receiver.recv().await,
        };
        match message {
            Some(Message::Event(event)) => {
                pending.push(event);
                if pending.len() >= policy.max_batch && !failing {
                    failing = write(&inner, &mut pending, policy).await.is_err();
                    due = failing.then(|| Instant::now() + policy.max_delay);
                } else if due.is_none() {
                    due = Some(Instant::now() + policy.max_delay);
                }
            }
            Some(Message::Flush(ack)) => {
                let result = write(&inner, &mut pending, policy).await;
                failing = result.is_err();
                due = failing.then(|| Instant::now() + policy.max_delay);
                let _ = ack.send(result);
            }
            None => {
                if let Err(err) = write(&inner, &mut pending, policy).await {
                    tracing::error!(error = %err, lost = pending.len(), "audit events lost at shutdown");
                }
                return;
            }
        }
    }
}

/// Writes `pending` as one batch; on failure keeps it (bounded by `max_pending`).
async fn write(
    inner: &Arc<dyn AuditRepository>,
    pending: &mut Vec<AuditEvent>,
    policy: BatchPolicy,
) -> Result<(), String> {
    if pending.is_empty() {
        return Ok(());
    }
    match inner.record_many(pending).await {
        Ok(()) => {
            pending.clear();
            Ok(())
        }
        Err(err) => {
            if pending.len() > policy.max_pending {
                let dropped = pending.len() - policy.max_pending;
                pending.drain(..dropped);
                tracing::error!(
                    dropped,
                    "audit queue full while the database refuses writes; oldest events dropped"
                );
            }
            tracing::warn!(error = %err, queued = pending.len(), "audit batch not written; will retry");
            Err(err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use releasy_domain::Timestamp;
    use releasy_domain::audit::AuthReason;
    use releasy_domain::memory::InMemoryAudit;

    use super::*;

    fn event(at: i64) -> AuditEvent {
        AuditEvent::api_key_auth(AuthReason::Ok, None, None, Timestamp::from_unix_seconds(at))
    }

    async fn count(repo: &dyn AuditRepository) -> usize {
        repo.list(&AuditFilter::default(), PageRequest::default())
            .await
            .unwrap()
            .len()
    }

    #[tokio::test]
    async fn reads_see_every_event_recorded_before_them() {
        let inner = Arc::new(InMemoryAudit::default());
        let batched = BatchedAudit::start(
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
        let batched = BatchedAudit::start(
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
        let batched = BatchedAudit::start(
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

    #[tokio::test]
    async fn shutdown_writes_what_is_queued() {
        let inner = Arc::new(InMemoryAudit::default());
        let batched = BatchedAudit::start(
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
