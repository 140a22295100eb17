//! IP address ranges as the settings and rules that name them are written: CIDR ranges
//! or single addresses, IPv4 and IPv6, compared in canonical form (an IPv4-mapped IPv6
//! address is the IPv4 address it maps).

use std::net::IpAddr;

use ipnet::IpNet;

/// Reads one range: `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128).
/// Host bits are cleared (`10.0.0.7/8` is `10.0.0.0/8`). `None` for anything else.
pub(crate) fn parse_range(entry: &str) -> Option<IpNet> {
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .ok()
        .map(|net| canonical_net(net.trunc()))
}

/// Whether `address` lies in one of `ranges` (each read by [`parse_range`]).
pub(crate) fn ranges_contain(ranges: &[IpNet], address: IpAddr) -> bool {
    let address = address.to_canonical();
    ranges.iter().any(|net| net.contains(&address))
}

/// An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) as the IPv4 range it is, since
/// addresses are compared in their canonical form.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        other => other,
    }
}
