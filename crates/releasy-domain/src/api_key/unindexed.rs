//! Keys carried over from the reference server: stored as Argon2id PHC strings with a
//! random salt and no lookup value, so no index can find one. A key that matches no
//! indexed row is tried against each of them, the most recently used first, and the
//! first match gets its lookup value, so it is found by index from then on. Each try is
//! an Argon2id verification, so the tries are bounded: at most
//! [`VERIFICATIONS_PER_MINUTE`] a minute in one process, at most
//! [`VERIFICATIONS_PER_SEARCH`] for one key (so that one unknown key leaves room for
//! the rest of the minute), only the first half of the minute's budget for a client
//! address whose search found nothing this minute (so that one client retrying a key
//! that is no key cannot spend the budget every minute), and none at all once a search
//! finds no such key left.

use std::collections::HashSet;
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
/// findable that minute from other addresses (its own address is then held to
/// [`VERIFICATIONS_FOR_FRUITLESS_ADDRESSES`], which such a search may have spent).
pub const VERIFICATIONS_PER_SEARCH: usize = VERIFICATIONS_PER_MINUTE / 2;

/// How much of the minute's budget a search may use (counted from the minute's start)
/// when its client's address already searched in vain this minute, or searches now: the
/// first half. The second half is kept for the first uses of carried-over keys from
/// other addresses, so one client retrying a key that is no key (a deleted key left in
/// a CI job, parallel jobs behind one NAT) cannot spend the whole budget every minute,
/// while a client whose search found nothing can still find its own key as long as the
/// first half has room (with 250 carried-over keys or more, one fruitless search spends
/// it: that address then waits for the next minute).
pub const VERIFICATIONS_FOR_FRUITLESS_ADDRESSES: usize = VERIFICATIONS_PER_MINUTE / 2;

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
        self.try_spend_up_to(now, verifications, VERIFICATIONS_PER_MINUTE)
    }

    /// As [`Self::try_spend`], for a search that may only use the minute's budget up to
    /// `ceiling` verifications spent (see [`VERIFICATIONS_FOR_FRUITLESS_ADDRESSES`]).
    pub fn try_spend_up_to(
        &mut self,
        now: Timestamp,
        verifications: usize,
        ceiling: usize,
    ) -> bool {
        self.roll(now);
        match self.spent.checked_add(verifications) {
            Some(spent) if spent <= ceiling.min(VERIFICATIONS_PER_MINUTE) => {
                self.spent = spent;
                true
            }
            _ => false,
        }
    }

    /// Whether at least one verification is left at `now`.
    pub fn has_room(&mut self, now: Timestamp) -> bool {
        self.has_room_up_to(now, VERIFICATIONS_PER_MINUTE)
    }

    /// Whether at least one verification is left at `now` below `ceiling` spent.
    pub fn has_room_up_to(&mut self, now: Timestamp, ceiling: usize) -> bool {
        self.roll(now);
        self.spent < ceiling.min(VERIFICATIONS_PER_MINUTE)
    }

    /// Starts the budget afresh when `now` is in another minute.
    fn roll(&mut self, now: Timestamp) {
        let minute = now.unix_seconds().div_euclid(60);
        if minute != self.minute {
            *self = Self { minute, spent: 0 };
        }
    }
}

impl Default for SearchBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// The addresses (counted as failures are: an IPv6 address by its /48) with a search
/// that found nothing in the current minute, or that runs now: their further searches
/// that minute use only [`VERIFICATIONS_FOR_FRUITLESS_ADDRESSES`]. Marked when a search
/// starts (so that searches started side by side from one address, a CI matrix behind
/// one NAT, do not each get the whole budget), cleared when one finds its key. At most
/// one entry per search started, each of which the budget had room for, so the set
/// stays small; it starts afresh each minute.
#[derive(Debug, Default)]
pub(crate) struct SearchingAddresses {
    minute: i64,
    addresses: HashSet<IpAddr>,
}

impl SearchingAddresses {
    /// Whether `client`'s address is marked in `now`'s minute.
    fn marked(&mut self, now: Timestamp, client: IpAddr) -> bool {
        self.roll(now);
        self.addresses.contains(&failure_bucket(client))
    }

    fn mark(&mut self, now: Timestamp, client: IpAddr) {
        self.roll(now);
        self.addresses.insert(failure_bucket(client));
    }

    fn unmark(&mut self, now: Timestamp, client: IpAddr) {
        self.roll(now);
        self.addresses.remove(&failure_bucket(client));
    }

    fn roll(&mut self, now: Timestamp) {
        let minute = now.unix_seconds().div_euclid(60);
        if minute != self.minute {
            self.minute = minute;
            self.addresses.clear();
        }
    }
}

