//! Rate limits: the rules that bound what one client address or one key can make the
//! server do.
//!
//! - Failed authentications are counted per client address ([`failure_bucket`]): past
//!   the limit, further *failures* from that address are refused with a retry delay and
//!   summed into one audit event per address ([`RefusedFailures`]) instead of one row
//!   each. A valid credential from the same address is never refused for them.
//! - A key may have a request budget by its type ([`RateBudgets`]), off unless
//!   configured; while one applies, every answer tells the client where it stands
//!   ([`BudgetState`], the IETF `RateLimit` headers).
//! - The client address is the peer's, or, when the peer is a trusted proxy, the one
//!   its `X-Forwarded-For` names ([`TrustedProxies::client_address`]).
//!
//! The buckets themselves are behind the [`crate::ports::RateLimiter`] port.

mod budget;
mod client_address;

pub use budget::{BudgetParseError, BudgetState, RateBudget, RateBudgets, Spend};
pub use client_address::{FAILURE_PREFIX_V6, ProxyListError, TrustedProxies, failure_bucket};

use std::net::IpAddr;

use crate::ports::RateLimiter;

/// The failed authentications refused from one address since the last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedFailures {
    /// The address (IPv6 addresses by their /48, see [`failure_bucket`]).
    pub client: IpAddr,
    /// How many were refused.
    pub refused: u64,
}

impl RefusedFailures {
    /// The address as the summary names it: an IPv4 address as it is, an IPv6 one as
    /// the /48 it was counted under (`2001:db8:1::/48`).
    pub fn client_label(&self) -> String {
        match self.client {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("{v6}/{FAILURE_PREFIX_V6}"),
        }
    }
}

/// A failed authentication refused because its address is past the failure limit: it
/// is summed into the address's summary event instead of recorded on its own. (Below
/// the limit a failure is answered as usual and recorded as its own event.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed authentications from this address")]
pub struct Throttled {
    /// When the address may fail again, in whole seconds (at least 1).
    pub retry_after_seconds: u64,
}

/// Counts one failed authentication from `client` in `limiter`, under its
/// [`failure_bucket`]: every kind of credential (customer keys, the admin key, operator
/// tokens) goes through here.
///
/// # Errors
/// [`Throttled`] when the address is past its limit (the failure is then counted into
/// the address's summary instead of recorded on its own).
pub fn count_failure(limiter: &dyn RateLimiter, client: IpAddr) -> Result<(), Throttled> {
    limiter.count_failure(failure_bucket(client))
}
