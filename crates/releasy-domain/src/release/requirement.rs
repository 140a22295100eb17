//! Version requirements (`^1.4`, `>=2.0, <3`): what an upgrade check's `constraint`
//! and an entitlement's `versions` say.

use crate::ValidationError;
use crate::release::Version;

/// A semver requirement, in Cargo's syntax (comma-separated comparators, all of which
/// must hold).
///
/// Pre-releases: Cargo lets `1.5.0-rc.1` satisfy a requirement only when a comparator
/// names a pre-release of 1.5.0, which would hide every release candidate from an
/// updater on the rc channel with `constraint=^1.4`. Here a pre-release satisfies a
/// requirement when Cargo's rule admits it, or when both it and its release do:
/// `^1.4` admits `1.5.0-rc.1` (and `1.5.0`), but `>=2.0, <3` does not admit
/// `3.0.0-beta.1` (3.0.0 is outside), nor `2.0.0-rc.1` (it precedes 2.0.0), while
/// `<2.0.0-rc` admits `2.0.0-beta.1` (it names a pre-release of 2.0.0). A version that
/// is not semver satisfies no requirement.
///
/// ```
/// use releasy_domain::release::{Version, VersionRequirement};
///
/// let req = VersionRequirement::parse("versions", ">=2.0, <3").unwrap();
/// let v = |s| Version::parse(s).unwrap();
/// assert!(req.admits(&v("2.9.1")));
/// assert!(req.admits(&v("2.1.0-beta.1")));
/// assert!(!req.admits(&v("3.0.0-beta.1")));
/// assert!(!req.admits(&v("2026.12")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRequirement {
    text: String,
    requirement: semver::VersionReq,
}

impl VersionRequirement {
    /// The longest accepted requirement, in characters.
    pub const MAX_CHARS: usize = 256;

    /// Parses a requirement; `field` names it in the error (`constraint`, `versions`).
    ///
    /// # Errors
    /// [`ValidationError`] on `field` when the text is empty, too long, or not a
    /// requirement.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        // `*` alone parses to a requirement with no comparators; keep it, it admits
        // every semver version.
        let requirement = semver::VersionReq::parse(text).map_err(|err| {
            ValidationError::new(field, format!("is not a semver requirement: {err}"))
        })?;
        Ok(Self {
            text: text.to_owned(),
            requirement,
        })
    }

    /// The requirement as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `version` satisfies the requirement (see the type's rule for
    /// pre-releases).
    pub fn admits(&self, version: &Version) -> bool {
        version
            .semver()
            .is_some_and(|semver| self.admits_semver(&semver))
    }

    /// [`Self::admits`] for an already parsed version.
    pub fn admits_semver(&self, version: &semver::Version) -> bool {
        if version.pre.is_empty() {
            return self.requirement.matches(version);
        }
        // Cargo's own rule first: a comparator naming a pre-release of these numbers
        // (`<2.0.0-rc`) admits their pre-releases.
        if self.requirement.matches(version) {
            return true;
        }
        let mut release = version.clone();
        release.pre = semver::Prerelease::EMPTY;
        self.requirement.matches(&release) && self.holds_by_precedence(version)
    }

    /// Whether the pre-release `version` is at or above every comparator's lower
    /// bound by precedence. (Upper bounds need no check: its release is below them, and
    /// it precedes its release.)
    fn holds_by_precedence(&self, version: &semver::Version) -> bool {
        self.requirement
            .comparators
            .iter()
            .filter_map(lower_bound)
            .all(|(bound, inclusive)| match version.cmp_precedence(&bound) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => inclusive,
                std::cmp::Ordering::Less => false,
            })
    }
}

/// A version bound by precedence: the version, and whether it is itself within.
pub type PrecedenceBound = (semver::Version, bool);

