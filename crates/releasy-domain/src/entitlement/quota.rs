//! Download quotas: how many downloads, and how many bytes, one entitlement allows per
//! UTC day or calendar month (UTC). A download is a resolve that hands out a link; the
//! count is kept exactly, per entitlement and period, by a
//! [`crate::ports::QuotaCounter`].

use crate::calendar::CivilDate;
use crate::delivery::{SECONDS_PER_DAY, day_of};
use crate::{EntitlementId, Timestamp, ValidationError};

/// How long a quota's count runs before it starts again from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaPeriod {
    /// A UTC day, from midnight to midnight.
    Day,
    /// A calendar month in UTC, from its first day's midnight to the next month's.
    Month,
}

impl QuotaPeriod {
    /// Every period, as the API names them.
    pub const ALL: [Self; 2] = [Self::Day, Self::Month];

    /// Reads `day` or `month`.
    ///
    /// # Errors
    /// [`ValidationError`] on `download_quota.period` for any other text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|period| period.as_str() == text)
            .ok_or_else(|| {
                ValidationError::new("download_quota.period", "must be \"day\" or \"month\"")
            })
    }

    /// The API's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    /// The period that `now` falls in.
    ///
    /// ```
    /// use releasy_domain::entitlement::QuotaPeriod;
    /// use releasy_domain::Timestamp;
    ///
    /// // 2026-12-05T01:30:00Z
    /// let now = Timestamp::from_unix_seconds(1_796_434_200);
    /// let month = QuotaPeriod::Month.window_at(now);
    /// assert_eq!(month.starts_at.unix_seconds(), 1_796_083_200); // 2026-12-01
    /// assert_eq!(month.resets_at.unix_seconds(), 1_798_761_600); // 2027-01-01
    /// assert_eq!(QuotaPeriod::Day.window_at(now).retry_after_seconds(now), 81_000);
    /// ```
    pub fn window_at(self, now: Timestamp) -> QuotaWindow {
        let today = day_of(now);
        let (first, next) = match self {
            Self::Day => (today, today + 1),
            Self::Month => {
                let date = CivilDate::from_days(today);
                (
                    date.first_of_month().days(),
                    date.first_of_next_month().days(),
                )
            }
        };
        QuotaWindow {
            period: self,
            starts_at: Timestamp::from_unix_seconds(first * SECONDS_PER_DAY),
            resets_at: Timestamp::from_unix_seconds(next * SECONDS_PER_DAY),
        }
    }
}

/// One period of a quota: its count covers `starts_at` (inclusive) to `resets_at`
/// (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaWindow {
    /// The kind of period.
    pub period: QuotaPeriod,
    /// Its first second.
    pub starts_at: Timestamp,
    /// The first second of the next period, when the count starts again.
    pub resets_at: Timestamp,
}

impl QuotaWindow {
    /// Seconds from `now` until the count resets (at least 1): a refusal's
    /// `Retry-After`.
    pub fn retry_after_seconds(&self, now: Timestamp) -> u64 {
        let left = self
            .resets_at
            .unix_seconds()
            .saturating_sub(now.unix_seconds());
        u64::try_from(left).unwrap_or(0).max(1)
    }
}

/// How long the count of a period is kept once the period is over. A resolve fixes its
/// period when it starts and charges it last, after its store calls, and the instances
/// of a deployment read the time on clocks of their own: a count removed the moment its
/// period reset could be charged again by such a resolve, starting from zero, and let a
/// whole period's quota through once more.
pub const ENDED_PERIOD_KEPT_SECONDS: i64 = 3_600;

/// The counts removable at `now`: those of periods that reset at or before this moment.
///
/// ```
/// use releasy_domain::Timestamp;
/// use releasy_domain::entitlement::{ENDED_PERIOD_KEPT_SECONDS, counts_reset_by};
///
/// let now = Timestamp::from_unix_seconds(1_796_342_400);
/// assert_eq!(counts_reset_by(now).unix_seconds(), 1_796_342_400 - ENDED_PERIOD_KEPT_SECONDS);
/// ```
pub const fn counts_reset_by(now: Timestamp) -> Timestamp {
    now.plus_seconds(-ENDED_PERIOD_KEPT_SECONDS)
}

/// What one period of a quota has counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    /// Downloads.
    pub downloads: u64,
    /// Bytes of those downloads (each counted at its artifact's size).
    pub bytes: u64,
}

