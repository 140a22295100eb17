//! What every handler can reach: the domain's services and the operator credentials.

use std::sync::Arc;

use releasy_domain::Services;
use releasy_domain::ports::OperatorTokenVerifier;
use releasy_domain::rate_limit::TrustedProxies;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ReleaseJson;
use crate::request_limits::RequestLimits;

/// The admin bootstrap key. Compared in constant time; its `Debug` hides it.
#[derive(Clone)]
pub struct AdminKey(String);

impl AdminKey {
    /// Wraps a configured key; `None` for an empty one.
    pub fn new(key: String) -> Option<Self> {
        (!key.trim().is_empty()).then_some(Self(key))
    }

    /// Whether `presented` is this key, in constant time (digests are compared, so not
    /// even the key's length shows in the timing).
    pub fn matches(&self, presented: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let actual = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&actual).into()
    }
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(<redacted>)")
    }
}

/// Shared state of the HTTP adapter.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Services,
    /// The admin bootstrap key, when configured.
    pub admin_key: Option<AdminKey>,
    /// Operator JWT verification, when configured.
    pub operator_tokens: Option<Arc<dyn OperatorTokenVerifier>>,
    /// Base of the URLs handed out (`RELEASY_PUBLIC_BASE_URL`), without a trailing slash.
    pub public_base_url: String,
    /// Release listings' JSON, rendered once per unchanged release.
    pub release_json: Arc<ReleaseJson>,
    /// The proxies whose `X-Forwarded-For` names the client (`RELEASY_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// What one request may take (`RELEASY_MAX_HEADER_BYTES`,
    /// `RELEASY_BODY_IDLE_TIMEOUT_SECONDS`).
    pub request_limits: RequestLimits,
}
