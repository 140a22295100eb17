//! Download tokens issued and resolves by outcome: a decorator of the
//! [`DownloadLedger`] port, which sees every one of them (the ledger's `NoLedger`
//! included, when `RELEASY_DOWNLOAD_LOG=false`).

use std::sync::Arc;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use releasy_domain::Timestamp;
use releasy_domain::delivery::{
    DownloadFilter, DownloadOutcome, DownloadRecord, DownloadStat, StatsQuery,
};
use releasy_domain::pagination::Cursor;
use releasy_domain::ports::{DownloadLedger, RepoError};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The counters every counted ledger adds to.
#[derive(Debug, Clone)]
pub(crate) struct DownloadCounts {
    issued: Counter,
    resolved: Family<OutcomeLabels, Counter>,
}

impl DownloadCounts {
    pub(crate) fn registered(registry: &mut Registry) -> Self {
        let counts = Self {
            issued: Counter::default(),
            resolved: Family::default(),
        };
        registry.register(
            "download_tokens_issued",
            "Download tokens issued",
            counts.issued.clone(),
        );
        registry.register(
            "downloads_resolved",
            "Download links resolved, by outcome: redirected (a download), or why it was refused",
            counts.resolved.clone(),
        );
        counts
    }

    fn count(&self, record: &DownloadRecord) {
        match record.outcome {
            DownloadOutcome::Issued => {
                self.issued.inc();
            }
            outcome => {
                self.resolved
                    .get_or_create(&OutcomeLabels {
                        outcome: outcome.as_str(),
                    })
                    .inc();
            }
        }
    }
}

/// A [`DownloadLedger`] that counts what it is given to record, then records it.
#[derive(Debug)]
pub struct CountedLedger {
    inner: Arc<dyn DownloadLedger>,
    counts: DownloadCounts,
}

impl CountedLedger {
    pub(crate) fn new(inner: Arc<dyn DownloadLedger>, counts: DownloadCounts) -> Self {
        Self { inner, counts }
    }
}

#[async_trait]
impl DownloadLedger for CountedLedger {
    // Counted once recorded: a record refused (the resolve then answers 5xx and hands
    // out no link) is no download.
    async fn record(&self, record: &DownloadRecord) -> Result<(), RepoError> {
        self.inner.record(record).await?;
        self.counts.count(record);
        Ok(())
    }

    async fn record_many(&self, records: &[DownloadRecord]) -> Result<(), RepoError> {
        self.inner.record_many(records).await?;
        for record in records {
            self.counts.count(record);
        }
        Ok(())
    }

    async fn list(
        &self,
        filter: &DownloadFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<DownloadRecord>, RepoError> {
        self.inner.list(filter, after, limit).await
    }

    async fn stats(&self, query: &StatsQuery) -> Result<Vec<DownloadStat>, RepoError> {
        self.inner.stats(query).await
    }

    async fn prune_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        self.inner.prune_before(cutoff, limit).await
    }
}
