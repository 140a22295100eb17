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
