//! What every handler can reach: the domain's services and the operator credentials.

use std::sync::Arc;

use releasy_domain::Services;
use releasy_domain::ports::OperatorTokenVerifier;
use releasy_domain::rate_limit::TrustedProxies;
use releasy_metrics::{AuthRefusal, Metrics};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ReleaseJson;
use crate::request_limits::RequestLimits;

/// The admin bootstrap key, and during a rotation the key it replaces. Compared in
/// constant time; its `Debug` hides it.
#[derive(Clone)]
pub struct AdminKey {
    current: String,
    previous: Option<String>,
}

impl AdminKey {
    /// Wraps a configured key; `None` for an empty one.
    pub fn new(key: String) -> Option<Self> {
        (!key.trim().is_empty()).then_some(Self {
            current: key,
            previous: None,
        })
    }

    /// Also accepts `previous` (`RELEASY_ADMIN_API_KEY_PREVIOUS`) until it is removed
    /// from the configuration, so clients can move to the new key one by one. An empty
    /// one is ignored.
    #[must_use]
    pub fn with_previous(mut self, previous: Option<String>) -> Self {
        self.previous = previous.filter(|key| !key.trim().is_empty());
        self
    }

    /// Whether `presented` is this key (or the previous one), in constant time: digests
    /// are compared, so not even a key's length shows in the timing, and both are
    /// always compared, so neither does which one matched.
    pub fn matches(&self, presented: &str) -> bool {
        let actual = Sha256::digest(presented.as_bytes());
        let same = |key: &str| -> bool { Sha256::digest(key.as_bytes()).ct_eq(&actual).into() };
        let current = same(&self.current);
        let previous = self.previous.as_deref().is_some_and(same);
        current | previous
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
    /// Where requests and refusals are counted; `None` when metrics are off
    /// (`RELEASY_METRICS`, `RELEASY_METRICS_BIND_ADDR`), which then cost nothing.
    pub metrics: Option<Arc<Metrics>>,
}

impl AppState {
    /// Counts a refused credential, when metrics are on.
    pub(crate) fn count_refusal(&self, credential: &'static str, reason: &'static str) {
        if let Some(metrics) = &self.metrics {
            metrics
                .http()
                .auth_refused(AuthRefusal { credential, reason });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_admin_key_is_accepted_only_while_configured() {
        let key = AdminKey::new("new-key-new-key-new-key-new-key-new".to_owned()).unwrap();
        assert!(key.matches("new-key-new-key-new-key-new-key-new"));
        assert!(!key.matches("old-key-old-key-old-key-old-key-old"));
        let rotating = key.with_previous(Some("old-key-old-key-old-key-old-key-old".to_owned()));
        assert!(rotating.matches("new-key-new-key-new-key-new-key-new"));
        assert!(rotating.matches("old-key-old-key-old-key-old-key-old"));
        assert!(!rotating.matches("other"));
        let blank = AdminKey::new("k".repeat(32))
            .unwrap()
            .with_previous(Some(" ".to_owned()));
        assert!(!blank.matches(" "));
        assert!(!blank.matches(""));
    }
}
