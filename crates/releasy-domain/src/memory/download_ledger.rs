//! The download ledger in memory: statistics are computed from the rows themselves,
//! which is what a store's summary must equal.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::delivery::{DownloadFilter, DownloadRecord, DownloadStat, StatsQuery, stats_of};
use crate::pagination::Cursor;
use crate::ports::{DownloadLedger, RepoError};
use crate::{DownloadRecordId, Timestamp};

/// An in-memory [`DownloadLedger`].
#[derive(Debug, Default)]
pub struct InMemoryDownloadLedger {
    records: Mutex<Vec<DownloadRecord>>,
}

/// Newest first by `(at, id)`, as every store orders the ledger.
fn newest_first(a: &DownloadRecord, b: &DownloadRecord) -> std::cmp::Ordering {
    (b.at, b.id.to_string()).cmp(&(a.at, a.id.to_string()))
}

/// Whether `record` comes after the position `cursor` names, newest first.
fn after_cursor(record: &DownloadRecord, cursor: &Cursor) -> bool {
    (record.at, record.id.to_string()) < (cursor.created_at, cursor.id.clone())
}

#[async_trait]
impl DownloadLedger for InMemoryDownloadLedger {
    async fn record_many(&self, records: &[DownloadRecord]) -> Result<(), RepoError> {
        let mut stored = lock(&self.records);
        // Stored (or given) once: a queue writes a batch again after an unacknowledged
        // commit.
        let mut known: HashSet<DownloadRecordId> = stored.iter().map(|r| r.id).collect();
        stored.extend(records.iter().filter(|r| known.insert(r.id)).cloned());
        Ok(())
    }

    async fn list(
        &self,
        filter: &DownloadFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<DownloadRecord>, RepoError> {
        let mut rows: Vec<DownloadRecord> = lock(&self.records)
            .iter()
            .filter(|record| filter.matches(record))
            .filter(|record| after.is_none_or(|cursor| after_cursor(record, cursor)))
            .cloned()
            .collect();
        rows.sort_by(newest_first);
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn stats(&self, query: &StatsQuery) -> Result<Vec<DownloadStat>, RepoError> {
        Ok(stats_of(query, lock(&self.records).iter()))
    }

    async fn prune_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        let mut records = lock(&self.records);
        let mut old: Vec<usize> = (0..records.len())
            .filter(|&i| records[i].at < cutoff)
            .collect();
        old.sort_by_key(|&i| records[i].at);
        old.truncate(limit as usize);
        old.sort_unstable();
        for &i in old.iter().rev() {
            records.remove(i);
        }
        Ok(old.len() as u64)
    }
}
