//! Keys carried over from the reference server: stored as Argon2id PHC strings with a
//! random salt and no lookup value, so no index can find one. A key that matches no
//! indexed row is tried against each of them, the most recently used first, and the
//! first match gets its lookup value, so it is found by index from then on. Each try is
//! an Argon2id verification, so the tries are bounded: at most
//! [`VERIFICATIONS_PER_MINUTE`] a minute in one process, at most
//! [`VERIFICATIONS_PER_SEARCH`] for one key (so that one unknown key leaves room for
//! the rest of the minute), at most [`VERIFICATIONS_PER_ADDRESS`] a minute for the
//! searches of one client address together, however many run side by side (so that
//! one client retrying a key that is no key cannot spend the budget every minute), and
//! none at all once a search finds no such key left.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Timestamp;
use crate::rate_limit::failure_bucket;

/// How many Argon2id verifications searches for carried-over keys may spend a minute,
/// in one process: a bound on the work unknown keys can cause (at the reference's
/// parameters, about a fifth of one core while someone sends unknown keys without
/// pause). While unknown keys spend it, a carried-over key's first use is refused
/// (audited `not_found`) until the next minute's budget.
pub const VERIFICATIONS_PER_MINUTE: usize = 500;

/// How many verifications one search may spend: the most recently used keys under the
/// current pepper, and (during a rotation) the previous one, each a verification. Half
/// the minute's budget, so one unknown key a minute leaves every key this reaches
/// findable that minute from other addresses.
pub const VERIFICATIONS_PER_SEARCH: usize = VERIFICATIONS_PER_MINUTE / 2;

/// How many verifications the searches of one client address (an IPv6 address by its
/// /48, as failures are counted) may spend a minute, together, checked on every try:
/// half the budget. The other half is kept for the first uses of carried-over keys from
/// other addresses, so one client retrying a key that is no key (a deleted key left in
/// a CI job, or parallel jobs behind one NAT) cannot spend the whole budget every
/// minute. The address's own searches share its half: a typo then the right key both
/// fit unless the typo's search went 250 keys deep, and parallel first uses of one key
/// from one address fit while their tries together do.
pub const VERIFICATIONS_PER_ADDRESS: usize = VERIFICATIONS_PER_MINUTE / 2;

/// Verifications spent in the current minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchBudget {
    minute: i64,
    spent: usize,
}

impl SearchBudget {
    /// Nothing spent.
    pub const fn new() -> Self {
        Self {
            minute: i64::MIN,
            spent: 0,
        }
    }

    /// Spends `verifications` at `now` when they fit in its minute's budget; `false`,
    /// spending nothing, when they do not.
    ///
    /// ```
    /// use releasy_domain::Timestamp;
    /// use releasy_domain::api_key::{SearchBudget, VERIFICATIONS_PER_MINUTE};
    ///
    /// let mut budget = SearchBudget::new();
    /// let at = Timestamp::from_unix_seconds(600);
    /// assert!(budget.try_spend(at, VERIFICATIONS_PER_MINUTE - 1));
    /// assert!(!budget.try_spend(at, 2), "past this minute's budget");
    /// assert!(budget.try_spend(at, 1));
    /// assert!(!budget.has_room(at));
    /// assert!(budget.try_spend(at.plus_seconds(60), 2), "a new minute");
    /// ```
    pub fn try_spend(&mut self, now: Timestamp, verifications: usize) -> bool {
        self.roll(now);
        match self.spent.checked_add(verifications) {
            Some(spent) if spent <= VERIFICATIONS_PER_MINUTE => {
                self.spent = spent;
                true
            }
            _ => false,
        }
    }

    /// Whether at least one verification is left at `now`.
    pub fn has_room(&mut self, now: Timestamp) -> bool {
        self.roll(now);
        self.spent < VERIFICATIONS_PER_MINUTE
    }