/// Whether searches for carried-over keys may run in this process, and what they have
/// spent. Searches run side by side (a customer's parallel first requests all succeed);
/// the budget bounds their work together.
#[derive(Debug, Default)]
pub(crate) struct UnindexedSearch {
    /// A search found none left: keys made since all have a lookup value.
    none_left: AtomicBool,
    budget: Mutex<SearchBudget>,
    searching: Mutex<SearchingAddresses>,
}

impl UnindexedSearch {
    /// Starts a search for a key `client` presented at `now`, checked before any row is
    /// read: `None` when none may start (no key left, or no room in the budget below
    /// the search's ceiling); otherwise the ceiling, how far into the minute's budget
    /// it may spend: all of it, or [`VERIFICATIONS_FOR_FRUITLESS_ADDRESSES`] when a
    /// search of the client's address found nothing this minute or runs now. The
    /// address stays marked until [`Self::found`].
    pub(crate) fn start(&self, now: Timestamp, client: Option<IpAddr>) -> Option<usize> {
        if self.none_left.load(Ordering::Acquire) {
            return None;
        }
        let Some(client) = client else {
            return self
                .budget()
                .has_room(now)
                .then_some(VERIFICATIONS_PER_MINUTE);
        };
        let mut searching = self.searching();
        let ceiling = if searching.marked(now, client) {
            VERIFICATIONS_FOR_FRUITLESS_ADDRESSES
        } else {
            VERIFICATIONS_PER_MINUTE
        };
        if !self.budget().has_room_up_to(now, ceiling) {
            return None;
        }
        searching.mark(now, client);
        Some(ceiling)
    }

    /// Records that a search for a key `client` presented found it at `now`: its
    /// address searches with the whole budget again.
    pub(crate) fn found(&self, now: Timestamp, client: Option<IpAddr>) {
        if let Some(client) = client {
            self.searching().unmark(now, client);
        }
    }

    fn searching(&self) -> std::sync::MutexGuard<'_, SearchingAddresses> {
        self.searching
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that no carried-over key is left to search.
    pub(crate) fn none_left(&self) {
        self.none_left.store(true, Ordering::Release);
    }

    /// Spends one verification at `now` if this minute's budget has it below `ceiling`.
    pub(crate) fn try_spend_one(&self, now: Timestamp, ceiling: usize) -> bool {
        self.budget().try_spend_up_to(now, 1, ceiling)
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
        assert_eq!(search.start(at, None), Some(VERIFICATIONS_PER_MINUTE));
        for _ in 0..VERIFICATIONS_PER_MINUTE {
            assert!(search.try_spend_one(at, VERIFICATIONS_PER_MINUTE));
        }
        assert!(!search.try_spend_one(at, VERIFICATIONS_PER_MINUTE));
        assert_eq!(
            search.start(at, None),
            None,
            "this minute's budget is spent"
        );
        assert!(
            search.start(at.plus_seconds(60), None).is_some(),
            "the next minute's is not"
        );
        search.none_left();
        assert_eq!(
            search.start(at.plus_seconds(120), None),
            None,
            "nothing left to search"
        );
    }

    #[test]
    fn an_address_searching_or_that_found_nothing_may_use_only_the_first_half() {
        let at = Timestamp::from_unix_seconds(600);
        let search = UnindexedSearch::default();
        let client: IpAddr = "2001:db8:1:2::7".parse().unwrap();
        let same_48: IpAddr = "2001:db8:1:ffff::9".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let (all, half) = (
            VERIFICATIONS_PER_MINUTE,
            VERIFICATIONS_FOR_FRUITLESS_ADDRESSES,
        );
        assert_eq!(search.start(at, Some(client)), Some(all));
        // Started beside it (or after it found nothing): the first half only.
        assert_eq!(search.start(at.plus_seconds(59), Some(client)), Some(half));
        assert_eq!(search.start(at, Some(same_48)), Some(half), "by its /48");
        assert_eq!(search.start(at, Some(other)), Some(all));
        assert_eq!(search.start(at.plus_seconds(60), Some(client)), Some(all));
        // Finding the key clears the address.
        search.found(at.plus_seconds(60), Some(client));
        assert_eq!(search.start(at.plus_seconds(61), Some(client)), Some(all));

        for _ in 0..half {
            assert!(search.try_spend_one(at.plus_seconds(61), half));
        }
        assert!(!search.try_spend_one(at.plus_seconds(61), half));
        assert_eq!(
            search.start(at.plus_seconds(62), Some(client)),
            None,
            "the first half is spent"
        );
        assert_eq!(
            search.start(at.plus_seconds(62), Some(other)),
            Some(all),
            "the rest is kept"
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
