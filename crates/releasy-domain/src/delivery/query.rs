//! What an operator asks of the ledger: a filtered listing, or statistics per group.

use std::collections::{BTreeMap, BTreeSet};

use crate::delivery::{DownloadOutcome, DownloadRecord};
use crate::release::{Product, Version};
use crate::{ArtifactId, CustomerId, Timestamp, ValidationError};

/// Seconds in a UTC day.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// The UTC day of `at`, counted from 1970-01-01 (day 0).
pub const fn day_of(at: Timestamp) -> i64 {
    at.unix_seconds().div_euclid(SECONDS_PER_DAY)
}

/// The ISO 8601 date (`2026-12-04`) of day `day` since 1970-01-01.
///
/// ```
/// use releasy_domain::delivery::{day_of, iso_date};
/// use releasy_domain::Timestamp;
///
/// assert_eq!(iso_date(0), "1970-01-01");
/// assert_eq!(iso_date(day_of(Timestamp::from_unix_seconds(1_796_342_400))), "2026-12-04");
/// ```
pub fn iso_date(day: i64) -> String {
    crate::calendar::CivilDate::from_days(day).to_string()
}

/// Refuses a window whose `from` is after its `to`.
fn check_window(from: Option<Timestamp>, to: Option<Timestamp>) -> Result<(), ValidationError> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => {
            Err(ValidationError::new("from", "must not be after to"))
        }
        _ => Ok(()),
    }
}

/// Which ledger rows a listing or an export returns; every bound is optional and
/// `from`/`to` are inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadFilter {
    /// Only this customer's rows.
    pub customer_id: Option<CustomerId>,
    /// Only rows of this product.
    pub product: Option<Product>,
    /// Only rows of this version (of any product, unless `product` is set too).
    pub version: Option<Version>,
    /// Only rows of this artifact.
    pub artifact_id: Option<ArtifactId>,
    /// Only rows that ended this way.
    pub outcome: Option<DownloadOutcome>,
    /// Not before.
    pub from: Option<Timestamp>,
    /// Not after.
    pub to: Option<Timestamp>,
}

impl DownloadFilter {
    /// Whether `record` is one of the rows asked for.
    pub fn matches(&self, record: &DownloadRecord) -> bool {
        self.customer_id.is_none_or(|id| record.customer_id == id)
            && self
                .product
                .as_ref()
                .is_none_or(|p| record.subject.product == *p)
            && self
                .version
                .as_ref()
                .is_none_or(|v| record.subject.version == *v)
            && self
                .artifact_id
                .is_none_or(|id| record.subject.artifact_id == id)
            && self.outcome.is_none_or(|outcome| record.outcome == outcome)
            && self.from.is_none_or(|from| record.at >= from)
            && self.to.is_none_or(|to| record.at <= to)
    }

    /// Checks that the window is not reversed.
    ///
    /// # Errors
    /// [`ValidationError`] on `from` when it is after `to`.
    pub fn checked(self) -> Result<Self, ValidationError> {
        check_window(self.from, self.to).map(|()| self)
    }
}

/// What statistics are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatsGroup {
    /// One group per product.
    Product,
    /// One group per product and version.
    Version,
    /// One group per artifact.
    Artifact,
    /// One group per customer.
    Customer,
    /// One group per UTC day.
    Day,
}

impl StatsGroup {
    /// Every grouping.
    pub const ALL: [Self; 5] = [
        Self::Product,
        Self::Version,
        Self::Artifact,
        Self::Customer,
        Self::Day,
    ];

    /// The grouping's name in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::Version => "version",
            Self::Artifact => "artifact",
            Self::Customer => "customer",
            Self::Day => "day",
        }
    }

    /// Reads `group_by`.
    ///
    /// # Errors
    /// [`ValidationError`] on `group_by` when it names no grouping.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|group| group.as_str() == raw.trim())
            .ok_or_else(|| {
                ValidationError::new(
                    "group_by",
                    "must be one of product, version, artifact, customer, day",
                )
            })
    }
}

/// A statistics request. The statistics are kept per UTC day, so `from` and `to`
/// select whole days: the days they fall on, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    /// The grouping.
    pub group_by: StatsGroup,
    /// Only this product.
    pub product: Option<Product>,
    /// Only this customer.
    pub customer_id: Option<CustomerId>,
    /// From the day of this instant.
    pub from: Option<Timestamp>,
    /// To the day of this instant, included.
    pub to: Option<Timestamp>,
}

impl StatsQuery {
    /// The first day counted (see [`day_of`]).
    pub fn first_day(&self) -> Option<i64> {
        self.from.map(day_of)
    }

    /// The last day counted.
    pub fn last_day(&self) -> Option<i64> {
        self.to.map(day_of)
    }

    /// Checks that the window is not reversed.
    ///
    /// # Errors
    /// [`ValidationError`] on `from` when it is after `to`.
    pub fn checked(self) -> Result<Self, ValidationError> {
        check_window(self.from, self.to).map(|()| self)
    }

