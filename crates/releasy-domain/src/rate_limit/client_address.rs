//! Who a request comes from: the peer, or the client a trusted proxy names.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

use crate::network::{parse_range, ranges_contain};

/// The proxies whose `X-Forwarded-For` is believed (`RELEASY_TRUSTED_PROXIES`): CIDR
/// ranges or single addresses. Empty by default, so a client cannot pick its own
/// address by sending the header.
///
/// ```
/// use releasy_domain::rate_limit::TrustedProxies;
///
/// let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7").unwrap();
/// let balancer = "10.0.0.2".parse().unwrap();
/// // The proxy appended the address it saw: the client.
/// let client = proxies.client_address(balancer, ["203.0.113.9"]);
/// assert_eq!(client.to_string(), "203.0.113.9");
/// // A client that is no trusted proxy speaks for itself, whatever it sends.
/// let direct = "198.51.100.4".parse().unwrap();
/// assert_eq!(proxies.client_address(direct, ["203.0.113.9"]), direct);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// An entry of the list is neither a CIDR range nor an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or CIDR range (such as 10.0.0.0/8 or fd00::/8)")]
pub struct ProxyListError(String);

impl TrustedProxies {
    /// Trusts no proxy: the peer is always the client.
    pub const fn none() -> Self {
        Self(Vec::new())
    }

    /// Reads a list separated by commas or whitespace; an empty list trusts no proxy.
    ///
    /// # Errors
    /// [`ProxyListError`] naming the first entry that is neither a range nor an address.
    pub fn parse(list: &str) -> Result<Self, ProxyListError> {
        list.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(|entry| parse_range(entry).ok_or_else(|| ProxyListError(entry.to_owned())))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first range that holds every address of its family (`0.0.0.0/0`, `::/0`),
    /// if any: with it, every client of that family can name its own address in
    /// `X-Forwarded-For`, which a configuration check reports.
    ///
    /// ```
    /// use releasy_domain::rate_limit::TrustedProxies;
    ///
    /// let list = TrustedProxies::parse("10.0.0.0/8, ::/0").unwrap();
    /// assert_eq!(list.catch_all().as_deref(), Some("::/0"));
    /// assert_eq!(TrustedProxies::parse("10.0.0.0/8").unwrap().catch_all(), None);
    /// ```
    pub fn catch_all(&self) -> Option<String> {
        self.0
            .iter()
            .find(|net| net.prefix_len() == 0)
            .map(ToString::to_string)
    }

    /// Whether `address` is a trusted proxy.
    pub fn trusts(&self, address: IpAddr) -> bool {
        ranges_contain(&self.0, address)
    }

    /// The client behind a request from `peer` that carries the `X-Forwarded-For`
    /// header lines `forwarded`, in the order received.
    ///
    /// Each proxy appends the address it received from, so the list is read from the
    /// right: the first address that is not a trusted proxy is the client; entries
    /// left of it were written by the client itself and prove nothing. When the
    /// peer is not trusted, or an entry does not parse, the nearest address known
    /// for sure is the client.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded
            .into_iter()
            .flat_map(|line| line.split(','))
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(address) = parse_hop(hop) else {
                return client;
            };
            client = address;
            if !self.trusts(address) {
                return address;
            }
        }
        client
    }
}

impl std::fmt::Display for TrustedProxies {
    /// The list as it reads back: ranges joined by `, `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for net in &self.0 {
            if !first {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
            first = false;
        }
        Ok(())
    }
}

/// One `X-Forwarded-For` entry: an address, IPv6 possibly in brackets, possibly with
/// a port (some proxies add one).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<IpAddr>().ok().map(|a| a.to_canonical());
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The address failed authentications are counted under: an IPv4 address as it is,
/// an IPv6 address by its /48 prefix. One party commonly holds a whole /48 (a site's
/// allocation, free from tunnel brokers): counted by anything narrower, it could take
/// a fresh prefix for every attempt and write as many audit rows as it likes. Others
/// in the same /48 lose nothing but their own failures' single rows: valid
/// credentials are never refused for failures.
pub fn failure_bucket(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
            u128::from(v6) & !((1_u128 << (128 - FAILURE_PREFIX_V6)) - 1),
        )),
    }
}

/// The length of the IPv6 prefix failures are counted by.
pub const FAILURE_PREFIX_V6: u32 = 48;

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    #[test]
    fn lists_take_ranges_and_single_addresses() {
        let list = proxies(" 10.0.0.0/8,192.168.1.7  fd00::/8 ");
        assert!(list.trusts(ip("10.200.3.4")));
        assert!(list.trusts(ip("192.168.1.7")));
        assert!(!list.trusts(ip("192.168.1.8")));
        assert!(list.trusts(ip("fd12::1")));
        assert!(
            list.trusts(ip("::ffff:10.1.2.3")),
            "IPv4-mapped IPv6 is IPv4"
        );
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert_eq!(list.to_string(), "10.0.0.0/8, 192.168.1.7/32, fd00::/8");
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/8, proxy.local").unwrap_err(),
            ProxyListError("proxy.local".into())
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn a_range_of_every_address_is_told() {
        assert_eq!(
            proxies("0.0.0.0/0").catch_all().as_deref(),
            Some("0.0.0.0/0")
        );
        assert_eq!(
            proxies("10.0.0.0/8 ::/0").catch_all().as_deref(),
            Some("::/0")
        );
        assert_eq!(proxies("10.0.0.0/8, 0.0.0.0/1, ::/1").catch_all(), None);
        assert_eq!(TrustedProxies::none().catch_all(), None);
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::none();
        assert_eq!(
            none.client_address(ip("203.0.113.9"), ["1.2.3.4"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let list = proxies("10.0.0.0/8");
        // The client forged an entry; the trusted proxies appended the real address.
        let forwarded = ["6.6.6.6, 203.0.113.9", "10.0.0.5"];
        assert_eq!(
            list.client_address(ip("10.0.0.1"), forwarded),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_yields_the_leftmost() {
        let list = proxies("10.0.0.0/8");
        assert_eq!(
            list.client_address(ip("10.0.0.1"), ["10.0.0.9, 10.0.0.5"]),
            ip("10.0.0.9")
        );
        assert_eq!(list.client_address(ip("10.0.0.1"), []), ip("10.0.0.1"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_known_hop() {
        let list = proxies("10.0.0.0/8");
        assert_eq!(
            list.client_address(ip("10.0.0.1"), ["203.0.113.9, unknown, 10.0.0.7"]),
            ip("10.0.0.7")
        );
    }

    #[test]
    fn hops_may_carry_brackets_and_ports() {
        let list = proxies("10.0.0.0/8");
        assert_eq!(
            list.client_address(ip("10.0.0.1"), ["[2001:db8::1]:4711"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            list.client_address(ip("10.0.0.1"), ["203.0.113.9:52100"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            list.client_address(ip("10.0.0.1"), ["::ffff:203.0.113.9"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ipv6_failures_count_per_48_prefix() {
        assert_eq!(
            failure_bucket(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1::")
        );
        // Another /64 of the same /48 is the same party; another /48 is not.
        assert_eq!(
            failure_bucket(ip("2001:db8:1:ffff::1")),
            failure_bucket(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            failure_bucket(ip("2001:db8:2::1")),
            failure_bucket(ip("2001:db8:1::1"))
        );
        assert_eq!(failure_bucket(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(failure_bucket(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }
}
