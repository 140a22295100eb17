//! How versions are ordered: semver 2.0 precedence, with every version that is not
//! semver after all semver ones.
//!
//! A database cannot compare semver, so the order is also written as a key
//! ([`Version::order_key`]) whose byte order is the version order: stored next to the
//! version, it lets an index answer "the highest version" without reading every
//! release of a product.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::release::Version;

/// Where a semver version's key starts; every other version's key is [`NOT_SEMVER`],
/// which sorts below it.
const SEMVER: char = '1';
/// The key of every version that is not semver: such versions are equal in version
/// order (listings then order them newest first).
pub const NOT_SEMVER: &str = "0";
/// A key below every semver version's and above [`NOT_SEMVER`]: the lowest bound of a
/// read that wants semver versions only.
pub const SEMVER_KEYS_FROM: &str = "1";
/// Follows the numbers of a version without pre-release: above [`PRE_RELEASE`].
const RELEASE: char = '~';
/// Follows the numbers of a pre-release, then its identifiers.
const PRE_RELEASE: char = '-';
/// A numeric pre-release identifier sorts below an alphanumeric one.
const NUMERIC_IDENTIFIER: char = '1';
const ALPHANUMERIC_IDENTIFIER: char = '2';
/// Ends each identifier: below every character an identifier may hold (`-` is the
/// lowest), so "ab" < "ab-c" < "abc" as in ASCII order.
const IDENTIFIER_END: char = ',';

impl Version {
    /// The version as semver 2.0, or `None` when it is not semver (`2026.12`, `v1.2.3`).
    ///
    /// ```
    /// use releasy_domain::release::Version;
    ///
    /// assert_eq!(Version::parse("1.2.3-rc.1").unwrap().semver().unwrap().minor, 2);
    /// assert!(Version::parse("v1.2.3").unwrap().semver().is_none());
    /// ```
    pub fn semver(&self) -> Option<semver::Version> {
        semver::Version::parse(self.as_str()).ok()
    }

    /// Compares two versions by precedence: semver versions by semver 2.0 precedence
    /// (build metadata ignored), every non-semver version below every semver one, and
    /// non-semver versions equal to each other.
    ///
    /// ```
    /// use std::cmp::Ordering;
    /// use releasy_domain::release::Version;
    ///
    /// let v = |s| Version::parse(s).unwrap();
    /// assert_eq!(v("1.10.0").precedence(&v("1.9.0")), Ordering::Greater);
    /// assert_eq!(v("1.0.0-rc.1").precedence(&v("1.0.0")), Ordering::Less);
    /// assert_eq!(v("1.0.0+linux").precedence(&v("1.0.0+mac")), Ordering::Equal);
    /// assert_eq!(v("nightly").precedence(&v("0.0.1")), Ordering::Less);
    /// ```
    pub fn precedence(&self, other: &Version) -> Ordering {
        match (self.semver(), other.semver()) {
            (Some(a), Some(b)) => a.cmp_precedence(&b),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        }
    }

    /// The version's order key: comparing two keys byte by byte gives
    /// [`Self::precedence`].
    ///
    /// ```
    /// use releasy_domain::release::Version;
    ///
    /// let key = |s| Version::parse(s).unwrap().order_key();
    /// assert!(key("1.10.0") > key("1.9.0"));
    /// assert!(key("1.0.0") > key("1.0.0-rc.1"));
    /// assert_eq!(key("1.0.0+a"), key("1.0.0+b"));
    /// ```
    pub fn order_key(&self) -> String {
        match self.semver() {
            Some(semver) => semver_key(&semver),
            None => NOT_SEMVER.to_owned(),
        }
    }
}

/// The order key of a semver version: [`Version::order_key`] for one already parsed.
pub fn semver_order_key(version: &semver::Version) -> String {
    semver_key(version)
}

fn semver_key(version: &semver::Version) -> String {
    let mut key = String::with_capacity(32);
    key.push(SEMVER);
    for number in [version.major, version.minor, version.patch] {
        push_number(&mut key, &number.to_string(), 2);
    }
    if version.pre.is_empty() {
        key.push(RELEASE);
        return key;
    }
    key.push(PRE_RELEASE);
    for identifier in version.pre.as_str().split('.') {
        // semver refuses leading zeros in numeric identifiers, so digits only means a
        // number, and a longer number is a larger one.
        if identifier.bytes().all(|b| b.is_ascii_digit()) {
            key.push(NUMERIC_IDENTIFIER);
            push_number(&mut key, identifier, 3);
        } else {
            key.push(ALPHANUMERIC_IDENTIFIER);
            key.push_str(identifier);
        }
        key.push(IDENTIFIER_END);
    }
    key
}

/// Writes `digits` behind its length, so that a longer number sorts higher.
fn push_number(key: &mut String, digits: &str, length_width: usize) {
    let _ = write!(key, "{:0length_width$}{digits}", digits.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    /// semver.org's precedence example, item 11, plus the edges around it.
    const ASCENDING: &[&str] = &[
        "0.0.1",
        "0.9.0",
        "1.0.0-0",
        "1.0.0-1",
        "1.0.0-2",
        "1.0.0-10",
        "1.0.0-A",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.1.1",
        "1.0.0-alpha.beta",
        "1.0.0-alpha-x",
        "1.0.0-alphaa",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
        "10.0.0",
        "18446744073709551615.0.0",
    ];

    #[test]
    fn keys_and_precedence_follow_semver_order() {
        for pair in ASCENDING.windows(2) {
            let (low, high) = (v(pair[0]), v(pair[1]));
            assert!(
                low.order_key() < high.order_key(),
                "{} < {} by key",
                pair[0],
                pair[1]
            );
            assert_eq!(low.precedence(&high), Ordering::Less, "{pair:?}");
            assert_eq!(high.precedence(&low), Ordering::Greater, "{pair:?}");
        }
    }

    #[test]
    fn build_metadata_does_not_change_the_order() {
        assert_eq!(v("1.0.0+20261203").order_key(), v("1.0.0").order_key());
        assert_eq!(
            v("1.0.0-rc.1+exp.sha.5114f85").order_key(),
            v("1.0.0-rc.1").order_key()
        );
        assert_eq!(v("1.0.0+a").precedence(&v("1.0.0+b")), Ordering::Equal);
    }

    #[test]
    fn non_semver_versions_come_below_every_semver_one_and_tie() {
        for other in ["v1.0.0", "2026.12", "1.0", "1.0.0.0", "01.0.0", "latest"] {
            assert!(v(other).semver().is_none(), "{other} is not semver");
            assert_eq!(v(other).order_key(), NOT_SEMVER);
            assert!(v(other).order_key() < v("0.0.0-0").order_key());
            assert_eq!(v(other).precedence(&v("0.0.0-0")), Ordering::Less);
            assert!(v(other).order_key().as_str() < SEMVER_KEYS_FROM);
        }
        for semver in ASCENDING {
            assert!(
                v(semver).order_key().as_str() > SEMVER_KEYS_FROM,
                "{semver}"
            );
        }
        assert!(v("0.0.0-0").order_key().as_str() > SEMVER_KEYS_FROM);
        assert_eq!(v("latest").precedence(&v("2026.12")), Ordering::Equal);
    }

    #[test]
    fn long_numeric_identifiers_compare_as_numbers() {
        let big = "1.0.0-99999999999999999999999";
        assert_eq!(v(big).semver().unwrap().pre.as_str().len(), 23);
        assert!(v("1.0.0-9").order_key() < v(big).order_key());
        assert!(v(big).order_key() < v("1.0.0-a").order_key());
    }
}
