//! Hits and misses of each kind of cached answer, for the metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// One kind of answer's hits and misses; each kind counts on its own, so the two
/// worker threads rarely touch the same counter.
#[derive(Debug, Default)]
pub(crate) struct HitCounts {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl HitCounts {
    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// A read that went to the database (not cached, stale, or the cache not in use).
    pub(crate) fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
}

/// One kind of answer's counts since the process started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKindStats {
    /// The kind of answer: `api_key_candidates`, `release_pages`, ...
    pub kind: &'static str,
    /// Answers served from memory.
    pub hits: u64,
    /// Answers read from the database.
    pub misses: u64,
}

/// Every kind's counts, registered as the decorators are made.
#[derive(Debug, Default)]
pub(crate) struct CacheStats {
    kinds: Mutex<Vec<(&'static str, Arc<HitCounts>)>>,
}

impl CacheStats {
    /// The counts of `kind` (one set per kind, however many decorators ask).
    pub(crate) fn counts(&self, kind: &'static str) -> Arc<HitCounts> {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, counts)) = kinds.iter().find(|(k, _)| *k == kind) {
            return counts.clone();
        }
        let counts = Arc::new(HitCounts::default());
        kinds.push((kind, counts.clone()));
        counts
    }

    pub(crate) fn snapshot(&self) -> Vec<CacheKindStats> {
        self.kinds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(kind, counts)| CacheKindStats {
                kind,
                hits: counts.hits.load(Ordering::Relaxed),
                misses: counts.misses.load(Ordering::Relaxed),
            })
            .collect()
    }
}