    /// Whether `record` counts: a link handed out, of the product, customer and days
    /// asked for.
    pub fn counts(&self, record: &DownloadRecord) -> bool {
        let day = day_of(record.at);
        record.outcome == DownloadOutcome::Redirected
            && self
                .product
                .as_ref()
                .is_none_or(|p| record.subject.product == *p)
            && self.customer_id.is_none_or(|id| record.customer_id == id)
            && self.first_day().is_none_or(|first| day >= first)
            && self.last_day().is_none_or(|last| day <= last)
    }
}

/// The statistics of `query` computed row by row from `records`, sorted: what the
/// summary a store keeps must always answer.
pub fn stats_of<'a>(
    query: &StatsQuery,
    records: impl IntoIterator<Item = &'a DownloadRecord>,
) -> Vec<DownloadStat> {
    let mut groups: BTreeMap<StatsKey, (u64, BTreeSet<CustomerId>, u64)> = BTreeMap::new();
    for record in records.into_iter().filter(|record| query.counts(record)) {
        let group = groups
            .entry(StatsKey::of(query.group_by, record))
            .or_default();
        group.0 += 1;
        group.1.insert(record.customer_id);
        group.2 += record.counted_bytes();
    }
    let mut stats: Vec<DownloadStat> = groups
        .into_iter()
        .map(|(key, (downloads, customers, bytes))| DownloadStat {
            key,
            downloads,
            customers: customers.len() as u64,
            bytes,
        })
        .collect();
    sort_stats(query.group_by, &mut stats);
    stats
}

/// The order statistics are answered in: days in calendar order; any other group
/// most downloads first, ties by key.
pub fn sort_stats(group_by: StatsGroup, stats: &mut [DownloadStat]) {
    match group_by {
        StatsGroup::Day => stats.sort_by(|a, b| a.key.cmp(&b.key)),
        _ => stats.sort_by(|a, b| {
            b.downloads
                .cmp(&a.downloads)
                .then_with(|| a.key.cmp(&b.key))
        }),
    }
}

/// The key of one statistics group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatsKey {
    /// A product.
    Product(Product),
    /// A product's version.
    Version(Product, Version),
    /// An artifact, with its product, version and platform.
    Artifact {
        /// The artifact.
        artifact_id: ArtifactId,
        /// Its product.
        product: Product,
        /// Its version.
        version: Version,
        /// Its platform.
        platform: crate::artifact::Platform,
    },
    /// A customer.
    Customer(CustomerId),
    /// A UTC day (see [`day_of`]).
    Day(i64),
}

impl StatsKey {
    /// The group of `group_by` that `record` falls in.
    pub fn of(group_by: StatsGroup, record: &DownloadRecord) -> Self {
        let subject = &record.subject;
        match group_by {
            StatsGroup::Product => Self::Product(subject.product.clone()),
            StatsGroup::Version => Self::Version(subject.product.clone(), subject.version.clone()),
            StatsGroup::Artifact => Self::Artifact {
                artifact_id: subject.artifact_id,
                product: subject.product.clone(),
                version: subject.version.clone(),
                platform: subject.platform.clone(),
            },
            StatsGroup::Customer => Self::Customer(record.customer_id),
            StatsGroup::Day => Self::Day(day_of(record.at)),
        }
    }
}

/// The counts of one group: links handed out, distinct customers they went to, and the
/// bytes of the artifacts behind them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadStat {
    /// The group.
    pub key: StatsKey,
    /// Successful downloads (links handed out).
    pub downloads: u64,
    /// Distinct customers among them.
    pub customers: u64,
    /// Their bytes.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_and_count_from_the_epoch() {
        assert_eq!(day_of(Timestamp::from_unix_seconds(0)), 0);
        assert_eq!(day_of(Timestamp::from_unix_seconds(86_399)), 0);
        assert_eq!(day_of(Timestamp::from_unix_seconds(86_400)), 1);
        assert_eq!(day_of(Timestamp::from_unix_seconds(-1)), -1);
        assert_eq!(iso_date(-1), "1969-12-31");
        assert_eq!(iso_date(19_782), "2024-02-29");
        assert_eq!(iso_date(2_932_896), "9999-12-31");
    }

    #[test]
    fn group_by_names_the_five_groupings() {
        for group in StatsGroup::ALL {
            assert_eq!(StatsGroup::parse(group.as_str()), Ok(group));
        }
        assert_eq!(StatsGroup::parse("week").unwrap_err().field, "group_by");
    }

    #[test]
    fn a_reversed_window_is_refused() {
        let reversed = DownloadFilter {
            from: Some(Timestamp::from_unix_seconds(10)),
            to: Some(Timestamp::from_unix_seconds(9)),
            ..DownloadFilter::default()
        };
        assert_eq!(reversed.checked().unwrap_err().field, "from");
        let query = StatsQuery {
            group_by: StatsGroup::Day,
            product: None,
            customer_id: None,
            from: Some(Timestamp::from_unix_seconds(86_400 * 3 + 5)),
            to: Some(Timestamp::from_unix_seconds(86_400 * 4)),
        };
        let query = query.checked().unwrap();
        assert_eq!((query.first_day(), query.last_day()), (Some(3), Some(4)));
    }
}
