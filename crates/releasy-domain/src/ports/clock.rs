//! Time, as a port, so rules about expiry can be tested at any instant.

use crate::Timestamp;

/// The current time.
///
/// ```
/// use releasy_domain::Timestamp;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::ports::Clock;
///
/// let clock = FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000));
/// clock.advance(60);
/// assert_eq!(clock.now(), Timestamp::from_unix_seconds(1_735_312_060));
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in whole Unix seconds.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs() as i64);
        Timestamp::from_unix_seconds(seconds)
    }
}
