//! The verified-key cache: which stored Argon2id hashes were recently matched, and by
//! which key (as a keyed tag), so a repeat request skips the slow hash.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

/// HMAC-SHA256 of the presented key (and pepper) under the hasher's process key.
pub(crate) type Tag = [u8; 32];

/// One remembered verification.
struct Entry {
    tag: Tag,
    inserted: Instant,
}

/// A bounded map from stored PHC string to the tag of the key that matched it.
///
/// Only successful verifications are ever inserted. Entries expire after `ttl`; when the
/// map is full, expired entries are dropped and, if it is still full, it is cleared
/// entirely (the cost of a clear is one Argon2 run per key, never a wrong answer).
pub(crate) struct VerifiedCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

impl VerifiedCache {
    /// How long a verification is remembered unless configured otherwise.
    pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);
    /// How many verifications are remembered unless configured otherwise.
    pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

    /// An empty cache. A zero `ttl` or `capacity` disables it.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The map. A panic while it was locked cannot leave it inconsistent (every
    /// operation on it is a single map call), so a poisoned lock is simply taken over.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_fresh(ttl: Duration, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.inserted) < ttl
    }

    /// Whether `phc` was verified within the TTL by the key whose tag is `tag`
    /// (compared in constant time). An expired entry is removed.
    pub(crate) fn is_verified(&self, phc: &str, tag: &Tag, now: Instant) -> bool {
        let mut entries = self.lock();
        match entries.get(phc) {
            None => false,
            Some(entry) if !Self::is_fresh(self.ttl, entry, now) => {
                entries.remove(phc);
                false
            }
            Some(entry) => bool::from(entry.tag.ct_eq(tag)),
        }
    }

    /// Remembers that the key tagged `tag` matched `phc` at `now`.
    pub(crate) fn remember(&self, phc: &str, tag: Tag, now: Instant) {
        if self.capacity == 0 || self.ttl.is_zero() {
            return;
        }
        let ttl = self.ttl;
        let mut entries = self.lock();
        if !entries.contains_key(phc) && entries.len() >= self.capacity {
            entries.retain(|_, entry| Self::is_fresh(ttl, entry, now));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(phc.to_owned(), Entry { tag, inserted: now });
    }

    /// How many verifications are remembered (expired ones included until dropped).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("entries", &self.lock().len())
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

    #[test]
    fn a_full_cache_drops_expired_entries_first() {
        let cache = VerifiedCache::new(Duration::from_secs(60), 3);
        let then = Instant::now();
        cache.remember("$old", A, then);
        cache.remember("$fresh1", A, then + Duration::from_secs(30));
        cache.remember("$fresh2", A, then + Duration::from_secs(30));
        let now = then + Duration::from_secs(61);
        cache.remember("$new", A, now);
        assert_eq!(cache.len(), 3);
        assert!(cache.is_verified("$fresh1", &A, now));
        assert!(cache.is_verified("$fresh2", &A, now));
        assert!(cache.is_verified("$new", &A, now));
    }

    #[test]
    fn a_full_cache_of_fresh_entries_is_cleared() {
        let cache = VerifiedCache::new(Duration::from_secs(60), 3);
        let now = Instant::now();
        for phc in ["$a", "$b", "$c"] {
            cache.remember(phc, A, now);
        }
        // Re-remembering an existing entry never evicts anything.
        cache.remember("$a", B, now);
        assert_eq!(cache.len(), 3);
        assert!(cache.is_verified("$a", &B, now));

        cache.remember("$d", A, now);
        assert_eq!(cache.len(), 1);
        assert!(cache.is_verified("$d", &A, now));
        assert!(!cache.is_verified("$b", &A, now));
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