    /// Starts the budget afresh when `now` is in a later minute. Only forward: a try
    /// that read the time just before a minute ended and takes its turn after the next
    /// minute began counts against the newer minute, not wipe it.
    fn roll(&mut self, now: Timestamp) {
        let minute = now.unix_seconds().div_euclid(60);
        if minute > self.minute {
            *self = Self { minute, spent: 0 };
        }
    }
}

impl Default for SearchBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// What each client address (by its failure bucket) has spent in the current minute.
/// An entry is made only by a verification the minute's budget allowed, so there are
/// at most [`VERIFICATIONS_PER_MINUTE`] of them; the map starts afresh each minute.
#[derive(Debug)]
struct SpentByAddress {
    minute: i64,
    spent: HashMap<IpAddr, usize>,
}

impl Default for SpentByAddress {
    fn default() -> Self {
        Self {
            minute: i64::MIN,
            spent: HashMap::new(),
        }
    }
}

impl SpentByAddress {
    fn has_room(&mut self, now: Timestamp, client: IpAddr) -> bool {
        self.roll(now);
        self.spent
            .get(&failure_bucket(client))
            .copied()
            .unwrap_or(0)
            < VERIFICATIONS_PER_ADDRESS
    }

    fn spend_one(&mut self, now: Timestamp, client: IpAddr) {
        self.roll(now);
        *self.spent.entry(failure_bucket(client)).or_insert(0) += 1;
    }

    /// Starts afresh when `now` is in a later minute (only forward, as the budget).
    fn roll(&mut self, now: Timestamp) {
        let minute = now.unix_seconds().div_euclid(60);
        if minute > self.minute {
            self.minute = minute;
            self.spent.clear();
        }
    }
}

/// Whether searches for carried-over keys may run in this process, and what they have
/// spent. Searches run side by side; the budget, and each address's share of it, bound
/// their work together.
#[derive(Debug, Default)]
pub(crate) struct UnindexedSearch {
    /// A search found none left: keys made since all have a lookup value.
    none_left: AtomicBool,
    budget: Mutex<SearchBudget>,
    by_address: Mutex<SpentByAddress>,
}

impl UnindexedSearch {
    /// Whether a search for a key `client` presented may start at `now`: some key may
    /// be left, the minute's budget is not spent, nor the client address's share of it
    /// (checked before any row is read).
    pub(crate) fn may_start(&self, now: Timestamp, client: Option<IpAddr>) -> bool {
        !self.none_left.load(Ordering::Acquire)
            && client.is_none_or(|client| self.by_address().has_room(now, client))
            && self.budget().has_room(now)
    }

    /// Records that no carried-over key is left to search.
    pub(crate) fn none_left(&self) {
        self.none_left.store(true, Ordering::Release);
    }

    /// Spends one verification at `now` for a key `client` presented, if this minute's
    /// budget and the client address's share of it have one.
    pub(crate) fn try_spend_one(&self, now: Timestamp, client: Option<IpAddr>) -> bool {
        // The address's share first, then the budget: always in this order.
        let mut by_address = self.by_address();
        if let Some(client) = client
            && !by_address.has_room(now, client)
        {
            return false;
        }
        if !self.budget().try_spend(now, 1) {
            return false;
        }
        if let Some(client) = client {
            by_address.spend_one(now, client);
        }
        true
    }

    fn by_address(&self) -> std::sync::MutexGuard<'_, SpentByAddress> {
        self.by_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn budget(&self) -> std::sync::MutexGuard<'_, SearchBudget> {
        self.budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_search_once_none_is_left_or_the_budget_is_spent() {
        let at = Timestamp::from_unix_seconds(600);
        let search = UnindexedSearch::default();
        assert!(search.may_start(at, None));
        for _ in 0..VERIFICATIONS_PER_MINUTE {
            assert!(search.try_spend_one(at, None));
        }
        assert!(!search.try_spend_one(at, None));
        assert!(!search.may_start(at, None), "this minute's budget is spent");
        assert!(
            search.may_start(at.plus_seconds(60), None),
            "the next minute's is not"
        );
        search.none_left();
        assert!(
            !search.may_start(at.plus_seconds(120), None),
            "nothing left to search"
        );
    }

