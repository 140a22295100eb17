//! Group commit for download tokens: concurrent [`DownloadTokenRepository::insert`]s are
//! written together, in one multi-row statement (one commit, one disk sync) instead of
//! a transaction each. SQLite serialises writers and PostgreSQL pays a commit per
//! transaction, so at high concurrency one commit per token is the bottleneck.
//!
//! Unlike the audit write-behind, nothing is acknowledged early: `insert` returns only
//! once its token is committed, with that token's own result. And nothing waits on a
//! timer: one writer task takes a request, adds whatever other requests are already
//! queued (without waiting for more), and writes them at once. At low load a token is
//! written as soon as it arrives; under load, the requests that queued while the
//! previous batch was being written go together.

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::audit::AuditEvent;
use releasy_domain::download::{DownloadGrant, DownloadToken, MaxUses};
use releasy_domain::ports::{DownloadTokenRepository, RepoError};
use releasy_domain::{DownloadTokenId, Timestamp};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// The most tokens written in one batch.
const MAX_BATCH: usize = 256;

/// A token to write with its audit event, and where its caller waits for the result.
type Request = (
    (DownloadToken, AuditEvent),
    oneshot::Sender<Result<(), RepoError>>,
);

/// The batch a token was in could not reach the database; every caller of that batch
/// gets this, sharing the one cause.
#[derive(Debug, thiserror::Error)]
#[error("the batch of download tokens could not be written")]
struct BatchUnavailable(#[source] Arc<RepoError>);

/// A [`DownloadTokenRepository`] that group-commits concurrent inserts to another one.
#[derive(Debug, Clone)]
pub struct TokenGroupCommit {
    inner: Arc<dyn DownloadTokenRepository>,
    queue: mpsc::Sender<Request>,
}

impl TokenGroupCommit {
    /// Starts the writer task on the current tokio runtime, writing one batch at a time
    /// (right for SQLite, which lets one writer in at a time anyway).
    pub fn start(inner: Arc<dyn DownloadTokenRepository>) -> Self {
        Self::with_concurrent_batches(inner, 1)
    }

    /// Like [`TokenGroupCommit::start`], with up to `concurrent_batches` batches being
    /// written at once. On PostgreSQL a commit waits for its WAL flush; with one batch
    /// at a time every caller would wait for the previous batch's flush and then its
    /// own, while the database can flush several transactions together.
    pub fn with_concurrent_batches(
        inner: Arc<dyn DownloadTokenRepository>,
        concurrent_batches: usize,
    ) -> Self {
        // Bounded so a stalled database pushes back on callers instead of queueing
        // without limit; every queued caller is waiting anyway.
        let (queue, receiver) = mpsc::channel(MAX_BATCH * 16);
        tokio::spawn(group_commit(
            inner.clone(),
            receiver,
            concurrent_batches.max(1),
        ));
        Self { inner, queue }
    }
}

#[async_trait]
impl DownloadTokenRepository for TokenGroupCommit {
    async fn insert(&self, token: &DownloadToken, event: &AuditEvent) -> Result<(), RepoError> {
        let (reply, result) = oneshot::channel();
        let issued = (token.clone(), event.clone());
        if self.queue.send((issued, reply)).await.is_err() {
            // The writer is gone (the runtime is shutting down): write directly.
            return self.inner.insert(token, event).await;
        }
        match result.await {
            Ok(result) => result,
            // The writer stopped before answering (its task was cancelled or panicked),
            // so the token may or may not be stored: writing it again either stores it
            // or reports the duplicate, which the caller sees as a conflict rather than
            // a false success.
            Err(_) => self.inner.insert(token, event).await,
        }
    }

    async fn insert_many(&self, issued: &[(DownloadToken, AuditEvent)]) -> Result<(), RepoError> {
        self.inner.insert_many(issued).await
    }

    async fn purge_expired_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        self.inner.purge_expired_before(cutoff, limit).await
    }

    async fn find_grant(&self, token_hash: &str) -> Result<Option<DownloadGrant>, RepoError> {
        self.inner.find_grant(token_hash).await
    }

    async fn consume_use(&self, id: DownloadTokenId, max_uses: MaxUses) -> Result<bool, RepoError> {
        self.inner.consume_use(id, max_uses).await
    }

    async fn return_use(&self, id: DownloadTokenId) -> Result<(), RepoError> {
        self.inner.return_use(id).await
    }
}

