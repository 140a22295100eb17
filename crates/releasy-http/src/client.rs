//! The address a request comes from: the peer, or the client a trusted proxy names in
//! `X-Forwarded-For` (`RELEASY_TRUSTED_PROXIES`, the domain's rule).

use std::net::IpAddr;

use actix_web::HttpRequest;
use releasy_domain::rate_limit::TrustedProxies;

/// The `X-Forwarded-For` header.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client behind `req`; `None` when the connection has no peer address (a test
/// request built without one).
pub(crate) fn client_address(req: &HttpRequest, proxies: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if proxies.is_empty() {
        return Some(peer.to_canonical());
    }
    let forwarded = req
        .headers()
        .get_all(FORWARDED_FOR)
        .filter_map(|line| line.to_str().ok());
    Some(proxies.client_address(peer, forwarded))
}
