//! One bounded map of cached answers, each stamped with the generations it was read at.

use std::hash::Hash;
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{OptionsBuilder, Weighter};
use releasy_domain::ports::RepoError;

use crate::read_cache::coherence::{Generations, Table};
use crate::read_cache::stats::HitCounts;

/// Shards of a map of listing pages. quick_cache refuses an answer heavier than its
/// shard's share of the bound, and by default makes four shards a core: on a 16-core
/// host a page heavier than 152 rows (of the default 10 000) was never kept. Four
/// shards keep pages of up to about a quarter of the bound. Maps of single rows keep
/// the default: more shards, less contention on the hottest lookups.
const PAGE_SHARDS: usize = 4;

/// An answer and the stamp of the generations it was read at.
#[derive(Debug, Clone)]
struct Stamped<V> {
    value: V,
    stamp: u64,
    rows: u64,
}

/// Weighs an entry by the rows it holds, so the bound is on rows, not entries.
#[derive(Debug, Clone, Copy)]
struct ByRows;

impl<K, V> Weighter<K, Stamped<V>> for ByRows {
    fn weight(&self, _key: &K, entry: &Stamped<V>) -> u64 {
        entry.rows
    }
}

/// How many rows an answer holds (at least one, so that empty answers count too).
pub(crate) trait Rows {
    fn rows(&self) -> u64;
}

/// What one row of an answer weighs against the bound: one, and for a release one more
/// per KiB of its notes and metadata (up to 64 and 16 KiB), so that the bound holds the
/// cache's memory to about a KiB a row whatever the releases carry.
pub(crate) trait RowWeight {
    fn row_weight(&self) -> u64 {
        1
    }
}

/// Bytes of text a row may carry before it weighs more than one row.
const BYTES_PER_ROW: u64 = 1024;

impl RowWeight for releasy_domain::release::Release {
    fn row_weight(&self) -> u64 {
        let text = self.notes.as_ref().map_or(0, |n| n.as_str().len())
            + self.metadata.as_ref().map_or(0, |m| m.as_json().len());
        1 + text as u64 / BYTES_PER_ROW
    }
}

impl<A, B: RowWeight> RowWeight for (A, B) {
    fn row_weight(&self) -> u64 {
        self.1.row_weight()
    }
}

impl RowWeight for releasy_domain::artifact::Artifact {}
impl RowWeight for releasy_domain::customer::Customer {}
impl RowWeight for releasy_domain::download::DownloadGrant {}
impl RowWeight for releasy_domain::api_key::AuthCandidate {}

impl<T: RowWeight> Rows for Vec<T> {
    fn rows(&self) -> u64 {
        self.iter().map(RowWeight::row_weight).sum::<u64>() + 1
    }
}

impl<T: RowWeight> Rows for releasy_domain::pagination::CursorPage<T> {
    fn rows(&self) -> u64 {
        self.items.iter().map(RowWeight::row_weight).sum::<u64>() + 1
    }
}

impl<T: RowWeight> Rows for Option<T> {
    fn rows(&self) -> u64 {
        self.as_ref().map_or(1, RowWeight::row_weight)
    }
}

/// Answers to one kind of read, which depends on `tables`.
pub(crate) struct Entries<K, V> {
    map: Cache<K, Stamped<V>, ByRows>,
    tables: &'static [Table],
    generations: Arc<Generations>,
    counts: Arc<HitCounts>,
}

impl<K, V> std::fmt::Debug for Entries<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entries")
            .field("tables", &self.tables)
            .field("entries", &self.map.len())
            .field("rows", &self.map.weight())
            .finish()
    }
}

impl<K, V> Entries<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone + Rows,
{
    /// Answers of `kind` (the metrics' name for them) read from `tables`, each one row
    /// (quick_cache's default shards: answers up to 1% of `max_rows` on a 16-core host).
    pub(crate) fn new(
        generations: Arc<Generations>,
        kind: &'static str,
        tables: &'static [Table],
        max_rows: u64,
    ) -> Self {
        Self::with_shards(generations, kind, tables, max_rows, None)
    }

    /// As [`Self::new`], for answers of many rows (listing pages, a customer's
    /// entitlements): [`PAGE_SHARDS`] shards, so that one may weigh up to about a
    /// quarter of `max_rows`.
    pub(crate) fn pages(
        generations: Arc<Generations>,
        kind: &'static str,
        tables: &'static [Table],
        max_rows: u64,
    ) -> Self {
        Self::with_shards(generations, kind, tables, max_rows, Some(PAGE_SHARDS))
    }

    fn with_shards(
        generations: Arc<Generations>,
        kind: &'static str,
        tables: &'static [Table],
        max_rows: u64,
        shards: Option<usize>,
    ) -> Self {
        // quick_cache wants an estimate of the entry count; answers average a few rows.
        let estimated_entries = usize::try_from(max_rows / 4).unwrap_or(usize::MAX).max(16);
        let capacity = max_rows.max(1);
        let mut options = OptionsBuilder::new();
        options
            .estimated_items_capacity(estimated_entries)
            .weight_capacity(capacity);
        if let Some(shards) = shards {
            options.shards(shards);
        }
        let map = match options.build() {
            Ok(options) => {
                Cache::with_options(options, ByRows, Default::default(), Default::default())
            }
            // Not reached: both options it requires are set above.
            Err(_) => Cache::with_weighter(estimated_entries, capacity, ByRows),
        };
        Self {
            map,
            tables,
            counts: generations.stats.counts(kind),
            generations,
        }
    }

    /// The cached answer for `key` if it is still current, else `load`'s answer, which
    /// is kept when `keep` says so and no write touched its tables meanwhile.
    pub(crate) async fn get_or_load<F>(
        &self,
        key: &K,
        keep: impl FnOnce(&V) -> bool,
        load: F,
    ) -> Result<V, RepoError>
    where
        F: Future<Output = Result<V, RepoError>>,
    {
        // Taken before the read: a write committing during the read changes the stamp.
        let Some(stamp) = self.generations.stamp(self.tables) else {
            self.counts.miss();
            return load.await;
        };
        if let Some(hit) = self.map.get(key)
            && hit.stamp == stamp
        {
            self.counts.hit();
            return Ok(hit.value);
        }
        self.counts.miss();
        let value = load.await?;
        if keep(&value) && self.generations.stamp(self.tables) == Some(stamp) {
            let rows = value.rows();
            self.map.insert(
                key.clone(),
                Stamped {
                    value: value.clone(),
                    stamp,
                    rows,
                },
            );
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use releasy_domain::release::{Product, Release, ReleaseNotes, Version};

    use super::*;

    fn release(notes_bytes: usize) -> Release {
        let mut release = Release::draft(
            Product::parse("app").unwrap(),
            Version::parse("1.0.0").unwrap(),
            None,
            releasy_domain::Timestamp::from_unix_seconds(0),
        );
        release.notes = Some(ReleaseNotes::parse(&"n".repeat(notes_bytes)).unwrap());
        release
    }

    #[test]
    fn a_release_weighs_a_row_more_per_kib_of_its_text() {
        assert_eq!(release(0).row_weight(), 1);
        assert_eq!(release(1023).row_weight(), 1);
        assert_eq!(release(ReleaseNotes::MAX_BYTES).row_weight(), 65);
        // An answer weighs its rows, and one more (so that an empty answer counts).
        assert_eq!(vec![release(0), release(4096)].rows(), 1 + 1 + 5);
        assert_eq!(Some(release(2048)).rows(), 3);
        assert_eq!(None::<Release>.rows(), 1);
    }
}
