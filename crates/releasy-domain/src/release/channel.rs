//! Release channels and their order of stability.

use crate::ValidationError;
use crate::release::Version;

/// How stable a release is. Ordered from least to most stable, so `Stable` is the
/// greatest: a caller following a channel sees it and every channel above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// Nightlies and other builds with an unrecognised pre-release tag.
    Dev,
    /// Alpha pre-releases.
    Alpha,
    /// Beta pre-releases.
    Beta,
    /// Release candidates.
    Rc,
    /// Releases.
    Stable,
}

impl Channel {
    /// Every channel, most stable first.
    pub const ALL: [Channel; 5] = [
        Channel::Stable,
        Channel::Rc,
        Channel::Beta,
        Channel::Alpha,
        Channel::Dev,
    ];

    /// The contract's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::Rc => "rc",
            Channel::Beta => "beta",
            Channel::Alpha => "alpha",
            Channel::Dev => "dev",
        }
    }

    /// The channel with this name.
    ///
    /// # Errors
    /// [`ValidationError`] on `channel` for an unknown name.
    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                ValidationError::new(
                    "channel",
                    format!("must be one of stable, rc, beta, alpha, dev (got `{name}`)"),
                )
            })
    }

    /// The channel a release of `version` is on when none was set: no pre-release ->
    /// stable; a pre-release whose first identifier is `rc`, `beta` or `alpha` (any
    /// case) -> that; any other pre-release -> dev; a version that is not semver ->
    /// stable.
    ///
    /// ```
    /// use releasy_domain::release::{Channel, Version};
    ///
    /// let of = |v| Channel::of_version(&Version::parse(v).unwrap());
    /// assert_eq!(of("2.0.0"), Channel::Stable);
    /// assert_eq!(of("2.0.0-RC.1"), Channel::Rc);
    /// assert_eq!(of("2.0.0-nightly.20261203"), Channel::Dev);
    /// assert_eq!(of("2026.12"), Channel::Stable);
    /// ```
    pub fn of_version(version: &Version) -> Channel {
        let Some(semver) = version.semver() else {
            return Channel::Stable;
        };
        if semver.pre.is_empty() {
            return Channel::Stable;
        }
        let first = semver.pre.as_str().split('.').next().unwrap_or_default();
        [Channel::Rc, Channel::Beta, Channel::Alpha]
            .into_iter()
            .find(|c| first.eq_ignore_ascii_case(c.as_str()))
            .unwrap_or(Channel::Dev)
    }

    /// Whether a caller following `self` sees releases on `release`: its own channel
    /// and every more stable one (stable > rc > beta > alpha > dev).
    pub fn admits(self, release: Channel) -> bool {
        release >= self
    }

    /// The channels a caller following `self` sees, most stable first.
    pub fn admitted(self) -> impl Iterator<Item = Channel> {
        Channel::ALL.into_iter().filter(move |c| self.admits(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()).unwrap(), c);
        }
        let err = Channel::parse("nightly").unwrap_err();
        assert_eq!(err.field, "channel");
        assert!(Channel::parse("Stable").is_err(), "names are lower-case");
    }

    #[test]
    fn each_channel_admits_itself_and_the_more_stable_ones() {
        let names = |c: Channel| c.admitted().map(Channel::as_str).collect::<Vec<_>>();
        assert_eq!(names(Channel::Stable), ["stable"]);
        assert_eq!(names(Channel::Rc), ["stable", "rc"]);
        assert_eq!(names(Channel::Beta), ["stable", "rc", "beta"]);
        assert_eq!(names(Channel::Alpha), ["stable", "rc", "beta", "alpha"]);
        assert_eq!(
            names(Channel::Dev),
            ["stable", "rc", "beta", "alpha", "dev"]
        );
        assert!(!Channel::Stable.admits(Channel::Rc));
    }
}
