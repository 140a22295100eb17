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
    /// case), alone or followed by a number or a hyphen (`rc.1`, `rc1`, `beta-2`) ->
    /// that; any other pre-release (`rcx`, `alphabet`, `nightly`) -> dev; a version
    /// that is not semver -> stable.
    ///
    /// ```
    /// use releasy_domain::release::{Channel, Version};
    ///
    /// let of = |v| Channel::of_version(&Version::parse(v).unwrap());
    /// assert_eq!(of("2.0.0"), Channel::Stable);
    /// assert_eq!(of("2.0.0-RC.1"), Channel::Rc);
    /// assert_eq!(of("2.0.0-rc1"), Channel::Rc);
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
            .find(|c| names_channel(first, c.as_str()))
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

/// Whether the pre-release identifier `first` names the channel `name`: it is the name
/// (any case), alone or followed by a digit or a hyphen, not by another letter.
fn names_channel(first: &str, name: &str) -> bool {
    let Some(head) = first.get(..name.len()) else {
        return false;
    };
    head.eq_ignore_ascii_case(name)
        && first[name.len()..]
            .chars()
            .next()
            .is_none_or(|next| next.is_ascii_digit() || next == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pre_release_names_its_channel_with_or_without_a_dot() {
        let of = |v| Channel::of_version(&Version::parse(v).unwrap());
        for (version, channel) in [
            ("2.0.0-rc", Channel::Rc),
            ("2.0.0-rc.1", Channel::Rc),
            ("2.0.0-RC1", Channel::Rc),
            ("2.0.0-rc-2.hotfix", Channel::Rc),
            ("1.4.0-beta2", Channel::Beta),
            ("1.4.0-Beta.3", Channel::Beta),
            ("1.0.0-alpha-3", Channel::Alpha),
            ("1.0.0-alpha0", Channel::Alpha),
            ("1.0.0-rcx", Channel::Dev),
            ("1.0.0-alphabet", Channel::Dev),
            ("1.0.0-betamax.1", Channel::Dev),
            ("1.0.0-r", Channel::Dev),
            ("1.0.0-preview.1", Channel::Dev),
            ("1.0.0-1.rc", Channel::Dev),
        ] {
            assert_eq!(of(version), channel, "{version}");
        }
    }

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
