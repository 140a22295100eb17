//! What an entitlement grants within its product: some channels, a version range, and
//! whether what was published before its end stays available after it.

use crate::ValidationError;
use crate::release::{Channel, VersionRequirement};

/// What an entitlement grants within its product: channels (`None`: all), a version
/// requirement (`None`: any version), and whether releases published before it ended
/// stay available afterwards. The default grants everything while the window runs,
/// as every entitlement did before scopes existed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntitlementScope {
    /// The channels granted, most stable first, each once; `None` grants every channel.
    pub channels: Option<Vec<Channel>>,
    /// The versions granted; `None` grants every version.
    pub versions: Option<VersionRequirement>,
    /// Whether releases published before `ends_at` stay available after it.
    pub perpetual_fallback: bool,
}

impl EntitlementScope {
    /// Whether, while its window runs, it grants the whole product: every channel and
    /// every version.
    pub fn grants_whole_product(&self) -> bool {
        self.channels.is_none() && self.versions.is_none()
    }

    /// Reads a list of channel names: each must be a channel, at least one must be
    /// named (`null` is how every channel is granted), and the result is most stable
    /// first with each channel once, so equal grants are stored alike.
    ///
    /// ```
    /// use releasy_domain::entitlement::EntitlementScope;
    /// use releasy_domain::release::Channel;
    ///
    /// let channels = EntitlementScope::parse_channels(["beta", "stable", "beta"]).unwrap();
    /// assert_eq!(channels, [Channel::Stable, Channel::Beta]);
    /// assert_eq!(EntitlementScope::parse_channels(["nightly"]).unwrap_err().field, "channels");
    /// assert!(EntitlementScope::parse_channels(Vec::<&str>::new()).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ValidationError`] on `channels` for an unknown name or an empty list.
    pub fn parse_channels<S: AsRef<str>>(
        names: impl IntoIterator<Item = S>,
    ) -> Result<Vec<Channel>, ValidationError> {
        let mut channels = names
            .into_iter()
            .map(|name| {
                let name = name.as_ref();
                Channel::parse(name).map_err(|_| {
                    ValidationError::new(
                        "channels",
                        format!("must each be one of stable, rc, beta, alpha, dev (got `{name}`)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if channels.is_empty() {
            return Err(ValidationError::new(
                "channels",
                "must name at least one channel (null grants every channel)",
            ));
        }
        channels.sort_unstable_by(|a, b| b.cmp(a));
        channels.dedup();
        Ok(channels)
    }

    /// The channels as stored and shown: their names, comma-separated, most stable
    /// first (`None` when every channel is granted).
    pub fn channels_text(&self) -> Option<String> {
        self.channels.as_ref().map(|channels| {
            channels
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_read_sorted_and_once() {
        let channels = EntitlementScope::parse_channels(["dev", "rc", "stable", "rc"]).unwrap();
        assert_eq!(channels, [Channel::Stable, Channel::Rc, Channel::Dev]);
        let scope = EntitlementScope {
            channels: Some(channels),
            ..EntitlementScope::default()
        };
        assert_eq!(scope.channels_text().as_deref(), Some("stable,rc,dev"));
        assert!(!scope.grants_whole_product());
    }

    #[test]
    fn unknown_or_no_channels_are_refused_on_the_field() {
        let unknown = EntitlementScope::parse_channels(["stable", "lts"]).unwrap_err();
        assert_eq!(unknown.field, "channels");
        let none = EntitlementScope::parse_channels(Vec::<String>::new()).unwrap_err();
        assert!(none.reason.contains("at least one"));
    }

    #[test]
    fn the_default_grants_the_whole_product() {
        let all = EntitlementScope::default();
        assert!(all.grants_whole_product());
        assert_eq!(all.channels_text(), None);
        let fallback_only = EntitlementScope {
            perpetual_fallback: true,
            ..EntitlementScope::default()
        };
        assert!(
            fallback_only.grants_whole_product(),
            "a fallback narrows nothing while the window runs"
        );
    }
}
