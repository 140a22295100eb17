//! The production wrapping of one store's repositories: which decorator goes where.

use std::sync::Arc;

use releasy_domain::ports::{DownloadLedger, Repositories};

use crate::audit_write_behind::AuditWriteBehind;
use crate::ledger_write_behind::LedgerWriteBehind;
use crate::no_ledger::NoLedger;
use crate::read_cache::{Invalidator, ReadCache};
use crate::token_group_commit::TokenGroupCommit;
use crate::write_behind::BatchPolicy;

/// Who else writes to the database behind the repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writers {
    /// This process (the embedded SQLite file): every write passes through the read
    /// cache, which is coherent from the start. A command writing beside it reports
    /// its writes through [`ProductionStack::invalidator`].
    ThisProcessOnly,
    /// Other instances or people too (a shared PostgreSQL database): the read cache
    /// serves nothing from memory until a change feed reports through
    /// [`ProductionStack::invalidator`] that it is listening.
    Shared,
}

/// How the layer is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputSettings {
    /// Who else writes to the database.
    pub writers: Writers,
    /// Rows the read cache holds per kind of answer; 0 turns the cache off.
    pub cache_rows: u64,
    /// How audit events are written behind (one batch at a time: the writer builds
    /// the audit chain in order).
    pub audit: BatchPolicy,
    /// How download ledger rows are written behind (their order does not matter, so
    /// several batches may commit at once).
    pub ledger: BatchPolicy,
    /// Whether downloads are recorded in the ledger; when not, [`NoLedger`] keeps
    /// nothing and nothing is queued.
    pub record_downloads: bool,
    /// Token batches that may commit at once: 1 where the database admits one writer
    /// at a time (SQLite); more where commits wait on log flushes they can share
    /// (PostgreSQL).
    pub concurrent_token_batches: usize,
}

impl ThroughputSettings {
    /// The defaults: a cache of 10 000 rows per kind of answer, audit batches every
    /// 50 ms, one token batch at a time.
    pub fn new(writers: Writers) -> Self {
        Self {
            writers,
            cache_rows: 10_000,
            audit: BatchPolicy::default(),
            ledger: BatchPolicy::default(),
            record_downloads: true,
            concurrent_token_batches: 1,
        }
    }
}

/// Repositories wrapped for production, and the handles that keep the layer honest.
#[derive(Debug, Clone)]
pub struct ProductionStack {
    /// The wrapped repositories: hand these to the domain.
    pub repositories: Repositories,
    /// The audit queue: [`AuditWriteBehind::shutdown`] it once requests have stopped.
    pub audit: AuditWriteBehind,
    /// The download ledger's queue (`None` when the ledger is off):
    /// [`LedgerWriteBehind::shutdown`] it once requests have stopped.
    pub ledger: Option<LedgerWriteBehind>,
    /// Where other writers' changes are reported (a change feed, or the external-writes
    /// counter on SQLite); `Some` whenever the cache is on.
    pub invalidator: Option<Invalidator>,
    /// The read cache, for its hit and miss counts; `None` when it is off.
    pub cache: Option<ReadCache>,
}

/// Wraps `store`'s repositories for production. Must be called inside a tokio runtime
/// (the audit and token writers are tasks).
///
/// From the domain inwards:
/// * customers, API keys, releases, artifacts and entitlements: read cache -> store;
/// * download tokens: read cache -> group commit -> store;
/// * audit and the download ledger: write-behind -> store (the ledger: nothing at all
///   when `record_downloads` is off);
/// * idempotency and health: the store itself (every call must reach the database).
pub fn wrap_for_production(store: Repositories, settings: ThroughputSettings) -> ProductionStack {
    let audit = AuditWriteBehind::start(store.audit.clone(), settings.audit);
    let ledger = settings
        .record_downloads
        .then(|| LedgerWriteBehind::start(store.download_ledger.clone(), settings.ledger));
    let download_ledger: Arc<dyn DownloadLedger> = match &ledger {
        Some(queue) => Arc::new(queue.clone()),
        None => Arc::new(NoLedger),
    };
    let tokens = TokenGroupCommit::with_concurrent_batches(
        store.download_tokens.clone(),
        settings.concurrent_token_batches,
    );
    let written_behind = Repositories {
        audit: Arc::new(audit.clone()),
        download_ledger,
        download_tokens: Arc::new(tokens),
        ..store
    };
    if settings.cache_rows == 0 {
        tracing::info!("read cache off");
        return ProductionStack {
            repositories: written_behind,
            audit,
            ledger,
            invalidator: None,
            cache: None,
        };
    }
    let cache = match settings.writers {
        Writers::ThisProcessOnly => ReadCache::new(settings.cache_rows),
        Writers::Shared => ReadCache::awaiting_change_feed(settings.cache_rows),
    };
    ProductionStack {
        repositories: cache.wrap(written_behind),
        audit,
        ledger,
        invalidator: Some(cache.invalidator()),
        cache: Some(cache),
    }
}