/// The writer task: runs until every [`TokenGroupCommit`] is dropped, then lets the
/// batches in flight finish.
async fn group_commit(
    inner: Arc<dyn DownloadTokenRepository>,
    mut receiver: mpsc::Receiver<Request>,
    concurrent_batches: usize,
) {
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.len() >= concurrent_batches {
            in_flight.join_next().await;
        }
        let Some(first) = receiver.recv().await else {
            break;
        };
        let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let inner = inner.clone();
        in_flight.spawn(async move { write(inner.as_ref(), &mut batch).await });
    }
    while in_flight.join_next().await.is_some() {}
}

/// Writes `batch` and answers each waiter; empties `batch`.
async fn write(inner: &dyn DownloadTokenRepository, batch: &mut Vec<Request>) {
    let tokens: Vec<(DownloadToken, AuditEvent)> =
        batch.iter().map(|(issued, _)| issued.clone()).collect();
    // A lone token goes the same way as a batch, so that every token is written on
    // the store's batch connection (see `SqliteStore`'s `batch_writer`).
    let result = inner.insert_many(&tokens).await;
    match result {
        Ok(()) => {
            for (_, reply) in batch.drain(..) {
                // A caller that stopped waiting still has its token stored.
                let _ = reply.send(Ok(()));
            }
        }
        Err(err) if batch.len() == 1 => {
            if let Some((_, reply)) = batch.pop() {
                let _ = reply.send(Err(err));
            }
        }
        Err(RepoError::Unavailable(cause)) => {
            // The database is out of reach, not refusing one token: writing each alone
            // would only make every caller wait out its own timeout in turn.
            let cause = Arc::new(RepoError::Unavailable(cause));
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(RepoError::unavailable(BatchUnavailable(cause.clone()))));
            }
        }
        Err(err) => {
            // The batch stored nothing; one token may have spoiled it (a duplicate, an
            // artifact deleted meanwhile, a value the database rejects), so each is
            // written alone and its caller gets its own result.
            tracing::debug!(error = %err, size = batch.len(), "token batch failed; writing each alone");
            for ((token, event), reply) in batch.drain(..) {
                let _ = reply.send(inner.insert(&token, &event).await);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use releasy_domain::{ArtifactId, CustomerId, DownloadTokenId, Timestamp};

    use super::*;
    use releasy_testkit::contract::change_event;

    /// Counts calls, and fails tokens whose purpose is "bad".
    #[derive(Debug, Default)]
    struct Recording {
        inserts: AtomicUsize,
        batches: AtomicUsize,
        stored: std::sync::Mutex<Vec<DownloadToken>>,
    }

    fn bad(token: &DownloadToken) -> bool {
        token.purpose.as_deref() == Some("bad")
    }

    #[async_trait]
    impl DownloadTokenRepository for Recording {
        async fn insert(&self, token: &DownloadToken, _: &AuditEvent) -> Result<(), RepoError> {
            self.inserts.fetch_add(1, Ordering::SeqCst);
            // A write takes time, during which concurrent callers queue.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if bad(token) {
                return Err(RepoError::MissingReference);
            }
            self.stored.lock().unwrap().push(token.clone());
            Ok(())
        }

        async fn insert_many(
            &self,
            issued: &[(DownloadToken, AuditEvent)],
        ) -> Result<(), RepoError> {
            self.batches.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if issued.iter().any(|(token, _)| bad(token)) {
                return Err(RepoError::MissingReference);
            }
            let mut stored = self.stored.lock().unwrap();
            stored.extend(issued.iter().map(|(token, _)| token.clone()));
            Ok(())
        }

        async fn find_grant(&self, _: &str) -> Result<Option<DownloadGrant>, RepoError> {
            Ok(None)
        }

        async fn purge_expired_before(&self, _: Timestamp, _: u32) -> Result<u64, RepoError> {
            Ok(0)
        }

        async fn consume_use(&self, _: DownloadTokenId, _: MaxUses) -> Result<bool, RepoError> {
            Ok(false)
        }

        async fn return_use(&self, _: DownloadTokenId) -> Result<(), RepoError> {
            Ok(())
        }
    }

    fn token(purpose: &str) -> DownloadToken {
        DownloadToken {
            api_key_id: None,
            max_uses: None,
            allowed_networks: None,
            id: DownloadTokenId::generate(),
            token_hash: uuid::Uuid::new_v4().simple().to_string(),
            artifact_id: ArtifactId::generate(),
            customer_id: CustomerId::generate(),
            purpose: Some(purpose.to_owned()),
            created_at: Timestamp::from_unix_seconds(1),
            expires_at: Timestamp::from_unix_seconds(2),
        }
    }

    async fn insert_concurrently(
        repo: &TokenGroupCommit,
        tokens: &[DownloadToken],
    ) -> Vec<Result<(), RepoError>> {
        let tasks: Vec<_> = tokens
            .iter()
            .cloned()
            .map(|token| {
                let repo = repo.clone();
                tokio::spawn(async move { repo.insert(&token, &change_event()).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }

    #[tokio::test]
    async fn a_lone_insert_is_written_at_once_as_a_batch_of_one() {
        let inner = Arc::new(Recording::default());
        let grouped = TokenGroupCommit::start(inner.clone());
        grouped.insert(&token("ok"), &change_event()).await.unwrap();
        assert_eq!(
            inner.stored.lock().unwrap().len(),
            1,
            "stored before insert returns"
        );
        assert_eq!(inner.batches.load(Ordering::SeqCst), 1);
        assert_eq!(inner.inserts.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_lone_insert_that_fails_gets_its_own_error_without_a_retry() {
        let inner = Arc::new(Recording::default());
        let grouped = TokenGroupCommit::start(inner.clone());
        assert!(matches!(
            grouped.insert(&token("bad"), &change_event()).await,
            Err(RepoError::MissingReference)
        ));
        assert_eq!(inner.batches.load(Ordering::SeqCst), 1);
        assert_eq!(inner.inserts.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_inserts_share_batches() {
        let inner = Arc::new(Recording::default());
        let grouped = TokenGroupCommit::start(inner.clone());
        let tokens: Vec<_> = (0..200).map(|_| token("ok")).collect();
        for result in insert_concurrently(&grouped, &tokens).await {
            result.unwrap();
        }
        assert_eq!(inner.stored.lock().unwrap().len(), 200);
        let writes = inner.batches.load(Ordering::SeqCst) + inner.inserts.load(Ordering::SeqCst);
        assert!(writes < 200, "{writes} writes for 200 tokens");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_gives_each_caller_its_own_result() {
        let inner = Arc::new(Recording::default());
        let grouped = TokenGroupCommit::start(inner.clone());
        let mut tokens: Vec<_> = (0..50).map(|_| token("ok")).collect();
        tokens[25] = token("bad");
        let results = insert_concurrently(&grouped, &tokens).await;
        for (i, result) in results.iter().enumerate() {
            match (i, result) {
                (25, Err(RepoError::MissingReference)) => {}
                (25, other) => panic!("the bad token got {other:?}"),
                (_, result) => assert!(result.is_ok(), "token {i}: {result:?}"),
            }
        }
        assert_eq!(inner.stored.lock().unwrap().len(), 49);
    }

    /// Unreachable for batches, even of one; single inserts work.
    #[derive(Debug, Default)]
    struct Outage {
        inserts: AtomicUsize,
    }

    #[async_trait]
    impl DownloadTokenRepository for Outage {
        async fn insert(&self, _: &DownloadToken, _: &AuditEvent) -> Result<(), RepoError> {
            self.inserts.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            Ok(())
        }

        async fn insert_many(&self, _: &[(DownloadToken, AuditEvent)]) -> Result<(), RepoError> {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            Err(RepoError::unavailable("pool timed out"))
        }

        async fn find_grant(&self, _: &str) -> Result<Option<DownloadGrant>, RepoError> {
            Ok(None)
        }

        async fn purge_expired_before(&self, _: Timestamp, _: u32) -> Result<u64, RepoError> {
            Ok(0)
        }

        async fn consume_use(&self, _: DownloadTokenId, _: MaxUses) -> Result<bool, RepoError> {
            Ok(false)
        }

        async fn return_use(&self, _: DownloadTokenId) -> Result<(), RepoError> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_database_is_not_retried_token_by_token() {
        let inner = Arc::new(Outage::default());
        let grouped = TokenGroupCommit::start(inner.clone());
        let tokens: Vec<_> = (0..50).map(|_| token("ok")).collect();
        let results = insert_concurrently(&grouped, &tokens).await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(RepoError::Unavailable(_)))),
            "{results:?}"
        );
        assert_eq!(
            inner.inserts.load(Ordering::SeqCst),
            0,
            "no token was retried alone"
        );
    }

    #[tokio::test]
    async fn without_its_writer_it_writes_directly() {
        let inner = Arc::new(Recording::default());
        let (queue, receiver) = mpsc::channel(1);
        drop(receiver);
        let grouped = TokenGroupCommit {
            inner: inner.clone(),
            queue,
        };
        grouped.insert(&token("ok"), &change_event()).await.unwrap();
        assert!(matches!(
            grouped.insert(&token("bad"), &change_event()).await,
            Err(RepoError::MissingReference)
        ));
        assert_eq!(inner.stored.lock().unwrap().len(), 1);
    }
}
