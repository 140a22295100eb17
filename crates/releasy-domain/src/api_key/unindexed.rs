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
/// findable that minute.
pub const VERIFICATIONS_PER_SEARCH: usize = VERIFICATIONS_PER_MINUTE / 2;

/// How much of the minute's budget a search may use (counted from the minute's start)
/// when its client's address already searched in vain this minute: the first half. The
/// second half is kept for the first uses of carried-over keys from addresses that have
/// not, so one client retrying a key that is no key (a deleted key left in a CI job)
/// cannot spend the whole budget every minute, while a client whose one search found
/// nothing can still find its own key.
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

/// The addresses (counted as failures are: an IPv6 address by its /48) whose search
/// found nothing in the current minute: their further searches that minute use only
/// [`VERIFICATIONS_FOR_FRUITLESS_ADDRESSES`]. At most one entry per search the budget
/// allows, so the set stays small; it starts afresh each minute.
#[derive(Debug, Default)]
pub(crate) struct FruitlessSearchers {
    minute: i64,
    addresses: HashSet<IpAddr>,
}

impl FruitlessSearchers {
    /// Whether `client`'s address searched in vain in `now`'s minute.
    pub(crate) fn searched(&mut self, now: Timestamp, client: IpAddr) -> bool {
        self.roll(now);
        self.addresses.contains(&failure_bucket(client))
    }

    /// Records that `client`'s address searched in vain at `now`.
    pub(crate) fn record(&mut self, now: Timestamp, client: IpAddr) {
        self.roll(now);
        self.addresses.insert(failure_bucket(client));
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
    fruitless: Mutex<FruitlessSearchers>,
}

impl UnindexedSearch {
    /// How far into the minute's budget a search for a key `client` presented at `now`
    /// may spend: all of it, or [`VERIFICATIONS_FOR_FRUITLESS_ADDRESSES`] when a search
    /// of the client's address found nothing this minute.
    pub(crate) fn ceiling(&self, now: Timestamp, client: Option<IpAddr>) -> usize {
        match client {
            Some(client) if self.fruitless().searched(now, client) => {
                VERIFICATIONS_FOR_FRUITLESS_ADDRESSES
            }
            _ => VERIFICATIONS_PER_MINUTE,
        }
    }

    /// Whether a search within `ceiling` may start at `now`: some key may be left, and
    /// the budget has room below it (checked before any row is read).
    pub(crate) fn may_start(&self, now: Timestamp, ceiling: usize) -> bool {
        !self.none_left.load(Ordering::Acquire) && self.budget().has_room_up_to(now, ceiling)
    }

    /// Records that a search for a key `client` presented found nothing at `now`.
    pub(crate) fn found_nothing(&self, now: Timestamp, client: Option<IpAddr>) {
        if let Some(client) = client {
            self.fruitless().record(now, client);
        }
    }

    fn fruitless(&self) -> std::sync::MutexGuard<'_, FruitlessSearchers> {
        self.fruitless
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
        assert!(search.may_start(at, VERIFICATIONS_PER_MINUTE));
        for _ in 0..VERIFICATIONS_PER_MINUTE {
            assert!(search.try_spend_one(at, VERIFICATIONS_PER_MINUTE));
        }
        assert!(!search.try_spend_one(at, VERIFICATIONS_PER_MINUTE));
        assert!(
            !search.may_start(at, VERIFICATIONS_PER_MINUTE),
            "this minute's budget is spent"
        );
        assert!(
            search.may_start(at.plus_seconds(60), VERIFICATIONS_PER_MINUTE),
            "the next minute's is not"
        );
        search.none_left();
        assert!(
            !search.may_start(at.plus_seconds(120), VERIFICATIONS_PER_MINUTE),
            "nothing left to search"
        );
    }

    #[test]
    fn an_address_whose_search_found_nothing_may_use_only_the_first_half() {
        let at = Timestamp::from_unix_seconds(600);
        let search = UnindexedSearch::default();
        let client: IpAddr = "2001:db8:1:2::7".parse().unwrap();
        let same_48: IpAddr = "2001:db8:1:ffff::9".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(search.ceiling(at, Some(client)), VERIFICATIONS_PER_MINUTE);
        search.found_nothing(at, Some(client));
        let fruitless = VERIFICATIONS_FOR_FRUITLESS_ADDRESSES;
        assert_eq!(search.ceiling(at.plus_seconds(59), Some(client)), fruitless);
        assert_eq!(search.ceiling(at, Some(same_48)), fruitless, "by its /48");
        assert_eq!(search.ceiling(at, Some(other)), VERIFICATIONS_PER_MINUTE);
        assert_eq!(search.ceiling(at, None), VERIFICATIONS_PER_MINUTE);
        assert_eq!(
            search.ceiling(at.plus_seconds(60), Some(client)),
            VERIFICATIONS_PER_MINUTE,
            "the next minute"
        );
        for _ in 0..fruitless {
            assert!(search.try_spend_one(at, fruitless));
        }
        assert!(!search.may_start(at, fruitless), "the first half is spent");
        assert!(!search.try_spend_one(at, fruitless));
        assert!(
            search.may_start(at, VERIFICATIONS_PER_MINUTE),
            "the rest is kept"
        );
        assert!(search.try_spend_one(at, VERIFICATIONS_PER_MINUTE));
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
