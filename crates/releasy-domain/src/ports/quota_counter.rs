//! The quota counter port: per entitlement and period, how many downloads and bytes
//! were handed out, counted exactly whatever the number of instances.

use async_trait::async_trait;

use crate::entitlement::{DownloadQuota, QuotaUsage, QuotaWindow};
use crate::ports::RepoError;
use crate::{EntitlementId, Timestamp};

/// Where quota counts are kept. One count per entitlement and [`QuotaWindow`]: a new
/// period starts from zero without anything being reset.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::entitlement::{DownloadQuota, QuotaPeriod};
/// use releasy_domain::memory::InMemoryQuotaCounter;
/// use releasy_domain::ports::QuotaCounter;
/// use releasy_domain::{EntitlementId, Timestamp};
///
/// let counter = InMemoryQuotaCounter::default();
/// let entitlement = EntitlementId::generate();
/// let quota = DownloadQuota::new(Some(2), None, QuotaPeriod::Day).unwrap();
/// let today = QuotaPeriod::Day.window_at(Timestamp::from_unix_seconds(1_796_434_200));
/// assert!(counter.try_charge(entitlement, &today, &quota, 10).await.unwrap());
/// assert!(counter.try_charge(entitlement, &today, &quota, 10).await.unwrap());
/// assert!(!counter.try_charge(entitlement, &today, &quota, 10).await.unwrap(), "spent");
/// assert_eq!(counter.usage(entitlement, &today).await.unwrap().bytes, 20);
/// # }
/// ```
#[async_trait]
pub trait QuotaCounter: Send + Sync + std::fmt::Debug {
    /// What `window` of the entitlement's quota has counted (zero when nothing yet).
    async fn usage(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
    ) -> Result<QuotaUsage, RepoError>;

    /// Counts one download of `bytes` in `window` when `quota` still admits it
    /// ([`DownloadQuota::admits`]), as one atomic step: concurrent charges on any
    /// number of instances never count past the limits. Returns whether it counted.
    async fn try_charge(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
        quota: &DownloadQuota,
        bytes: u64,
    ) -> Result<bool, RepoError>;

    /// Takes back one download of `bytes` counted in `window` by [`Self::try_charge`]
    /// (a resolve that failed after it was counted, handing out no link).
    async fn refund(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
        bytes: u64,
    ) -> Result<(), RepoError>;

    /// Removes counts of periods that reset at or before `reset_by`, a batch at a time:
    /// at most `limit` entitlements' worth (an adapter may count the batch by rows
    /// instead: each entitlement holds a few), and at least one when any is left;
    /// returns how many went. A caller repeats while a batch removes `limit` or more.
    async fn prune_ended(&self, reset_by: Timestamp, limit: u32) -> Result<u64, RepoError>;
}
