//! How long the download ledger keeps its rows.

use std::num::NonZeroU32;

use crate::Timestamp;
use crate::delivery::{SECONDS_PER_DAY, day_of};

/// The days the ledger keeps (`RELEASY_DOWNLOAD_LOG_RETENTION_DAYS`), or forever.
///
/// Whole UTC days go at once, rows and statistics together, so the statistics always
/// count exactly the rows the ledger still holds.
///
/// ```
/// use releasy_domain::Timestamp;
/// use releasy_domain::delivery::LedgerRetention;
///
/// // 2026-12-04 13:00 UTC: with 400 days kept, rows of 2025-10-30 and later stay.
/// let now = Timestamp::from_unix_seconds(1_796_342_400 + 13 * 3_600);
/// let cutoff = LedgerRetention::days(400).cutoff(now).unwrap();
/// assert_eq!(cutoff, Timestamp::from_unix_seconds(1_796_342_400 - 400 * 86_400));
/// assert_eq!(LedgerRetention::days(0).cutoff(now), None, "0 keeps every row");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerRetention(Option<NonZeroU32>);

impl LedgerRetention {
    /// The default: 400 days, a year of comparisons with a month of slack.
    pub const DEFAULT_DAYS: u32 = 400;

    /// Rows are kept `days` days besides today; 0 keeps them forever.
    pub const fn days(days: u32) -> Self {
        Self(NonZeroU32::new(days))
    }

    /// The days kept; `None` for forever.
    pub fn days_kept(self) -> Option<u32> {
        self.0.map(NonZeroU32::get)
    }

    /// The start of the oldest UTC day kept at `now`: rows before it may go. `None`
    /// when rows are kept forever.
    pub fn cutoff(self, now: Timestamp) -> Option<Timestamp> {
        self.0.map(|days| {
            let first_day_kept = day_of(now) - i64::from(days.get());
            Timestamp::from_unix_seconds(first_day_kept * SECONDS_PER_DAY)
        })
    }
}

impl Default for LedgerRetention {
    fn default() -> Self {
        Self::days(Self::DEFAULT_DAYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_a_day_boundary_whatever_the_hour() {
        let midnight = 20_000 * SECONDS_PER_DAY;
        for hour in [0, 1, 23] {
            let now = Timestamp::from_unix_seconds(midnight + hour * 3_600);
            assert_eq!(
                LedgerRetention::days(1).cutoff(now),
                Some(Timestamp::from_unix_seconds(midnight - SECONDS_PER_DAY))
            );
        }
        assert_eq!(LedgerRetention::default().days_kept(), Some(400));
    }
}