    /// However its tries interleave (searches side by side), one address spends at most
    /// its share; the rest of the budget is kept for others.
    #[test]
    fn the_searches_of_one_address_share_half_the_budget() {
        let at = Timestamp::from_unix_seconds(600);
        let search = UnindexedSearch::default();
        let client: IpAddr = "2001:db8:1:2::7".parse().unwrap();
        let same_48: IpAddr = "2001:db8:1:ffff::9".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let mut spent = 0;
        for n in 0..VERIFICATIONS_PER_MINUTE {
            let from = if n % 2 == 0 { client } else { same_48 };
            if search.try_spend_one(at, Some(from)) {
                spent += 1;
            }
        }
        assert_eq!(spent, VERIFICATIONS_PER_ADDRESS, "one /48, one share");
        assert!(!search.may_start(at.plus_seconds(59), Some(client)));
        assert!(search.may_start(at, Some(other)), "the rest is kept");
        for _ in 0..VERIFICATIONS_PER_MINUTE - VERIFICATIONS_PER_ADDRESS {
            assert!(search.try_spend_one(at, Some(other)));
        }
        assert!(!search.may_start(at, None), "the whole budget is spent");
        assert!(
            search.may_start(at.plus_seconds(60), Some(client)),
            "the next minute"
        );
    }

    /// Tries from threads side by side, one /48: exactly its share passes; and a try
    /// the full budget refuses leaves no entry behind (the map stays bounded).
    #[test]
    fn the_share_holds_across_threads_and_refused_tries_leave_no_entry() {
        let at = Timestamp::from_unix_seconds(600);
        let search = UnindexedSearch::default();
        let passed = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|threads| {
            for n in 0..8_u16 {
                let (search, passed) = (&search, &passed);
                threads.spawn(move || {
                    let client = IpAddr::from([0x2001, 0xdb8, 7, n, 0, 0, 0, 1]);
                    for _ in 0..100 {
                        if search.try_spend_one(at, Some(client)) {
                            passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(passed.into_inner(), VERIFICATIONS_PER_ADDRESS);
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..VERIFICATIONS_PER_MINUTE - VERIFICATIONS_PER_ADDRESS {
            assert!(search.try_spend_one(at, Some(other)));
        }
        let late: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(!search.try_spend_one(at, Some(late)), "the budget is spent");
        assert_eq!(
            search.by_address().spent.len(),
            2,
            "no entry for a refused try"
        );
    }

    /// A try that read the time before the minute ended, taking its turn after the next
    /// minute began, counts against the newer minute and wipes nothing.
    #[test]
    fn a_late_try_does_not_roll_the_minute_back() {
        let search = UnindexedSearch::default();
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let next_minute = Timestamp::from_unix_seconds(660);
        for _ in 0..VERIFICATIONS_PER_ADDRESS {
            assert!(search.try_spend_one(next_minute, Some(client)));
        }
        let just_before = Timestamp::from_unix_seconds(659);
        assert!(!search.try_spend_one(just_before, Some(client)));
        assert!(
            !search.may_start(next_minute, Some(client)),
            "the share stays spent"
        );
    }

    #[test]
    fn the_budget_is_per_minute_and_a_search_too_large_never_fits() {
        let mut budget = SearchBudget::new();
        let at = Timestamp::from_unix_seconds(119);
        assert!(!budget.try_spend(at, VERIFICATIONS_PER_MINUTE + 1));
        assert!(budget.try_spend(at, VERIFICATIONS_PER_MINUTE));
        assert!(!budget.try_spend(at, 1));
        assert!(
            budget.try_spend(at.plus_seconds(1), 1),
            "second 120 starts a minute"
        );
        assert!(!budget.try_spend(at.plus_seconds(1), usize::MAX));
    }
}
