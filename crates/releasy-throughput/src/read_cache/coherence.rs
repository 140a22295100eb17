//! Knowing when a cached answer is stale: one generation counter per table.
//!
//! Every write bumps the counters of the tables it changed, after it committed. A
//! cached answer carries the sum of its tables' counters taken *before* it was read
//! from the database; it is served only while that sum is unchanged. Counters only
//! grow, so any write to any of its tables after the read started makes the answer
//! stale, and a write racing the read can never leave a stale answer looking fresh.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use crate::read_cache::stats::CacheStats;

/// The caches of other processes on the same database. A write that withdraws access
/// (a key revoked or changed, a customer suspended, an entitlement narrowed, a release
/// unpublished, yanked or deleted) is answered only after [`PeerCaches::catch_up`], so
/// that no other instance serves the old answer to a request sent after this one's.
#[async_trait]
pub trait PeerCaches: Send + Sync + std::fmt::Debug {
    /// Returns once every other process's cache has dropped what was committed before
    /// the call, or once the implementation's bound has passed (it reports that
    /// itself: the write has happened either way).
    async fn catch_up(&self);
}

/// A table whose rows the cache holds answers about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `customers`.
    Customers,
    /// `api_keys` (not its `last_used_at`, which no cached answer depends on).
    ApiKeys,
    /// `releases`.
    Releases,
    /// `artifacts`.
    Artifacts,
    /// `entitlements`.
    Entitlements,
    /// `download_tokens` (deletions only: a new token changes no cached answer).
    DownloadTokens,
}

impl Table {
    /// Every table, in counter order.
    pub const ALL: [Self; 6] = [
        Self::Customers,
        Self::ApiKeys,
        Self::Releases,
        Self::Artifacts,
        Self::Entitlements,
        Self::DownloadTokens,
    ];

    /// The table with this SQL name, if the cache knows it.
    pub fn from_sql_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.sql_name() == name)
    }

    /// Its name in the database schema.
    pub const fn sql_name(self) -> &'static str {
        match self {
            Self::Customers => "customers",
            Self::ApiKeys => "api_keys",
            Self::Releases => "releases",
            Self::Artifacts => "artifacts",
            Self::Entitlements => "entitlements",
            Self::DownloadTokens => "download_tokens",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The counters, and whether the cache may be used at all.
#[derive(Debug)]
pub(crate) struct Generations {
    counters: [AtomicU64; Table::ALL.len()],
    /// False while writes from elsewhere could go unnoticed (a change feed that is not
    /// listening); every read then goes to the database.
    coherent: AtomicBool,
    /// Each kind of answer's hits and misses (shared, like the counters, by every
    /// decorator of one cache).
    pub(crate) stats: CacheStats,
    /// Set once the change feed runs, on a shared database.
    peers: OnceLock<Arc<dyn PeerCaches>>,
}

impl Generations {
    pub(crate) fn new(coherent: bool) -> Self {
        Self {
            counters: Default::default(),
            coherent: AtomicBool::new(coherent),
            stats: CacheStats::default(),
            peers: OnceLock::new(),
        }
    }

    /// The stamp of an answer read from `tables` now, or `None` when nothing may be
    /// cached.
    pub(crate) fn stamp(&self, tables: &[Table]) -> Option<u64> {
        if !self.coherent.load(Ordering::Acquire) {
            return None;
        }
        Some(
            tables
                .iter()
                .map(|t| self.counters[t.index()].load(Ordering::Acquire))
                .sum(),
        )
    }

    /// Runs `write`, then bumps `tables` whatever its outcome: a write that reported a
    /// failure (a commit that timed out, say) may still have happened.
    pub(crate) async fn after_write<T>(
        &self,
        tables: &[Table],
        write: impl Future<Output = T>,
    ) -> T {
        let outcome = write.await;
        for &table in tables {
            self.bump(table);
        }
        outcome
    }

    /// [`Self::after_write`] for a write that withdraws access: it also waits until
    /// the other processes' caches have caught up, if there are any.
    pub(crate) async fn after_withdrawal<T>(
        &self,
        tables: &[Table],
        write: impl Future<Output = T>,
    ) -> T {
        let outcome = self.after_write(tables, write).await;
        if let Some(peers) = self.peers.get() {
            peers.catch_up().await;
        }
        outcome
    }

    /// Sets the caches [`Self::after_withdrawal`] waits for; only the first call counts.
    pub(crate) fn reach_peers_through(&self, peers: Arc<dyn PeerCaches>) {
        let _ = self.peers.set(peers);
    }

    pub(crate) fn bump(&self, table: Table) {
        self.counters[table.index()].fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn bump_all(&self) {
        for table in Table::ALL {
            self.bump(table);
        }
    }

    pub(crate) fn set_coherent(&self, coherent: bool) {
        self.coherent.store(coherent, Ordering::Release);
    }
}
