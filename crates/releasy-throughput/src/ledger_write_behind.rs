//! Write-behind for the download ledger (see [`crate::write_behind`]): a resolve queues
//! its row and returns; listings and statistics flush the queue first, so they see
//! every row recorded before them.

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::Timestamp;
use releasy_domain::delivery::{DownloadFilter, DownloadRecord, DownloadStat, StatsQuery};
use releasy_domain::pagination::Cursor;
use releasy_domain::ports::{DownloadLedger, RepoError};

use crate::write_behind::{BatchPolicy, BatchWriter, FlushError, QueueStats, WriteBehind};

/// The ledger as a batch writer.
#[derive(Debug)]
struct LedgerBatches(Arc<dyn DownloadLedger>);

#[async_trait]
impl BatchWriter<DownloadRecord> for LedgerBatches {
    async fn write_batch(&self, rows: &[DownloadRecord]) -> Result<(), RepoError> {
        self.0.record_many(rows).await
    }
}

/// A [`DownloadLedger`] that batches writes to another one.
#[derive(Debug, Clone)]
pub struct LedgerWriteBehind {
    inner: Arc<dyn DownloadLedger>,
    queue: WriteBehind<DownloadRecord>,
}

impl LedgerWriteBehind {
    /// Starts the background writer on the current tokio runtime.
    pub fn start(inner: Arc<dyn DownloadLedger>, policy: BatchPolicy) -> Self {
        let queue = WriteBehind::start(
            Arc::new(LedgerBatches(inner.clone())),
            policy,
            "download ledger rows",
        );
        Self { inner, queue }
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
    /// rows ([`FlushError::is_only_an_earlier_loss`]).
    pub async fn shutdown(&self) -> Result<(), FlushError> {
        self.queue.shutdown().await
    }

    async fn flush_before(&self, reading: &str) {
        if let Err(err) = self.queue.flush().await {
            tracing::warn!(error = %err, reading, "reading the download ledger while rows are still queued");
        }
    }
}

#[async_trait]
impl DownloadLedger for LedgerWriteBehind {
    async fn record(&self, record: &DownloadRecord) -> Result<(), RepoError> {
        self.queue.push(record).await
    }

    async fn record_many(&self, records: &[DownloadRecord]) -> Result<(), RepoError> {
        for record in records {
            self.queue.push(record).await?;
        }
        Ok(())
    }

    async fn list(
        &self,
        filter: &DownloadFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<DownloadRecord>, RepoError> {
        // Only the first page of a walk waits for the queue; later ones continue from
        // a position already read.
        if after.is_none() {
            self.flush_before("list").await;
        }
        self.inner.list(filter, after, limit).await
    }

    async fn stats(&self, query: &StatsQuery) -> Result<Vec<DownloadStat>, RepoError> {
        self.flush_before("stats").await;
        self.inner.stats(query).await
    }

    async fn prune_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        self.flush_before("prune").await;
        self.inner.prune_before(cutoff, limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use releasy_domain::delivery::DownloadOutcome;
    use releasy_domain::delivery::{StatsGroup, StatsQuery};
    use releasy_domain::memory::{InMemoryDownloadLedger, sample_download_record};

    use super::*;

    #[tokio::test]
    async fn listings_and_statistics_see_every_row_recorded_before_them() {
        let inner = Arc::new(InMemoryDownloadLedger::default());
        let ledger = LedgerWriteBehind::start(
            inner.clone(),
            BatchPolicy {
                max_delay: Duration::from_secs(3600),
                ..BatchPolicy::default()
            },
        );
        let record = sample_download_record(DownloadOutcome::Redirected);
        ledger.record(&record).await.unwrap();
        let query = StatsQuery {
            group_by: StatsGroup::Customer,
            product: None,
            customer_id: None,
            from: None,
            to: None,
        };
        assert_eq!(
            ledger.stats(&query).await.unwrap().len(),
            1,
            "stats flush first"
        );
        let rows = ledger
            .list(&DownloadFilter::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(rows, vec![record]);
    }
}
