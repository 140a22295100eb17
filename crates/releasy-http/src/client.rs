//! The address a request comes from: the peer, or the client a trusted proxy names in
//! `X-Forwarded-For` (`RELEASY_TRUSTED_PROXIES`, the domain's rule).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::HttpRequest;
use releasy_domain::delivery::{Requester, UserAgent};
use releasy_domain::rate_limit::TrustedProxies;

/// The `X-Forwarded-For` header.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client behind `req`; `None` when the connection has no peer address (a test
/// request built without one).
pub(crate) fn client_address(req: &HttpRequest, proxies: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if proxies.is_empty() {
        if req.headers().contains_key(FORWARDED_FOR) {
            warn_once_untrusted_forwarding();
        }
        return Some(peer.to_canonical());
    }
    // Every line is read, whatever bytes it holds: a proxy appends the address it saw
    // to the client's own line, so skipping a line the client garbled would skip the
    // proxy's entry too and make the client look like the proxy. A garbled entry
    // does not parse and ends the walk at its own position.
    let forwarded: Vec<Cow<'_, str>> = req
        .headers()
        .get_all(FORWARDED_FOR)
        .map(|line| String::from_utf8_lossy(line.as_bytes()))
        .collect();
    Some(proxies.client_address(peer, forwarded.iter().map(AsRef::as_ref)))
}

/// The request's `User-Agent` header; bytes that are not UTF-8 read as U+FFFD, so an
/// agent that sends Latin-1 is still recorded.
pub(crate) fn user_agent(req: &HttpRequest) -> Option<Cow<'_, str>> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .map(|value| String::from_utf8_lossy(value.as_bytes()))
}

/// Who is asking, as the download ledger records it.
pub(crate) fn requester(req: &HttpRequest, proxies: &TrustedProxies) -> Requester {
    Requester {
        address: client_address(req, proxies),
        user_agent: user_agent(req).as_deref().and_then(UserAgent::keep),
    }
}

/// A proxy forwards clients, but none is trusted: every client counts as the proxy, so
/// one client's failures can throttle all of them. Said once per process.
fn warn_once_untrusted_forwarding() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "requests carry X-Forwarded-For but RELEASY_TRUSTED_PROXIES is unset: every \
             client behind the proxy counts as the proxy's address (failure limit, audit \
             client_address); list the proxies' addresses to count clients one by one"
        );
    }
}
