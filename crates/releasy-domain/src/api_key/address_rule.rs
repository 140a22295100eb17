//! Where a key may be used from: a list of address ranges (`allowed_cidrs`). A key
//! without one is usable from anywhere; the download tokens a key asks for carry its
//! rule with them.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::ValidationError;
use crate::network::{parse_range, ranges_contain};

/// The ranges a key (and its download tokens) may be used from: 1 to
/// [`Self::MAX_RANGES`] CIDR ranges or single addresses, IPv4 or IPv6.
///
/// ```
/// use releasy_domain::api_key::AllowedNetworks;
///
/// let office = AllowedNetworks::parse(&["203.0.113.0/24", "2001:db8::/32"]).unwrap();
/// assert!(office.allows("203.0.113.77".parse().unwrap()));
/// assert!(office.allows("2001:db8::1".parse().unwrap()));
/// assert!(!office.allows("198.51.100.1".parse().unwrap()));
/// // An unknown address is never allowed: the rule fails closed.
/// assert!(!office.allows_client(None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedNetworks(Vec<IpNet>);

impl AllowedNetworks {
    /// The most ranges one key holds: a rule, not a routing table.
    pub const MAX_RANGES: usize = 100;

    /// Reads the ranges a request names (`allowed_cidrs`). Host bits are cleared, so
    /// `10.1.2.3/8` reads back as `10.0.0.0/8`; an IPv4-mapped IPv6 range is the IPv4
    /// range it maps.
    ///
    /// # Errors
    /// [`ValidationError`] on `allowed_cidrs` for an empty list (send `null` to allow
    /// every address), more than [`Self::MAX_RANGES`] entries, or an entry that is
    /// neither a range nor an address.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ValidationError> {
        const FIELD: &str = "allowed_cidrs";
        if entries.is_empty() {
            return Err(ValidationError::new(
                FIELD,
                "must hold at least one range (null allows every address)",
            ));
        }
        if entries.len() > Self::MAX_RANGES {
            return Err(ValidationError::new(
                FIELD,
                format!("must hold at most {} ranges", Self::MAX_RANGES),
            ));
        }
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let range = parse_range(entry).ok_or_else(|| {
                ValidationError::new(
                    FIELD,
                    format!(
                        "`{entry}` is not an IP address or CIDR range (such as 203.0.113.0/24 or 2001:db8::/32)"
                    ),
                )
            })?;
            if !ranges.contains(&range) {
                ranges.push(range);
            }
        }
        Ok(Self(ranges))
    }

    /// Reads the stored form ([`Self::to_stored`]).
    ///
    /// # Errors
    /// [`ValidationError`] when it does not hold a valid list.
    pub fn from_stored(stored: &str) -> Result<Self, ValidationError> {
        Self::parse(&stored.split_whitespace().collect::<Vec<_>>())
    }

    /// The stored form: the ranges separated by spaces.
    pub fn to_stored(&self) -> String {
        self.ranges().collect::<Vec<_>>().join(" ")
    }

    /// The ranges, as they read back (`10.0.0.0/8`, `2001:db8::/32`).
    pub fn ranges(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().map(ToString::to_string)
    }

    /// Whether a request from `address` may use the key.
    pub fn allows(&self, address: IpAddr) -> bool {
        ranges_contain(&self.0, address)
    }

    /// [`Self::allows`] for a client whose address may be unknown (an embedding
    /// service that passes none): an unknown address is refused.
    pub fn allows_client(&self, client: Option<IpAddr>) -> bool {
        client.is_some_and(|address| self.allows(address))
    }
}

/// Whether a request from `client` passes `rule` (no rule: every address does).
pub fn address_allowed(rule: Option<&AllowedNetworks>, client: Option<IpAddr>) -> bool {
    rule.is_none_or(|networks| networks.allows_client(client))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_and_single_addresses_of_both_families() {
        let rule = AllowedNetworks::parse(&[" 10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]).unwrap();
        assert!(rule.allows(ip("10.255.0.1")));
        assert!(rule.allows(ip("192.0.2.7")));
        assert!(!rule.allows(ip("192.0.2.8")));
        assert!(rule.allows(ip("2001:db8:1::5")));
        assert!(!rule.allows(ip("2001:db9::1")));
        // An IPv4 client seen through an IPv6 socket is the IPv4 address.
        assert!(rule.allows(ip("::ffff:10.1.1.1")));
    }

    #[test]
    fn host_bits_are_cleared_and_repeats_dropped() {
        let rule =
            AllowedNetworks::parse(&["10.1.2.3/8", "10.0.0.0/8", "::ffff:192.0.2.0/120"]).unwrap();
        assert_eq!(
            rule.ranges().collect::<Vec<_>>(),
            ["10.0.0.0/8", "192.0.2.0/24"]
        );
    }

    #[test]
    fn the_stored_form_reads_back() {
        let rule = AllowedNetworks::parse(&["10.0.0.0/8", "2001:db8::/32"]).unwrap();
        assert_eq!(rule.to_stored(), "10.0.0.0/8 2001:db8::/32");
        assert_eq!(
            AllowedNetworks::from_stored(&rule.to_stored()).unwrap(),
            rule
        );
        assert!(AllowedNetworks::from_stored("").is_err());
    }

    #[test]
    fn bad_lists_are_refused_on_the_field() {
        for bad in [
            vec![],
            vec!["10.0.0.0/33".to_owned()],
            vec!["example.com".to_owned()],
            vec![String::new()],
            (0..101).map(|i| format!("10.0.0.{i}")).collect(),
        ] {
            let err = AllowedNetworks::parse(&bad).unwrap_err();
            assert_eq!(err.field, "allowed_cidrs", "{bad:?}");
        }
        assert!(
            AllowedNetworks::parse(&(0..100).map(|i| format!("10.0.0.{i}")).collect::<Vec<_>>())
                .is_ok()
        );
    }

    #[test]
    fn no_rule_allows_everyone_and_a_rule_fails_closed() {
        let rule = AllowedNetworks::parse(&["10.0.0.0/8"]).unwrap();
        assert!(address_allowed(None, None));
        assert!(address_allowed(None, Some(ip("198.51.100.1"))));
        assert!(address_allowed(Some(&rule), Some(ip("10.0.0.1"))));
        assert!(!address_allowed(Some(&rule), Some(ip("198.51.100.1"))));
        assert!(!address_allowed(Some(&rule), None));
    }
}
