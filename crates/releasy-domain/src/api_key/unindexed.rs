//! Keys carried over from the reference server: stored as Argon2id PHC strings with a
//! random salt and no lookup value, so no index can find one. A key that matches no
//! indexed row is tried against each of them, and the first match gets its lookup
//! value, so it is found by index from then on. Every such search costs one Argon2id
//! verification per carried-over key, so the searches are bounded: one at a time per
//! process, at most [`VERIFICATIONS_PER_MINUTE`] verifications a minute, and none at
//! all once a search finds that no such key is left.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Timestamp;

/// How many Argon2id verifications searches for carried-over keys may spend a minute,
/// in one process: a bound on the work unknown keys can cause (at the reference's
/// parameters, about a fifth of one core while someone sends unknown keys without
/// pause), and enough for every carried-over key's first use to be found when a
/// deployment carried over up to this many keys; past that, searches never run (the
/// keys are then re-issued).
pub const VERIFICATIONS_PER_MINUTE: usize = 500;

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
    /// spending nothing, when they do not (a search larger than a whole minute's budget
    /// never fits: the carried-over keys are then found only by index, never by search).
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
    /// assert!(budget.try_spend(at.plus_seconds(60), 2), "a new minute");
    /// ```
    pub fn try_spend(&mut self, now: Timestamp, verifications: usize) -> bool {
        let minute = now.unix_seconds().div_euclid(60);
        if minute != self.minute {
            *self = Self { minute, spent: 0 };
        }
        match self.spent.checked_add(verifications) {
            Some(spent) if spent <= VERIFICATIONS_PER_MINUTE => {
                self.spent = spent;
                true
            }
            _ => false,
        }
    }
}

impl Default for SearchBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether, and how, searches for carried-over keys may run in this process.
#[derive(Debug, Default)]
pub(crate) struct UnindexedSearch {
    /// A search found none left: keys made since all have a lookup value.
    none_left: AtomicBool,
    /// A search is running.
    running: AtomicBool,
    budget: Mutex<SearchBudget>,
}

/// A running search; ends when dropped.
pub(crate) struct SearchTurn<'a>(&'a UnindexedSearch);

impl Drop for SearchTurn<'_> {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

impl UnindexedSearch {
    /// The turn to search, unless none is left or another search runs now.
    pub(crate) fn turn(&self) -> Option<SearchTurn<'_>> {
        if self.none_left.load(Ordering::Acquire) {
            return None;
        }
        self.running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| SearchTurn(self))
    }

    /// Records that no carried-over key is left to search.
    pub(crate) fn none_left(&self) {
        self.none_left.store(true, Ordering::Release);
    }

    /// Spends `verifications` at `now` if this minute's budget has them.
    pub(crate) fn try_spend(&self, now: Timestamp, verifications: usize) -> bool {
        self.budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .try_spend(now, verifications)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_search_at_a_time_and_none_once_none_is_left() {
        let search = UnindexedSearch::default();
        let turn = search.turn().expect("the first search runs");
        assert!(
            search.turn().is_none(),
            "a second waits for none: it is skipped"
        );
        drop(turn);
        assert!(search.turn().is_some(), "free again once the first ended");
        search.none_left();
        assert!(search.turn().is_none(), "nothing left to search");
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