impl VersionRequirement {
    /// The range by precedence every version the requirement admits lies in: the
    /// highest of its comparators' lower bounds (each at a release taken down to its
    /// lowest pre-release) and the lowest of their upper bounds (`None` where none
    /// bounds that side). Every admitted version is within, not
    /// every version within is admitted (`>=1.0, <2` has `2.0.0-rc.1` within): a
    /// store narrows its read to the range, and [`Self::admits`] decides.
    ///
    /// ```
    /// use releasy_domain::release::VersionRequirement;
    ///
    /// let req = VersionRequirement::parse("constraint", "^1.4").unwrap();
    /// let (lowest, highest) = req.precedence_range();
    /// // From 1.4.0's pre-releases, which another comparator could admit.
    /// assert_eq!(lowest, Some(("1.4.0-0".parse().unwrap(), true)));
    /// assert_eq!(highest, Some(("2.0.0".parse().unwrap(), false)));
    /// ```
    pub fn precedence_range(&self) -> (Option<PrecedenceBound>, Option<PrecedenceBound>) {
        let comparators = &self.requirement.comparators;
        let lowest = comparators
            .iter()
            .filter_map(lower_bound)
            .map(with_its_pre_releases)
            .reduce(|a, b| tighter(a, b, std::cmp::Ordering::Greater));
        let highest = comparators
            .iter()
            .filter_map(upper_bound)
            .reduce(|a, b| tighter(a, b, std::cmp::Ordering::Less));
        (lowest, highest)
    }
}

/// A lower bound at a release (`1.2.0`) moved down to its lowest pre-release
/// (`1.2.0-0`, within): Cargo's rule admits `1.2.0-rc.1` for `^1.2, >=1.2.0-rc.1`
/// (a comparator names a pre-release of 1.2.0, and `^1.2` looks at numbers only), below
/// where `^1.2` starts by precedence.
fn with_its_pre_releases((version, inclusive): PrecedenceBound) -> PrecedenceBound {
    // An exclusive bound at a release (`>1.2.3`) admits none of its pre-releases: they
    // precede it.
    if !version.pre.is_empty() || !inclusive {
        return (version, inclusive);
    }
    match semver::Prerelease::new("0") {
        Ok(pre) => (semver::Version { pre, ..version }, true),
        Err(_) => (version, inclusive), // never: `0` is a pre-release
    }
}

/// Of two bounds on one side, the one that admits less: the version further `inward`
/// (`Greater` for lower bounds, `Less` for upper ones), or at one version the
/// exclusive one.
pub(crate) fn tighter(
    a: PrecedenceBound,
    b: PrecedenceBound,
    inward: std::cmp::Ordering,
) -> PrecedenceBound {
    match a.0.cmp_precedence(&b.0) {
        std::cmp::Ordering::Equal => (a.0, a.1 && b.1),
        order if order == inward => a,
        _ => b,
    }
}

/// The highest version a comparator admits, and whether it admits that version itself;
/// `None` for `>` and `>=`, which have no upper bound, and when the bound would be past
/// the largest major version. A bound on a release (`<2.0.0`) keeps that release's
/// pre-releases within, which Cargo's rule or a comparator naming them may admit.
fn upper_bound(comparator: &semver::Comparator) -> Option<PrecedenceBound> {
    use semver::Op;
    let (major, minor, patch) = (comparator.major, comparator.minor, comparator.patch);
    let release = |major, minor, patch| semver::Version::new(major, minor, patch);
    // Below the start of the next minor (or major, when the minor is the largest).
    let next_minor = |minor: u64| match minor.checked_add(1) {
        Some(next) => Some((release(major, next, 0), false)),
        None => Some((release(major.checked_add(1)?, 0, 0), false)),
    };
    let next_major = || Some((release(major.checked_add(1)?, 0, 0), false));
    let named = |inclusive| {
        let mut version = release(major, minor.unwrap_or(0), patch.unwrap_or(0));
        version.pre = comparator.pre.clone();
        Some((version, inclusive))
    };
    match (comparator.op, minor, patch) {
        (Op::Greater | Op::GreaterEq, _, _) => None,
        // `<1.2.3-rc.1`, `<1.2` (below 1.2.0), `<1` (below 1.0.0).
        (Op::Less, _, _) => named(false),
        (Op::LessEq | Op::Exact, Some(_), Some(_)) => named(true),
        // `<=1.2` and `=1.2` take every 1.2.x; `<=1` and `=1` every 1.x.y.
        (Op::LessEq | Op::Exact | Op::Tilde | Op::Wildcard, Some(minor), _) => next_minor(minor),
        (Op::LessEq | Op::Exact | Op::Tilde | Op::Wildcard, None, _) => next_major(),
        // `^1.2.3` below 2.0.0, `^0.2.3` below 0.3.0, `^0.0.3` below 0.0.4.
        (Op::Caret, _, _) if major > 0 => next_major(),
        (Op::Caret, Some(minor), _) if minor > 0 => next_minor(minor),
        (Op::Caret, Some(_), Some(patch)) => match patch.checked_add(1) {
            Some(next) => Some((release(0, 0, next), false)),
            None => next_minor(0),
        },
        (Op::Caret, Some(_), None) => next_minor(0),
        (Op::Caret, None, _) => next_major(),
        // An operator semver adds later: no bound, so nothing is narrowed wrongly.
        _ => None,
    }
}

