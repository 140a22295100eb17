//! No rate limits at all.

use std::net::IpAddr;

use crate::ApiKeyId;
use crate::api_key::KeyType;
use crate::ports::RateLimiter;
use crate::rate_limit::{RefusedFailures, Spend, Throttled};

/// A [`RateLimiter`] that never refuses and keeps no budgets: for embedding services
/// that limit elsewhere, and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRateLimits;

impl RateLimiter for NoRateLimits {
    fn count_failure(&self, _client: IpAddr) -> Result<(), Throttled> {
        Ok(())
    }

    fn spend(&self, _key: ApiKeyId, _key_type: KeyType) -> Option<Spend> {
        None
    }

    fn take_refused(&self) -> Vec<RefusedFailures> {
        Vec::new()
    }
}
