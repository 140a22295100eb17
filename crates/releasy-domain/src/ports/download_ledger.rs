//! The download ledger port: every token issued and every resolve, with a daily
//! summary of successful downloads that statistics read instead of the rows.

use async_trait::async_trait;

use crate::Timestamp;
use crate::delivery::{DownloadFilter, DownloadRecord, DownloadStat, StatsQuery};
use crate::pagination::Cursor;
use crate::ports::RepoError;

/// Where ledger rows are kept.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::delivery::{DownloadFilter, StatsGroup, StatsQuery};
/// use releasy_domain::memory::InMemoryDownloadLedger;
/// use releasy_domain::ports::DownloadLedger;
///
/// let ledger = InMemoryDownloadLedger::default();
/// assert!(ledger.list(&DownloadFilter::default(), None, 10).await.unwrap().is_empty());
/// let query = StatsQuery { group_by: StatsGroup::Product, product: None, customer_id: None, from: None, to: None };
/// assert!(ledger.stats(&query).await.unwrap().is_empty());
/// # }
/// ```
#[async_trait]
pub trait DownloadLedger: Send + Sync + std::fmt::Debug {
    /// Records one row.
    async fn record(&self, record: &DownloadRecord) -> Result<(), RepoError> {
        self.record_many(std::slice::from_ref(record)).await
    }

    /// Records rows all at once: the rows and the summary's counts of the `redirected`
    /// ones change together, or neither does. Rows already stored (by id) are left
    /// as they are, the rest stored and counted once each: a write-behind queue
    /// writes a batch again when its commit went unacknowledged, and must not be
    /// refused for ever.
    async fn record_many(&self, records: &[DownloadRecord]) -> Result<(), RepoError>;

    /// At most `limit` rows matching `filter`, newest first by `(at, id)`, starting
    /// after `after`.
    async fn list(
        &self,
        filter: &DownloadFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<DownloadRecord>, RepoError>;

    /// The statistics of `query`, from the daily summary, in any order (the service
    /// sorts them).
    async fn stats(&self, query: &StatsQuery) -> Result<Vec<DownloadStat>, RepoError>;

    /// Removes at most `limit` of the oldest rows from before `cutoff` (a day
    /// boundary), and the summary's days before it once no row of them is left;
    /// returns how many rows it found to remove (with several instances pruning at
    /// once, some may have gone by another's hand: a full batch means more may be
    /// left).
    async fn prune_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError>;
}