/// An entitlement's download quota: at most `downloads` downloads and at most `bytes`
/// bytes per `period` (either limit may be absent, not both).
///
/// ```
/// use releasy_domain::entitlement::{DownloadQuota, QuotaPeriod, QuotaUsage};
///
/// let quota = DownloadQuota::new(Some(10), Some(1_000), QuotaPeriod::Day).unwrap();
/// let used = QuotaUsage { downloads: 9, bytes: 600 };
/// assert!(quota.admits(used, 400), "the tenth download, exactly at the byte limit");
/// assert!(!quota.admits(used, 401));
/// assert!(!quota.admits(QuotaUsage { downloads: 10, bytes: 0 }, 1));
/// assert!(DownloadQuota::new(None, None, QuotaPeriod::Month).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadQuota {
    downloads: Option<u64>,
    bytes: Option<u64>,
    period: QuotaPeriod,
}

impl DownloadQuota {
    /// The largest limit (what a signed 64-bit database column holds).
    pub const MAX_LIMIT: u64 = i64::MAX as u64;

    /// Checks a quota.
    ///
    /// # Errors
    /// [`ValidationError`] when neither limit is given, or one is outside
    /// `1..=`[`Self::MAX_LIMIT`].
    pub fn new(
        downloads: Option<u64>,
        bytes: Option<u64>,
        period: QuotaPeriod,
    ) -> Result<Self, ValidationError> {
        if downloads.is_none() && bytes.is_none() {
            return Err(ValidationError::new(
                "download_quota",
                "must limit downloads, bytes or both",
            ));
        }
        for (field, limit) in [
            ("download_quota.downloads", downloads),
            ("download_quota.bytes", bytes),
        ] {
            if limit.is_some_and(|n| n == 0 || n > Self::MAX_LIMIT) {
                return Err(ValidationError::new(
                    field,
                    format!("must be between 1 and {}", Self::MAX_LIMIT),
                ));
            }
        }
        Ok(Self {
            downloads,
            bytes,
            period,
        })
    }

    /// Downloads allowed per period, if limited.
    pub const fn downloads(&self) -> Option<u64> {
        self.downloads
    }

    /// Bytes allowed per period, if limited.
    pub const fn bytes(&self) -> Option<u64> {
        self.bytes
    }

    /// The period the limits apply to.
    pub const fn period(&self) -> QuotaPeriod {
        self.period
    }

    /// Whether one more download of `bytes` bytes fits after `used`: the count stays
    /// at or under both limits.
    pub fn admits(&self, used: QuotaUsage, bytes: u64) -> bool {
        self.downloads.is_none_or(|max| used.downloads < max)
            && self
                .bytes
                .is_none_or(|max| used.bytes.checked_add(bytes).is_some_and(|sum| sum <= max))
    }
}

/// Which of a customer's entitlements a download of one release counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowance {
    /// No entitlement allows the release.
    Refused,
    /// An entitlement without a quota allows it: nothing is counted.
    Unlimited,
    /// Only entitlements with quotas allow it; the download counts against the first of
    /// them (in the order they were granted) that has room.
    Metered(Vec<MeteredGrant>),
}

impl Allowance {
    /// Whether some entitlement allows the release, quotas aside.
    pub fn allows(&self) -> bool {
        !matches!(self, Self::Refused)
    }
}

/// An entitlement with a quota that allows a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeteredGrant {
    /// The entitlement.
    pub entitlement: EntitlementId,
    /// Its quota.
    pub quota: DownloadQuota,
}

