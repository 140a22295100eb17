//! The verified-key cache: which stored Argon2id hashes were recently matched, and by
//! which key (as a keyed tag), so a repeat request skips the slow hash.

use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of the presented key (and pepper) under the hasher's process key.
pub(crate) type Tag = [u8; 32];

/// One remembered verification.
#[derive(Clone)]
struct Entry {
    tag: Tag,
    inserted: Instant,
}

/// A bounded map from stored PHC string to the tag of the key that matched it.
///
/// Only successful verifications are ever inserted. Entries expire after `ttl`; when the
/// map is full, the entries least likely to be asked for again make room (quick_cache's
/// S3-FIFO: a key seen once goes before a key in daily use), so more keys in use than
/// it holds cost one Argon2 run each for the keys it dropped, never a wrong answer, and
/// never every key at once (it was once cleared whole when full).
pub(crate) struct VerifiedCache {
    ttl: Duration,
    capacity: usize,
    entries: Option<Cache<String, Entry>>,
}

impl VerifiedCache {
    /// How long a verification is remembered unless configured otherwise.
    pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);
    /// How many verifications are remembered unless configured otherwise.
    pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

    /// An empty cache. A zero `ttl` or `capacity` disables it.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        let enabled = capacity > 0 && !ttl.is_zero();
        Self {
            ttl,
            capacity,
            entries: enabled.then(|| Cache::new(capacity)),
        }
    }

    /// Whether `phc` was verified within the TTL by the key whose tag is `tag`
    /// (compared in constant time). An expired entry is removed.
    pub(crate) fn is_verified(&self, phc: &str, tag: &Tag, now: Instant) -> bool {
        let Some(entries) = &self.entries else {
            return false;
        };
        match entries.get(phc) {
            None => false,
            Some(entry) if now.saturating_duration_since(entry.inserted) >= self.ttl => {
                // Unless another verification replaced it meanwhile.
                entries.remove_if(phc, |current| current.inserted == entry.inserted);
                false
            }
            Some(entry) => bool::from(entry.tag.ct_eq(tag)),
        }
    }

    /// Remembers that the key tagged `tag` matched `phc` at `now`.
    pub(crate) fn remember(&self, phc: &str, tag: Tag, now: Instant) {
        if let Some(entries) = &self.entries {
            entries.insert(phc.to_owned(), Entry { tag, inserted: now });
        }
    }

    /// How many verifications are remembered (expired ones included until dropped).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("entries", &self.entries.as_ref().map_or(0, Cache::len))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Tag = [1; 32];
    const B: Tag = [2; 32];

    #[test]
    fn remembers_only_the_matching_tag() {
        let cache = VerifiedCache::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        assert!(!cache.is_verified("$phc1", &A, now));
        cache.remember("$phc1", A, now);
        assert!(cache.is_verified("$phc1", &A, now));
        assert!(!cache.is_verified("$phc1", &B, now));
        assert!(!cache.is_verified("$phc2", &A, now));
    }

    #[test]
    fn expired_entries_are_not_used_and_are_dropped() {
        let cache = VerifiedCache::new(Duration::from_secs(60), 10);
        let then = Instant::now();
        cache.remember("$phc1", A, then);
        assert!(cache.is_verified("$phc1", &A, then + Duration::from_secs(59)));
        assert!(!cache.is_verified("$phc1", &A, then + Duration::from_secs(60)));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn zero_ttl_or_capacity_disables_the_cache() {
        let now = Instant::now();
        for cache in [
            VerifiedCache::new(Duration::ZERO, 10),
            VerifiedCache::new(Duration::from_secs(60), 0),
        ] {
            cache.remember("$phc1", A, now);
            assert!(!cache.is_verified("$phc1", &A, now));
            assert_eq!(cache.len(), 0);
        }
    }

    /// More keys in use than the cache holds cost a verification for the keys it
    /// drops, not for every key: it once cleared itself whole when full, so past its
    /// size nearly every request ran Argon2.
    #[test]
    fn a_full_cache_makes_room_without_forgetting_everything() {
        let cache = VerifiedCache::new(Duration::from_secs(60), 1_000);
        let now = Instant::now();
        let phcs: Vec<String> = (0..1_000).map(|i| format!("$argon2id$key{i}")).collect();
        for phc in &phcs {
            cache.remember(phc, A, now);
        }
        for phc in &phcs {
            // Asked for again: keys in use.
            cache.is_verified(phc, &A, now);
        }
        for i in 0..100 {
            cache.remember(&format!("$argon2id$new{i}"), A, now);
        }
        // quick_cache splits the capacity over its shards, each rounded up: a little
        // more than asked on machines with more cores.
        assert!(cache.len() <= 1_024, "{}", cache.len());
        let kept = phcs
            .iter()
            .filter(|phc| cache.is_verified(phc, &A, now))
            .count();
        assert!(
            kept >= 800,
            "only {kept} of the keys in use are still remembered"
        );
        // Re-remembering an existing entry replaces its tag.
        cache.remember(&phcs[0], B, now);
        assert!(cache.is_verified(&phcs[0], &B, now));
        assert!(!cache.is_verified(&phcs[0], &A, now));
    }

    #[test]
    fn debug_shows_no_hashes_or_tags() {
        let cache = VerifiedCache::new(Duration::from_secs(60), 3);
        cache.remember("$argon2id$secret-phc", A, Instant::now());
        let shown = format!("{cache:?}");
        assert!(!shown.contains("secret-phc"));
        assert!(shown.contains("entries: 1"));
    }
}
