//! The download ledger switched off (`RELEASY_DOWNLOAD_LOG=false`): nothing is kept,
//! so listings, exports and statistics are empty.

use async_trait::async_trait;
use releasy_domain::Timestamp;
use releasy_domain::delivery::{DownloadFilter, DownloadRecord, DownloadStat, StatsQuery};
use releasy_domain::pagination::Cursor;
use releasy_domain::ports::{DownloadLedger, RepoError};

/// A [`DownloadLedger`] that keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLedger;

#[async_trait]
impl DownloadLedger for NoLedger {
    async fn record(&self, _: &DownloadRecord) -> Result<(), RepoError> {
        Ok(())
    }

    async fn record_many(&self, _: &[DownloadRecord]) -> Result<(), RepoError> {
        Ok(())
    }

    async fn list(
        &self,
        _: &DownloadFilter,
        _: Option<&Cursor>,
        _: u32,
    ) -> Result<Vec<DownloadRecord>, RepoError> {
        Ok(Vec::new())
    }

    async fn stats(&self, _: &StatsQuery) -> Result<Vec<DownloadStat>, RepoError> {
        Ok(Vec::new())
    }

    async fn prune_before(&self, _: Timestamp, _: u32) -> Result<u64, RepoError> {
        Ok(0)
    }
}
