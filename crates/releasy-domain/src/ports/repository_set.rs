use std::sync::Arc;

use super::{
    ApiKeyRepository, ArtifactRepository, AuditRepository, CustomerRepository, DownloadLedger,
    DownloadTokenRepository, EntitlementRepository, HealthProbe, IdempotencyRepository,
    ProductRepository, QuotaCounter, ReleaseRepository,
};

/// The repositories of one store, each a port of its own. A database adapter hands out
/// one set; decorators (a cache, write-behind) take a set and give back one that
/// implements the same ports.
#[derive(Debug, Clone)]
pub struct Repositories {
    /// Customers.
    pub customers: Arc<dyn CustomerRepository>,
    /// Customer API keys; must see the customers of `customers`.
    pub api_keys: Arc<dyn ApiKeyRepository>,
    /// The audit trail.
    pub audit: Arc<dyn AuditRepository>,
    /// Idempotency records.
    pub idempotency: Arc<dyn IdempotencyRepository>,
    /// Releases.
    pub releases: Arc<dyn ReleaseRepository>,
    /// Artifacts; over the store of `releases`.
    pub artifacts: Arc<dyn ArtifactRepository>,
    /// Entitlements; must see the customers of `customers`.
    pub entitlements: Arc<dyn EntitlementRepository>,
    /// Download tokens; join to `artifacts`, `releases` and `customers`.
    pub download_tokens: Arc<dyn DownloadTokenRepository>,
    /// The download ledger and its daily summary.
    pub download_ledger: Arc<dyn DownloadLedger>,
    /// Download quotas' counts; their entitlements are those of `entitlements`.
    pub quota_counter: Arc<dyn QuotaCounter>,
    /// Products' summaries (over `releases`) and policies.
    pub products: Arc<dyn ProductRepository>,
    /// Readiness of the store.
    pub health: Arc<dyn HealthProbe>,
}

#[cfg(feature = "in-memory")]
impl Repositories {
    /// The in-memory repositories of [`crate::memory`], wired together.
    ///
    /// ```
    /// use releasy_domain::ports::Repositories;
    ///
    /// let repos = Repositories::in_memory();
    /// # let _ = repos.customers;
    /// ```
    pub fn in_memory() -> Self {
        use crate::memory::{
            AlwaysHealthy, InMemoryApiKeys, InMemoryAudit, InMemoryCustomers,
            InMemoryDownloadLedger, InMemoryEntitlements, InMemoryIdempotency,
            InMemoryQuotaCounter, InMemoryReleases,
        };
        // One audit trail, where every repository records its changes.
        let audit = Arc::new(InMemoryAudit::default());
        let customers = Arc::new(InMemoryCustomers::with_audit(audit.clone()));
        let releases = Arc::new(InMemoryReleases::new(customers.clone()));
        Self {
            api_keys: Arc::new(InMemoryApiKeys::new(customers.clone())),
            customers,
            entitlements: Arc::new(InMemoryEntitlements::with_audit(audit.clone())),
            audit,
            idempotency: Arc::new(InMemoryIdempotency::default()),
            artifacts: releases.clone(),
            download_tokens: releases.clone(),
            download_ledger: Arc::new(InMemoryDownloadLedger::default()),
            quota_counter: Arc::new(InMemoryQuotaCounter::default()),
            products: releases.clone(),
            releases,
            health: Arc::new(AlwaysHealthy),
        }
    }
}
