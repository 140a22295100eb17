//! What the verifier trusts and how it caches the identity provider's keys.

use std::time::Duration;

/// How the JWKS is fetched and cached. The defaults are the contract's; tests shorten
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// How long a fetched key set is fresh (`RELEASY_OPERATOR_JWKS_TTL_SECONDS`,
    /// default 300 s). Past it, the next token triggers a refresh; while that fails,
    /// the old keys keep working.
    pub ttl: Duration,
    /// At most one early refresh (a token naming a `kid` the cache does not hold) per
    /// this interval (default 10 s), so a flood of bad tokens cannot hammer the identity
    /// provider.
    pub early_refresh_interval: Duration,
    /// After a failed fetch, no new scheduled fetch is tried for this long (default
    /// 10 s): requests meanwhile use the keys already cached, or get "unavailable"
    /// straight away when there are none.
    pub failure_backoff: Duration,
    /// Timeout of one JWKS request (default 8 s).
    pub fetch_timeout: Duration,
    /// Pause before the single retry on a connection error or a 5xx (default 200 ms).
    pub retry_delay: Duration,
    /// How long a token whose key is in a set past its TTL waits for the refresh
    /// before the stale key decides (default 1 s).
    pub stale_wait: Duration,
}

impl CachePolicy {
    /// The default policy with keys cached for `ttl`.
    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            ..Self::default()
        }
    }
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            early_refresh_interval: Duration::from_secs(10),
            failure_backoff: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(8),
            retry_delay: Duration::from_millis(200),
            stale_wait: Duration::from_secs(1),
        }
    }
}

/// Operator JWT verification settings (the `RELEASY_OPERATOR_*` variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// Where the identity provider publishes its keys (`http://` or `https://`).
    pub jwks_url: String,
    /// The required `iss`, when set.
    pub issuer: Option<String>,
    /// A value the token's `aud` must contain, when set. When unset, `aud` is not
    /// checked.
    pub audience: Option<String>,
    /// The client whose `resource_access.<resource>.roles` count, when set.
    pub resource: Option<String>,
    /// Clock leeway, in seconds, applied to `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// Key caching.
    pub cache: CachePolicy,
}

impl JwtConfig {
    /// Settings trusting the keys at `jwks_url`, with no issuer, audience or resource,
    /// no leeway and the default cache policy.
    pub fn new(jwks_url: impl Into<String>) -> Self {
        Self {
            jwks_url: jwks_url.into(),
            issuer: None,
            audience: None,
            resource: None,
            leeway_seconds: 0,
            cache: CachePolicy::default(),
        }
    }
}
