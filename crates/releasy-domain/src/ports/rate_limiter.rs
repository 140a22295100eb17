//! The buckets behind the rate limits.

use std::net::IpAddr;

use crate::ApiKeyId;
use crate::api_key::KeyType;
use crate::rate_limit::{RefusedFailures, Spend, Throttled};

/// Counts failed authentications per client address and spends keys' request budgets.
///
/// Implementations keep their buckets wherever they like; the server's keeps them in
/// memory per instance (see `docs/security.md` for what that means behind a load
/// balancer). Every method is called on the request path and must not block.
///
/// The authenticator counts a refused key through [`crate::rate_limit::count_failure`],
/// which applies the address rule ([`crate::rate_limit::failure_bucket`]); a limiter
/// that limits nothing lets every failure through:
///
/// ```
/// use releasy_domain::memory::NoRateLimits;
/// use releasy_domain::rate_limit::count_failure;
///
/// let limiter = NoRateLimits;
/// let client = "2001:db8::7".parse().unwrap();
/// assert_eq!(count_failure(&limiter, client), Ok(()));
/// ```
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Counts one failed authentication from `client`.
    ///
    /// # Errors
    /// [`Throttled`] when `client` is past its limit.
    fn count_failure(&self, client: IpAddr) -> Result<(), Throttled>;

    /// Spends one request of `key`'s budget; `None` when keys of `key_type` have none.
    fn spend(&self, key: ApiKeyId, key_type: KeyType) -> Option<Spend>;

    /// The failures refused per address since the last call, which starts the count
    /// afresh.
    fn take_refused(&self) -> Vec<RefusedFailures>;
}
