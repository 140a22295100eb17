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
    /// that; any other pre-release (`rcx`, `alphabet`, `nightly`) -> dev.
    ///
    /// A version that is semver but for a leading `v` (`v2.0.0-rc.1`) follows the same
    /// rule. Any other version that is not semver is stable unless one of its
    /// hyphen-separated parts names a channel as above, or so names a word builds that
    /// are no release go by (`dev`, `nightly`, `snapshot`, `preview`, `pre`, `canary`:
    /// alone or followed by a number or a dot) -> dev:
    /// a pre-release must not reach stable updaters for want of strict semver, while a
    /// date (`2026-12-01`) stays a release.
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
    /// assert_eq!(of("v2.0.0-rc.1"), Channel::Rc);
    /// assert_eq!(of("2.0-beta"), Channel::Beta);
    /// assert_eq!(of("2026-12-01"), Channel::Stable);
    /// ```
    pub fn of_version(version: &Version) -> Channel {
        match version.semver() {
            Some(semver) => Channel::of_pre_release(semver.pre.as_str()),
            None => Channel::of_loose_version(version.as_str()),
        }
    }

    /// The channel of a semver pre-release (empty: none).
    fn of_pre_release(pre: &str) -> Channel {
        if pre.is_empty() {
            return Channel::Stable;
        }
        let first = pre.split('.').next().unwrap_or_default();
        Channel::named_by(first).unwrap_or(Channel::Dev)
    }

    /// The channel of a version that is not semver ([`Channel::of_version`]).
    fn of_loose_version(text: &str) -> Channel {
        if let Some(semver) = text
            .strip_prefix(['v', 'V'])
            .and_then(|rest| semver::Version::parse(rest).ok())
        {
            return Channel::of_pre_release(semver.pre.as_str());
        }
        let without_build = text.split('+').next().unwrap_or_default();
        without_build
            .split('-')
            .find_map(|part| {
                let first = part.split('.').next().unwrap_or_default();
                Channel::named_by(first).or_else(|| {
                    BUILD_WORDS
                        .iter()
                        .any(|word| names_channel(first, word))
                        .then_some(Channel::Dev)
                })
            })
            .unwrap_or(Channel::Stable)
    }

    /// The pre-release channel the identifier `first` names (`rc`, `beta`, `alpha`).
    fn named_by(first: &str) -> Option<Channel> {
        [Channel::Rc, Channel::Beta, Channel::Alpha]
            .into_iter()
            .find(|c| names_channel(first, c.as_str()))
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

/// Words that name builds which are no release, in versions that are not semver.
const BUILD_WORDS: [&str; 6] = ["dev", "nightly", "snapshot", "preview", "pre", "canary"];

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
    fn a_version_short_of_semver_is_a_pre_release_when_its_words_say_so() {
        let of = |v| Channel::of_version(&Version::parse(v).unwrap());
        for (version, channel) in [
            ("v2.0.0-rc.1", Channel::Rc),
            ("V1.4.0-beta2", Channel::Beta),
            ("v2.0.0", Channel::Stable),
            ("v2.0.0-preview.1", Channel::Dev),
            ("2.0.0-rc.01", Channel::Rc),
            ("2.0-beta", Channel::Beta),
            ("2026.12-RC2", Channel::Rc),
            ("7-alpha-1", Channel::Alpha),
            ("2.0-nightly.20261203", Channel::Dev),
            ("2.0-SNAPSHOT", Channel::Dev),
            ("2.0-pre3", Channel::Dev),
            ("2.0-canary", Channel::Dev),
            ("2026.12", Channel::Stable),
            ("2026-12-01", Channel::Stable),
            ("2.0-hotfix", Channel::Stable),
            ("2.0-presto", Channel::Stable),
            ("2.0+rc.1", Channel::Stable),
            ("rc-1", Channel::Rc),
            ("nightly-20261203", Channel::Dev),
            ("nightly", Channel::Dev),
            ("2.0rc1", Channel::Stable),
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