/// The lowest version a comparator admits, and whether it admits that version itself;
/// `None` for `<` and `<=`, which have no lower bound.
fn lower_bound(comparator: &semver::Comparator) -> Option<(semver::Version, bool)> {
    use semver::Op;
    let (major, minor, patch) = (comparator.major, comparator.minor, comparator.patch);
    let version = |major, minor, patch, pre: &semver::Prerelease| semver::Version {
        major,
        minor,
        patch,
        pre: pre.clone(),
        build: semver::BuildMetadata::EMPTY,
    };
    let none = semver::Prerelease::EMPTY;
    match comparator.op {
        Op::Less | Op::LessEq => None,
        // `>1.2.3-rc.1` excludes only that version; `>1.2` starts at 1.3.0, `>1` at 2.0.0.
        // Past the largest number the bound is the next major's start (`>1.MAX` starts
        // at 2.0.0); past the largest major no version is admitted at all, so the
        // saturated bound is never compared.
        Op::Greater => Some(match (minor, patch) {
            (Some(minor), Some(patch)) => (version(major, minor, patch, &comparator.pre), false),
            (Some(minor), None) => match minor.checked_add(1) {
                Some(next) => (version(major, next, 0, &none), true),
                None => (version(major.saturating_add(1), 0, 0, &none), true),
            },
            _ => (version(major.saturating_add(1), 0, 0, &none), true),
        }),
        // `=`, `>=`, `~`, `^` and wildcards start at the version they name, zeros filled in.
        _ => Some((
            version(
                major,
                minor.unwrap_or(0),
                patch.unwrap_or(0),
                &comparator.pre,
            ),
            true,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every version a requirement admits, from a ladder of versions around each
    /// bound, lies within its precedence range; and the range is the tight one for
    /// common requirements.
    #[test]
    fn admitted_versions_lie_within_the_precedence_range() {
        let ladder: Vec<semver::Version> = [
            "0.0.0-0",
            "0.0.1",
            "0.0.3",
            "0.0.4-rc.1",
            "0.0.4",
            "0.1.0",
            "0.2.0-alpha",
            "0.2.3",
            "0.2.9",
            "0.3.0-rc.1",
            "0.3.0",
            "1.0.0-alpha",
            "1.0.0",
            "1.1.9",
            "1.2.0-rc.1",
            "1.2.0",
            "1.2.3-beta.2",
            "1.2.3",
            "1.2.4",
            "1.3.0-rc.1",
            "1.3.0",
            "1.4.0-rc.1",
            "1.4.0",
            "1.4.7",
            "1.5.0-rc.1",
            "1.5.1-rc.1",
            "1.9.9",
            "2.0.0-0",
            "2.0.0-beta.1",
            "2.0.0-rc",
            "2.0.0-rc.1",
            "2.0.0",
            "2.1.0",
            "3.0.0-beta.1",
            "3.0.0",
            "10.0.0",
        ]
        .iter()
        .map(|v| semver::Version::parse(v).unwrap())
        .collect();
        let requirements = [
            "^1.4",
            "^1",
            "^0.2.3",
            "^0.0.3",
            "^0.0",
            "^0",
            "~1.2",
            "~1",
            "~1.2.3",
            "=1.2",
            "=1",
            "=1.2.3",
            "=1.5.0-rc.1",
            "<=1.2",
            "<=1",
            "<=1.2.3",
            "<2.0.0",
            "<2",
            "<1.2",
            "<2.0.0-rc",
            ">=1.0, <2.0.0-rc",
            ">=2.0, <3",
            ">1.4",
            ">1.2.3-rc.1",
            ">=1.2",
            "1.*",
            "1.2.*",
            "*",
            ">=0.2, <=1.2.3",
            ">1, <1.5",
            // Cargo's rule admits a pre-release of numbers another comparator names
            // with a pre-release, below where a comparator without one starts.
            ">1, <2.0.0-rc",
            "^1.2, >=1.2.0-rc.1",
            "~1.2, <=1.2.0-rc.1",
        ];
        for text in requirements {
            let req = VersionRequirement::parse("constraint", text).unwrap();
            let (lowest, highest) = req.precedence_range();
            for version in &ladder {
                if !req.admits_semver(version) {
                    continue;
                }
                if let Some((low, inclusive)) = &lowest {
                    let order = version.cmp_precedence(low);
                    assert!(
                        order.is_gt() || (order.is_eq() && *inclusive),
                        "{text} admits {version} below {low} ({inclusive})"
                    );
                }
                if let Some((high, inclusive)) = &highest {
                    let order = version.cmp_precedence(high);
                    assert!(
                        order.is_lt() || (order.is_eq() && *inclusive),
                        "{text} admits {version} above {high} ({inclusive})"
                    );
                }
            }
        }
        let range = |text: &str| {
            let (low, high) = VersionRequirement::parse("constraint", text)
                .unwrap()
                .precedence_range();
            let show = |b: Option<PrecedenceBound>| {
                b.map(|(v, i)| format!("{v}{}", if i { "=" } else { "" }))
            };
            (show(low), show(high))
        };
        let some = |a: &str, b: &str| (Some(a.to_owned()), Some(b.to_owned()));
        assert_eq!(range("^1.4"), some("1.4.0-0=", "2.0.0"));
        assert_eq!(range("^0.2.3"), some("0.2.3-0=", "0.3.0"));
        assert_eq!(range("^0.0.3"), some("0.0.3-0=", "0.0.4"));
        assert_eq!(range("~1.2"), some("1.2.0-0=", "1.3.0"));
        assert_eq!(range("=1.2.3"), some("1.2.3-0=", "1.2.3="));
        assert_eq!(range(">=2.0, <3"), some("2.0.0-0=", "3.0.0"));
        assert_eq!(range(">=1.0, <2.0.0-rc"), some("1.0.0-0=", "2.0.0-rc"));
        assert_eq!(range(">1.4, <=1.9.9, <3"), some("1.5.0-0=", "1.9.9="));
        assert_eq!(range(">1, <2.0.0-rc"), some("2.0.0-0=", "2.0.0-rc"));
        assert_eq!(range("<2"), (None, Some("2.0.0".to_owned())));
        assert_eq!(range(">1.2.3-rc.1"), (Some("1.2.3-rc.1".to_owned()), None));
        assert_eq!(
            range(">1.2.3"),
            (Some("1.2.3".to_owned()), None),
            "an exclusive bound at a release keeps its pre-releases out"
        );
        assert_eq!(range("*"), (None, None));
        // Past the largest numbers: the next major, or no bound at all.
        let max = u64::MAX;
        assert_eq!(
            range(&format!("~1.{max}")),
            some(&format!("1.{max}.0-0="), "2.0.0")
        );
        assert_eq!(range(&format!("^{max}")).1, None);
    }

    fn admits(req: &str, version: &str) -> bool {
        VersionRequirement::parse("constraint", req)
            .unwrap()
            .admits(&Version::parse(version).unwrap())
    }

    #[test]
    fn releases_follow_cargo_requirements() {
        assert!(admits("^1.4", "1.4.0"));
        assert!(admits("^1.4", "1.9.3"));
        assert!(!admits("^1.4", "1.3.9"));
        assert!(!admits("^1.4", "2.0.0"));
        assert!(admits(">=1.0, <3.0", "2.5.0"));
        assert!(!admits(">=1.0, <3.0", "3.0.0"));
        assert!(admits("~2.1", "2.1.7"));
        assert!(!admits("~2.1", "2.2.0"));
        assert!(
            admits("=1.2.3", "1.2.3+build.7"),
            "build metadata is ignored"
        );
        assert!(admits("*", "7.0.0"));
        assert!(admits("1.x", "1.8.0"));
    }

    #[test]
    fn a_pre_release_is_admitted_when_it_and_its_release_are() {
        assert!(admits("^1.4", "1.5.0-rc.1"));
        assert!(!admits("^1.4", "1.4.0-rc.1"), "precedes 1.4.0");
        assert!(admits(">=2.0, <3", "2.1.0-beta.1"));
        assert!(!admits(">=2.0, <3", "3.0.0-beta.1"), "3.0.0 is outside");
        assert!(!admits("<3.0.0", "3.0.0-beta.1"), "3.0.0 is outside");
        assert!(!admits(">=2.0.0", "2.0.0-rc.1"), "precedes 2.0.0");
        assert!(admits(">=2.0.0-rc.1", "2.0.0-rc.2"));
        assert!(!admits(">=2.0.0-rc.2", "2.0.0-rc.1"));
        assert!(!admits("=1.5.0", "1.5.0-rc.1"));
        assert!(admits("=1.4", "1.4.1-rc.1"));
        assert!(!admits("~1.4", "1.4.0-beta"));
        assert!(admits("~1.4", "1.4.2-beta"));
        assert!(!admits(">1.4", "1.5.0-rc.1"), "1.5.0 is not above 1.4.x");
        assert!(admits(">1.4", "1.5.1-rc.1"));
        assert!(admits(">1.4.0-rc.1", "1.4.0-rc.2"));
        assert!(!admits(">1.4.0-rc.1", "1.4.0-rc.1"));
        // A comparator naming a pre-release admits those of the same numbers.
        assert!(admits(">=1.0, <2.0.0-rc", "2.0.0-beta.1"));
        assert!(!admits(">=1.0, <2.0.0-rc", "2.0.0-rc.1"));
        assert!(!admits("<2.0.0-rc", "2.0.0"));
        // The largest minor: the bound is the next major's start, not a wrapped one.
        assert!(!admits(">1.18446744073709551615", "2.0.0-rc.1"));
        assert!(admits(">1.18446744073709551615", "2.0.0"));
        assert!(admits(">1.18446744073709551615", "2.0.1-rc.1"));
    }

    #[test]
    fn versions_that_are_not_semver_satisfy_nothing() {
        assert!(!admits("*", "2026.12"));
        assert!(!admits(">=0", "nightly"));
    }

    #[test]
    fn bad_requirements_name_their_field() {
        for bad in ["", "  ", ">>1", "^1.x.y", "1.0 || 2.0"] {
            let err = VersionRequirement::parse("versions", bad).unwrap_err();
            assert_eq!(err.field, "versions", "{bad:?}");
        }
        let long = format!(">={}", "1".repeat(300));
        assert!(VersionRequirement::parse("constraint", &long).is_err());
        assert_eq!(
            VersionRequirement::parse("constraint", " ^1.4 ")
                .unwrap()
                .as_str(),
            "^1.4"
        );
    }
}
