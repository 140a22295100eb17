//! The access rule: whether a customer's entitlements let it have one release, and
//! why. Entitlements may narrow what they grant to some channels and a version range,
//! and may keep granting, after they end, the releases published before their end
//! (perpetual fallback, the common licence model).
//!
//! Customer listings, `latest`, `upgrade`, token issue and resolve apply it through
//! [`crate::entitlement::CustomerAccess`]; the operators' explain endpoint shows its
//! reasons.

use std::fmt;

use crate::entitlement::{EntitlementScope, EntitlementWindow};
use crate::release::{Channel, Release, Version};
use crate::{EntitlementId, Timestamp};

/// One of the customer's entitlements to the release's product, as the rule reads it.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// Its id, named in the reasons.
    pub id: EntitlementId,
    /// When it applies.
    pub window: EntitlementWindow,
    /// What it grants.
    pub scope: &'a EntitlementScope,
}

/// The release asked about.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseFacts<'a> {
    /// Its version.
    pub version: &'a Version,
    /// Its channel.
    pub channel: Channel,
    /// When it was first published (`None` for a release never published): the
    /// perpetual fallback covers a release first published before the entitlement
    /// ended, even if it was unpublished and published again since.
    pub published_at: Option<Timestamp>,
}

impl<'a> From<&'a Release> for ReleaseFacts<'a> {
    fn from(release: &'a Release) -> Self {
        Self {
            version: &release.version,
            channel: release.channel,
            published_at: release.first_published_at.or(release.published_at),
        }
    }
}

/// Why one entitlement allowed or refused the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessReason {
    /// The customer has no entitlement to the product.
    NoEntitlement,
    /// The entitlement has not started.
    NotStarted {
        /// Which entitlement.
        entitlement: EntitlementId,
        /// When it starts.
        starts_at: Timestamp,
    },
    /// The entitlement ended, without a fallback that covers the release.
    Ended {
        /// Which entitlement.
        entitlement: EntitlementId,
        /// When it ended.
        ends_at: Timestamp,
    },
    /// The entitlement ended, and its perpetual fallback covers the release: it was
    /// published before the end.
    FallbackCovers {
        /// Which entitlement.
        entitlement: EntitlementId,
        /// When it ended.
        ends_at: Timestamp,
    },
    /// The release's channel is not granted.
    ChannelNotGranted {
        /// Which entitlement.
        entitlement: EntitlementId,
        /// The release's channel.
        channel: Channel,
    },
    /// The release's version is outside the granted range.
    VersionNotGranted {
        /// Which entitlement.
        entitlement: EntitlementId,
        /// The granted requirement.
        versions: String,
    },
    /// The entitlement allows the release.
    Allowed {
        /// Which entitlement.
        entitlement: EntitlementId,
    },
    /// The customer is suspended: none of its keys work, whatever it is entitled to.
    CustomerSuspended,
    /// The release is a draft: no customer sees it.
    ReleaseNotPublished,
    /// The release is yanked with its downloads refused: no link is handed out for
    /// it, whatever the entitlements say.
    ReleaseYanked,
}

impl AccessReason {
    /// A stable, machine-readable name for the reason.
    pub const fn code(&self) -> &'static str {
        match self {
            AccessReason::NoEntitlement => "no_entitlement",
            AccessReason::NotStarted { .. } => "not_started",
            AccessReason::Ended { .. } => "ended",
            AccessReason::FallbackCovers { .. } => "fallback_covers",
            AccessReason::ChannelNotGranted { .. } => "channel_not_granted",
            AccessReason::VersionNotGranted { .. } => "version_not_granted",
            AccessReason::Allowed { .. } => "allowed",
            AccessReason::CustomerSuspended => "customer_suspended",
            AccessReason::ReleaseNotPublished => "release_not_published",
            AccessReason::ReleaseYanked => "release_yanked",
        }
    }

    /// The entitlement the reason is about, if it is about one.
    pub const fn entitlement(&self) -> Option<EntitlementId> {
        match self {
            AccessReason::NotStarted { entitlement, .. }
            | AccessReason::Ended { entitlement, .. }
            | AccessReason::FallbackCovers { entitlement, .. }
            | AccessReason::ChannelNotGranted { entitlement, .. }
            | AccessReason::VersionNotGranted { entitlement, .. }
            | AccessReason::Allowed { entitlement } => Some(*entitlement),
            AccessReason::NoEntitlement
            | AccessReason::CustomerSuspended
            | AccessReason::ReleaseNotPublished
            | AccessReason::ReleaseYanked => None,
        }
    }

    /// Whether this reason allows the release.
    pub const fn allows(&self) -> bool {
        matches!(
            self,
            AccessReason::Allowed { .. } | AccessReason::FallbackCovers { .. }
        )
    }
}

