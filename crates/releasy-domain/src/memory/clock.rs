//! A clock that stands still until told to move.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::Timestamp;
use crate::ports::Clock;

/// A settable clock for tests.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock showing `now`.
    pub fn at(now: Timestamp) -> Self {
        Self(AtomicI64::new(now.unix_seconds()))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.unix_seconds(), Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.0.load(Ordering::SeqCst))
    }
}
