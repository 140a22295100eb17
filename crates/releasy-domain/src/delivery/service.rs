//! Reading the ledger: pages for operators and customers, batches for an export,
//! statistics, and pruning what retention lets go.

use std::sync::Arc;

use crate::CustomerId;
use crate::batches::in_batches;
use crate::delivery::{
    DownloadFilter, DownloadRecord, DownloadStat, LedgerRetention, StatsQuery, sort_stats,
};
use crate::pagination::{Cursor, CursorPage, PageLimit};
use crate::ports::{Clock, DownloadLedger, RepoError};

/// Rows an export reads at a time: big enough that a million rows take few queries,
/// small enough that a batch in flight is about a megabyte. On SQLite each batch is
/// read on whichever blocking thread is free, and each such thread's allocator keeps
/// what its batch used: an export of 600 000 rows grew the server by 39 MiB with
/// batches of 2 000, 14 to 18 MiB with 1 000 (at 120 000 rows a second) and 3 to
/// 10 MiB with 500 (at 88 000).
pub const EXPORT_BATCH: u32 = 1_000;

/// Rows pruned in one statement: each delete is short, so writers never wait long.
const PRUNE_BATCH: u32 = 1_000;

/// The ledger's use cases.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::Timestamp;
/// use releasy_domain::delivery::{DeliveryService, DownloadFilter};
/// use releasy_domain::memory::{FixedClock, InMemoryDownloadLedger};
/// use releasy_domain::pagination::PageLimit;
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_796_342_400)));
/// let delivery = DeliveryService::new(Arc::new(InMemoryDownloadLedger::default()), clock);
/// let page = delivery.page(&DownloadFilter::default(), PageLimit::DEFAULT, None).await.unwrap();
/// assert!(page.items.is_empty() && page.next_cursor.is_none());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DeliveryService {
    ledger: Arc<dyn DownloadLedger>,
    clock: Arc<dyn Clock>,
}

impl DeliveryService {
    /// A service over `ledger`.
    pub fn new(ledger: Arc<dyn DownloadLedger>, clock: Arc<dyn Clock>) -> Self {
        Self { ledger, clock }
    }

    /// One page of the rows matching `filter`, newest first, after `after`.
    ///
    /// # Errors
    /// [`RepoError`].
    pub async fn page(
        &self,
        filter: &DownloadFilter,
        limit: PageLimit,
        after: Option<&Cursor>,
    ) -> Result<CursorPage<DownloadRecord>, RepoError> {
        // One row more than asked tells whether another page follows.
        let mut items = self.ledger.list(filter, after, limit.get() + 1).await?;
        let next_cursor = if items.len() > limit.get() as usize {
            items.truncate(limit.get() as usize);
            items.last().map(cursor_of)
        } else {
            None
        };
        Ok(CursorPage { items, next_cursor })
    }

    /// A customer's own rows: [`Self::page`] with the customer fixed.
    ///
    /// # Errors
    /// [`RepoError`].
    pub async fn customer_history(
        &self,
        customer_id: CustomerId,
        limit: PageLimit,
        after: Option<&Cursor>,
    ) -> Result<CursorPage<DownloadRecord>, RepoError> {
        let filter = DownloadFilter {
            customer_id: Some(customer_id),
            ..DownloadFilter::default()
        };
        self.page(&filter, limit, after).await
    }

    /// The next [`EXPORT_BATCH`] rows of an export after `after`, and where the one
    /// after them starts (`None` once the export is complete).
    ///
    /// # Errors
    /// [`RepoError`].
    pub async fn export_batch(
        &self,
        filter: &DownloadFilter,
        after: Option<&Cursor>,
    ) -> Result<(Vec<DownloadRecord>, Option<Cursor>), RepoError> {
        let rows = self.ledger.list(filter, after, EXPORT_BATCH).await?;
        let next = (rows.len() == EXPORT_BATCH as usize)
            .then(|| rows.last().map(cursor_of))
            .flatten();
        Ok((rows, next))
    }

    /// Successful downloads, distinct customers and bytes per group, from the summary,
    /// in the order of [`sort_stats`].
    ///
    /// # Errors
    /// [`RepoError`].
    pub async fn stats(&self, query: &StatsQuery) -> Result<Vec<DownloadStat>, RepoError> {
        let mut stats = self.ledger.stats(query).await?;
        sort_stats(query.group_by, &mut stats);
        Ok(stats)
    }

    /// Removes the rows `retention` lets go, a thousand at a time, up to `most`
    /// in one call; returns how many.
    ///
    /// # Errors
    /// [`RepoError`]; the batches removed before it stay removed.
    pub async fn prune(&self, retention: LedgerRetention, most: u64) -> Result<u64, RepoError> {
        let Some(cutoff) = retention.cutoff(self.clock.now()) else {
            return Ok(0);
        };
        let batches = most.div_ceil(u64::from(PRUNE_BATCH));
        in_batches(PRUNE_BATCH, batches, |batch| {
            self.ledger.prune_before(cutoff, batch)
        })
        .await
    }
}

/// The position just after `record` in the ledger's order.
fn cursor_of(record: &DownloadRecord) -> Cursor {
    Cursor {
        created_at: record.at,
        id: record.id.to_string(),
    }
}