impl fmt::Display for AccessReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessReason::NoEntitlement => f.write_str("no entitlement to the product"),
            AccessReason::NotStarted {
                entitlement,
                starts_at,
            } => write!(
                f,
                "entitlement {entitlement} starts at {}",
                starts_at.unix_seconds()
            ),
            AccessReason::Ended {
                entitlement,
                ends_at,
            } => write!(
                f,
                "entitlement {entitlement} ended at {}",
                ends_at.unix_seconds()
            ),
            AccessReason::FallbackCovers {
                entitlement,
                ends_at,
            } => write!(
                f,
                "entitlement {entitlement} ended at {}, and its perpetual fallback covers releases published before then",
                ends_at.unix_seconds()
            ),
            AccessReason::ChannelNotGranted {
                entitlement,
                channel,
            } => write!(
                f,
                "entitlement {entitlement} does not grant the {} channel",
                channel.as_str()
            ),
            AccessReason::VersionNotGranted {
                entitlement,
                versions,
            } => write!(
                f,
                "entitlement {entitlement} grants only versions {versions}"
            ),
            AccessReason::Allowed { entitlement } => {
                write!(f, "entitlement {entitlement} allows it")
            }
            AccessReason::CustomerSuspended => f.write_str("the customer is suspended"),
            AccessReason::ReleaseNotPublished => f.write_str("the release is not published"),
            AccessReason::ReleaseYanked => {
                f.write_str("the release is yanked with its downloads refused")
            }
        }
    }
}

/// The answer, with a reason per entitlement considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDecision {
    /// Whether any entitlement allows the release.
    pub allowed: bool,
    /// Why, entitlement by entitlement (one [`AccessReason::NoEntitlement`] when there
    /// is none).
    pub reasons: Vec<AccessReason>,
}

