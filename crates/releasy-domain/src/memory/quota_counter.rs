//! Quota counts in memory, behind one lock: each charge is atomic as the contract asks.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::entitlement::{DownloadQuota, QuotaPeriod, QuotaUsage, QuotaWindow};
use crate::ports::{QuotaCounter, RepoError};
use crate::{EntitlementId, Timestamp};

/// One count: an entitlement's period, by its kind and first second.
type CountKey = (EntitlementId, QuotaPeriod, Timestamp);

/// An in-memory [`QuotaCounter`].
#[derive(Debug, Default)]
pub struct InMemoryQuotaCounter {
    counts: Mutex<HashMap<CountKey, (QuotaUsage, Timestamp)>>,
}

fn key(entitlement: EntitlementId, window: &QuotaWindow) -> CountKey {
    (entitlement, window.period, window.starts_at)
}

#[async_trait]
impl QuotaCounter for InMemoryQuotaCounter {
    async fn usage(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
    ) -> Result<QuotaUsage, RepoError> {
        Ok(lock(&self.counts)
            .get(&key(entitlement, window))
            .map(|(usage, _)| *usage)
            .unwrap_or_default())
    }

    async fn try_charge(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
        quota: &DownloadQuota,
        bytes: u64,
    ) -> Result<bool, RepoError> {
        let mut counts = lock(&self.counts);
        let (usage, _) = counts
            .entry(key(entitlement, window))
            .or_insert((QuotaUsage::default(), window.resets_at));
        if !quota.admits(*usage, bytes) {
            return Ok(false);
        }
        usage.downloads += 1;
        usage.bytes = usage.bytes.saturating_add(bytes);
        Ok(true)
    }

    async fn refund(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
        bytes: u64,
    ) -> Result<(), RepoError> {
        if let Some((usage, _)) = lock(&self.counts).get_mut(&key(entitlement, window)) {
            usage.downloads = usage.downloads.saturating_sub(1);
            usage.bytes = usage.bytes.saturating_sub(bytes);
        }
        Ok(())
    }

    async fn prune_ended(&self, reset_by: Timestamp, limit: u32) -> Result<u64, RepoError> {
        let mut counts = lock(&self.counts);
        let ended: Vec<CountKey> = counts
            .iter()
            .filter(|(_, (_, resets_at))| *resets_at <= reset_by)
            .map(|(key, _)| *key)
            .take(limit as usize)
            .collect();
        for key in &ended {
            counts.remove(key);
        }
        Ok(ended.len() as u64)
    }
}
