//! The buckets behind the rate limits.

use std::net::IpAddr;

use crate::ApiKeyId;
use crate::api_key::KeyType;
use crate::rate_limit::{FailureAdmission, RefusedFailures, Spend};

/// Counts failed authentications per client address and spends keys' request budgets.
///
/// Implementations keep their buckets wherever they like; the server's keeps them in
/// memory per instance (see `docs/security.md` for what that means behind a load
/// balancer). Every method is called on the request path and must not block.
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Counts one failed authentication from `client`.
    fn count_failure(&self, client: IpAddr) -> FailureAdmission;

    /// Spends one request of `key`'s budget; `None` when keys of `key_type` have none.
    fn spend(&self, key: ApiKeyId, key_type: KeyType) -> Option<Spend>;

    /// The failures refused per address since the last call, which starts the count
    /// afresh.
    fn take_refused(&self) -> Vec<RefusedFailures>;
}