/// Decides whether `grants` (the customer's entitlements to the release's product)
/// allow `release` at `now`. An entitlement allows it when, in this order:
///
/// 1. its window is active at `now`, or it has ended and has the perpetual fallback
///    and the release was published before its end;
/// 2. its channels include the release's (or it names none);
/// 3. its version requirement admits the release's version (or it has none).
///
/// The release is allowed when one entitlement allows it. Each entitlement gets one
/// reason: the first rule it fails, or [`AccessReason::Allowed`] /
/// [`AccessReason::FallbackCovers`].
///
/// ```
/// use releasy_domain::entitlement::{EntitlementScope, EntitlementWindow, Grant, ReleaseFacts, decide};
/// use releasy_domain::release::{Channel, Version, VersionRequirement};
/// use releasy_domain::{EntitlementId, Timestamp};
///
/// let at = Timestamp::from_unix_seconds;
/// let v2 = EntitlementScope {
///     versions: Some(VersionRequirement::parse("versions", "^2").unwrap()),
///     ..EntitlementScope::default()
/// };
/// let grant = Grant { id: EntitlementId::generate(), window: EntitlementWindow::new(at(0), None).unwrap(), scope: &v2 };
/// let release = |v| (Version::parse(v).unwrap(), Channel::Stable);
/// let (v, c) = release("2.4.0");
/// assert!(decide(&[grant], ReleaseFacts { version: &v, channel: c, published_at: Some(at(5)) }, at(10)).allowed);
/// let (v, c) = release("3.0.0");
/// assert!(!decide(&[grant], ReleaseFacts { version: &v, channel: c, published_at: Some(at(5)) }, at(10)).allowed);
/// ```
pub fn decide(grants: &[Grant<'_>], release: ReleaseFacts<'_>, now: Timestamp) -> AccessDecision {
    if grants.is_empty() {
        return AccessDecision {
            allowed: false,
            reasons: vec![AccessReason::NoEntitlement],
        };
    }
    let reasons: Vec<AccessReason> = grants.iter().map(|g| judge(g, release, now)).collect();
    AccessDecision {
        allowed: reasons.iter().any(AccessReason::allows),
        reasons,
    }
}

/// The rule for one entitlement: the first rule it fails, or why it allows.
pub(super) fn judge(grant: &Grant<'_>, release: ReleaseFacts<'_>, now: Timestamp) -> AccessReason {
    let entitlement = grant.id;
    let (starts_at, ends_at) = (grant.window.starts_at(), grant.window.ends_at());
    if now < starts_at {
        return AccessReason::NotStarted {
            entitlement,
            starts_at,
        };
    }
    let fallback_end = match ends_at {
        Some(end) if end <= now => {
            let covered = grant.scope.perpetual_fallback
                && release
                    .published_at
                    .is_some_and(|published| published < end);
            if !covered {
                return AccessReason::Ended {
                    entitlement,
                    ends_at: end,
                };
            }
            Some(end)
        }
        _ => None,
    };
    if grant
        .scope
        .channels
        .as_ref()
        .is_some_and(|channels| !channels.contains(&release.channel))
    {
        return AccessReason::ChannelNotGranted {
            entitlement,
            channel: release.channel,
        };
    }
    if let Some(versions) = &grant.scope.versions
        && !versions.admits(release.version)
    {
        return AccessReason::VersionNotGranted {
            entitlement,
            versions: versions.as_str().to_owned(),
        };
    }
    match fallback_end {
        Some(ends_at) => AccessReason::FallbackCovers {
            entitlement,
            ends_at,
        },
        None => AccessReason::Allowed { entitlement },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    fn window(start: i64, end: Option<i64>) -> EntitlementWindow {
        EntitlementWindow::new(at(start), end.map(at)).unwrap()
    }

    use crate::release::VersionRequirement;

    fn scope(
        channels: Option<&[Channel]>,
        versions: Option<&str>,
        fallback: bool,
    ) -> EntitlementScope {
        EntitlementScope {
            channels: channels.map(<[Channel]>::to_vec),
            versions: versions.map(|v| VersionRequirement::parse("versions", v).unwrap()),
            perpetual_fallback: fallback,
        }
    }

    fn decide_on(
        grants: &[(EntitlementWindow, &EntitlementScope)],
        version: &str,
        channel: Channel,
        published_at: i64,
        now: i64,
    ) -> AccessDecision {
        let grants: Vec<Grant<'_>> = grants
            .iter()
            .map(|(window, scope)| Grant {
                id: EntitlementId::generate(),
                window: *window,
                scope,
            })
            .collect();
        let version = Version::parse(version).unwrap();
        decide(
            &grants,
            ReleaseFacts {
                version: &version,
                channel,
                published_at: Some(at(published_at)),
            },
            at(now),
        )
    }

    #[test]
    fn no_entitlement_refuses_and_says_so() {
        let d = decide_on(&[], "1.0.0", Channel::Stable, 0, 10);
        assert!(!d.allowed);
        assert_eq!(d.reasons, [AccessReason::NoEntitlement]);
        assert_eq!(d.reasons[0].to_string(), "no entitlement to the product");
    }

    #[test]
    fn the_window_decides_without_a_fallback() {
        let all = EntitlementScope::default();
        assert!(decide_on(&[(window(0, None), &all)], "1.0.0", Channel::Stable, 5, 10).allowed);
        let early = decide_on(&[(window(20, None), &all)], "1.0.0", Channel::Stable, 5, 10);
        assert!(matches!(early.reasons[0], AccessReason::NotStarted { .. }));
        let ended = decide_on(
            &[(window(0, Some(10)), &all)],
            "1.0.0",
            Channel::Stable,
            5,
            10,
        );
        assert!(!ended.allowed);
        assert!(matches!(ended.reasons[0], AccessReason::Ended { .. }));
    }

    #[test]
    fn the_fallback_keeps_what_was_published_before_the_end() {
        let fallback = scope(None, None, true);
        let w = window(0, Some(100));
        let before = decide_on(&[(w, &fallback)], "1.0.0", Channel::Stable, 99, 500);
        assert!(before.allowed);
        assert!(matches!(
            before.reasons[0],
            AccessReason::FallbackCovers { .. }
        ));
        assert!(before.reasons[0].to_string().contains("perpetual fallback"));
        let at_the_end = decide_on(&[(w, &fallback)], "1.1.0", Channel::Stable, 100, 500);
        assert!(!at_the_end.allowed, "published at the end is after it");
        // While it runs, the fallback changes nothing.
        assert!(decide_on(&[(w, &fallback)], "1.1.0", Channel::Stable, 50, 60).allowed);
        // A fallback still obeys the channel and version rules.
        let narrow = scope(Some(&[Channel::Stable]), Some("<2"), true);
        assert!(!decide_on(&[(w, &narrow)], "2.0.0", Channel::Stable, 50, 500).allowed);
    }

    #[test]
    fn channels_and_versions_narrow_an_active_entitlement() {
        let stable_v2 = scope(
            Some(&[Channel::Stable, Channel::Rc]),
            Some(">=2.0, <3"),
            false,
        );
        let w = window(0, None);
        assert!(decide_on(&[(w, &stable_v2)], "2.5.0", Channel::Stable, 1, 10).allowed);
        assert!(decide_on(&[(w, &stable_v2)], "2.6.0-rc.1", Channel::Rc, 1, 10).allowed);
        let beta = decide_on(&[(w, &stable_v2)], "2.6.0-beta.1", Channel::Beta, 1, 10);
        assert!(!beta.allowed);
        assert!(
            beta.reasons[0]
                .to_string()
                .ends_with("does not grant the beta channel")
        );
        let v3 = decide_on(&[(w, &stable_v2)], "3.0.0", Channel::Stable, 1, 10);
        assert!(!v3.allowed);
        assert!(
            v3.reasons[0]
                .to_string()
                .ends_with("grants only versions >=2.0, <3")
        );
    }

    #[test]
    fn one_allowing_entitlement_is_enough_and_each_gets_its_reason() {
        let v1 = scope(None, Some("^1"), false);
        let all = EntitlementScope::default();
        let d = decide_on(
            &[(window(0, None), &v1), (window(0, Some(5)), &all)],
            "2.0.0",
            Channel::Stable,
            1,
            10,
        );
        assert!(!d.allowed);
        assert_eq!(d.reasons.len(), 2);
        let d = decide_on(
            &[(window(0, None), &v1), (window(0, None), &all)],
            "2.0.0",
            Channel::Stable,
            1,
            10,
        );
        assert!(d.allowed);
        assert!(matches!(d.reasons[1], AccessReason::Allowed { .. }));
    }
}