/// The wait before the first of `grants`' quota periods resets, for a refusal's
/// `Retry-After`: when every quota that could allow a download of `bytes` is spent, the
/// soonest reset is the first moment one may have room. A quota whose byte limit is
/// below `bytes` never has room for it, so its reset is not counted; when no quota
/// could ever admit the download (only raising one helps), the soonest reset of all is
/// given, since a 429 always says when to ask again.
pub fn soonest_reset(grants: &[MeteredGrant], bytes: u64, now: Timestamp) -> u64 {
    let reset = |grant: &MeteredGrant| grant.quota.period().window_at(now).retry_after_seconds(now);
    grants
        .iter()
        .filter(|grant| grant.quota.admits(QuotaUsage::default(), bytes))
        .map(reset)
        .min()
        .or_else(|| grants.iter().map(reset).min())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(date: &str, seconds_into_day: i64) -> Timestamp {
        let parts: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
        let day = CivilDate {
            year: parts[0],
            month: u32::try_from(parts[1]).unwrap(),
            day: u32::try_from(parts[2]).unwrap(),
        }
        .days();
        Timestamp::from_unix_seconds(day * SECONDS_PER_DAY + seconds_into_day)
    }

    #[test]
    fn a_day_runs_from_midnight_to_midnight_utc() {
        let last_second = utc("2026-12-31", SECONDS_PER_DAY - 1);
        let window = QuotaPeriod::Day.window_at(last_second);
        assert_eq!(window.starts_at, utc("2026-12-31", 0));
        assert_eq!(window.resets_at, utc("2027-01-01", 0));
        assert_eq!(window.retry_after_seconds(last_second), 1);
        let next = QuotaPeriod::Day.window_at(window.resets_at);
        assert_eq!(
            next.starts_at, window.resets_at,
            "the next day starts a new count"
        );
    }

    #[test]
    fn a_month_is_a_calendar_month_of_any_length() {
        for (inside, first, next) in [
            ("2027-02-28", "2027-02-01", "2027-03-01"),
            ("2028-02-29", "2028-02-01", "2028-03-01"),
            ("2026-12-05", "2026-12-01", "2027-01-01"),
            ("2026-04-30", "2026-04-01", "2026-05-01"),
        ] {
            let window = QuotaPeriod::Month.window_at(utc(inside, 3_600));
            assert_eq!(window.starts_at, utc(first, 0), "{inside}");
            assert_eq!(window.resets_at, utc(next, 0), "{inside}");
        }
        let first_second = utc("2026-12-01", 0);
        assert_eq!(
            QuotaPeriod::Month.window_at(first_second).starts_at,
            first_second
        );
    }

    #[test]
    fn retry_after_is_never_zero_and_never_negative() {
        let window = QuotaPeriod::Day.window_at(utc("2026-12-05", 0));
        assert_eq!(window.retry_after_seconds(window.resets_at), 1);
        assert_eq!(
            window.retry_after_seconds(window.resets_at.plus_seconds(500)),
            1
        );
        let grant = |period| MeteredGrant {
            entitlement: EntitlementId::generate(),
            quota: DownloadQuota::new(Some(1), None, period).unwrap(),
        };
        let now = utc("2026-12-05", 10);
        let grants = [grant(QuotaPeriod::Month), grant(QuotaPeriod::Day)];
        assert_eq!(soonest_reset(&grants, 100, now), 86_390);
    }

    #[test]
    fn retry_after_skips_quotas_too_small_for_the_artifact() {
        let now = utc("2026-12-05", 10);
        let end_of_month = utc("2027-01-01", 0).unix_seconds() - now.unix_seconds();
        let small_daily = MeteredGrant {
            entitlement: EntitlementId::generate(),
            quota: DownloadQuota::new(None, Some(10 << 20), QuotaPeriod::Day).unwrap(),
        };
        let monthly = MeteredGrant {
            entitlement: EntitlementId::generate(),
            quota: DownloadQuota::new(Some(5), None, QuotaPeriod::Month).unwrap(),
        };
        let grants = [small_daily, monthly];
        // 50 MiB never fits the daily 10 MiB: only the month's reset can make room.
        assert_eq!(
            soonest_reset(&grants, 50 << 20, now),
            u64::try_from(end_of_month).unwrap()
        );
        assert_eq!(soonest_reset(&grants, 1 << 20, now), 86_390);
        // Nothing could ever admit it: the soonest reset all the same.
        assert_eq!(soonest_reset(&[small_daily], 50 << 20, now), 86_390);
    }

    #[test]
    fn limits_are_checked_at_the_boundary() {
        let downloads = DownloadQuota::new(Some(3), None, QuotaPeriod::Day).unwrap();
        let used = |downloads, bytes| QuotaUsage { downloads, bytes };
        assert!(downloads.admits(used(2, u64::MAX - 1), u64::MAX));
        assert!(!downloads.admits(used(3, 0), 0));
        let bytes = DownloadQuota::new(None, Some(100), QuotaPeriod::Month).unwrap();
        assert!(bytes.admits(used(1_000, 0), 100));
        assert!(
            !bytes.admits(used(0, 0), 101),
            "one artifact larger than the quota"
        );
        assert!(!bytes.admits(used(0, u64::MAX), 1), "no overflow");
        assert!(bytes.admits(used(0, 99), 1));
        assert!(!bytes.admits(used(0, 100), 1));
    }

    #[test]
    fn a_quota_limits_something_within_range() {
        assert_eq!(
            DownloadQuota::new(None, None, QuotaPeriod::Day)
                .unwrap_err()
                .field,
            "download_quota"
        );
        assert_eq!(
            DownloadQuota::new(Some(0), None, QuotaPeriod::Day)
                .unwrap_err()
                .field,
            "download_quota.downloads"
        );
        assert_eq!(
            DownloadQuota::new(
                Some(1),
                Some(DownloadQuota::MAX_LIMIT + 1),
                QuotaPeriod::Day
            )
            .unwrap_err()
            .field,
            "download_quota.bytes"
        );
        assert!(DownloadQuota::new(None, Some(DownloadQuota::MAX_LIMIT), QuotaPeriod::Day).is_ok());
        assert_eq!(QuotaPeriod::parse("month").unwrap(), QuotaPeriod::Month);
        assert_eq!(
            QuotaPeriod::parse("week").unwrap_err().field,
            "download_quota.period"
        );
    }
}
