//! All use-case services, built from one set of ports.

use std::sync::Arc;

use crate::Limits;
use crate::api_key::{ApiKeyAuthenticator, ApiKeyService};
use crate::artifact::{ArtifactService, VerificationPolicy};
use crate::audit::AuditService;
use crate::customer::CustomerService;
use crate::delivery::DeliveryService;
use crate::download::{DownloadPorts, DownloadService};
use crate::entitlement::EntitlementService;
use crate::idempotency::IdempotencyService;
use crate::ports::{
    Clock, HealthProbe, KeyHasher, ObjectStore, RateLimiter, Repositories, SecretGenerator,
};
use crate::product::{ImmutabilityPolicy, ProductService};
use crate::release::ReleaseService;

/// The adapters a Releasy instance runs on: its store's repositories and the other
/// ports.
#[derive(Debug, Clone)]
pub struct Ports {
    /// The repositories of one store.
    pub repositories: Repositories,
    /// Artifact bytes.
    pub objects: Arc<dyn ObjectStore>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub secrets: Arc<dyn SecretGenerator>,
    /// Key hashing.
    pub hasher: Arc<dyn KeyHasher>,
    /// Failed-authentication limits and key budgets.
    pub rate_limiter: Arc<dyn RateLimiter>,
}

/// Every use case, ready to call.
#[derive(Debug, Clone)]
pub struct Services {
    /// Customers.
    pub customers: CustomerService,
    /// Issuing and revoking keys.
    pub api_keys: ApiKeyService,
    /// Authenticating keys.
    pub authenticator: ApiKeyAuthenticator,
    /// Reading the audit trail.
    pub audit: AuditService,
    /// Idempotent creation.
    pub idempotency: IdempotencyService,
    /// Releases.
    pub releases: ReleaseService,
    /// Artifacts.
    pub artifacts: ArtifactService,
    /// Entitlements.
    pub entitlements: EntitlementService,
    /// Download tokens.
    pub downloads: DownloadService,
    /// The download ledger and its statistics.
    pub delivery: DeliveryService,
    /// Products and their release policies.
    pub products: ProductService,
    /// The bounds the services apply.
    pub limits: Limits,
    /// Database readiness.
    pub health: Arc<dyn HealthProbe>,
    /// Failed-authentication limits and key budgets (operator credentials are counted
    /// here too).
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl Services {
    /// Wires every service to `ports` with the contract's default [`Limits`].
    pub fn new(ports: Ports) -> Self {
        Self::with_limits(ports, Limits::default())
    }

    /// Wires every service to `ports` with `limits`.
    pub fn with_limits(ports: Ports, limits: Limits) -> Self {
        let Ports {
            repositories: repos,
            objects,
            clock,
            secrets,
            hasher,
            rate_limiter,
        } = ports;
        let immutability =
            ImmutabilityPolicy::new(repos.products.clone(), limits.immutable_releases);
        Self {
            customers: CustomerService::new(repos.customers.clone(), clock.clone()),
            api_keys: ApiKeyService::new(
                repos.api_keys.clone(),
                repos.customers.clone(),
                secrets.clone(),
                hasher.clone(),
                clock.clone(),
            ),
            authenticator: ApiKeyAuthenticator::new(
                repos.api_keys,
                hasher.clone(),
                repos.audit.clone(),
                clock.clone(),
            )
            .with_rate_limiter(rate_limiter.clone()),
            audit: AuditService::new(repos.audit.clone()),
            idempotency: IdempotencyService::new(repos.idempotency, clock.clone()),
            releases: ReleaseService::new(
                repos.releases.clone(),
                repos.artifacts.clone(),
                repos.entitlements.clone(),
                objects.clone(),
                clock.clone(),
            )
            .with_immutability(immutability.clone()),
            artifacts: ArtifactService::new(
                repos.releases.clone(),
                repos.artifacts.clone(),
                objects.clone(),
                clock.clone(),
                limits.presign_expires_seconds,
            )
            .with_part_size(limits.artifact_part_size_bytes)
            .with_upload_ttl(limits.artifact_upload_ttl_seconds)
            .with_verification(VerificationPolicy {
                inline_max_bytes: limits.artifact_inline_verify_max_bytes,
            })
            .with_immutability(immutability.clone()),
            products: ProductService::new(repos.products, immutability, clock.clone()),
            entitlements: EntitlementService::new(
                repos.entitlements.clone(),
                repos.customers,
                repos.releases,
                clock.clone(),
            ),
            downloads: DownloadService::new(DownloadPorts {
                artifacts: repos.artifacts,
                tokens: repos.download_tokens,
                entitlements: repos.entitlements,
                objects,
                secrets,
                hasher,
                clock: clock.clone(),
                audit: repos.audit.clone(),
                ledger: repos.download_ledger.clone(),
                quotas: repos.quota_counter.clone(),
                link_ttl_seconds: limits.download_url_ttl_seconds,
            })
            .with_rate_limiter(rate_limiter.clone()),
            delivery: DeliveryService::new(repos.download_ledger, clock.clone()),
            limits,
            health: repos.health,
            rate_limiter,
            clock,
        }
    }
}

#[cfg(feature = "in-memory")]
impl Ports {
    /// Ports backed entirely by memory: nothing persists, keys are hashed with
    /// [`InsecureTestHasher`](crate::memory::InsecureTestHasher), and artifact bytes live
    /// in an [`InMemoryObjects`](crate::memory::InMemoryObjects). For tests and demos.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Self {
        Self::in_memory_with_objects(clock, Arc::new(crate::memory::InMemoryObjects::default()))
    }

    /// Like [`Ports::in_memory`], with the given object store (keep a handle on it to
    /// put bytes as an upload would).
    pub fn in_memory_with_objects(clock: Arc<dyn Clock>, objects: Arc<dyn ObjectStore>) -> Self {
        Self {
            repositories: Repositories::in_memory(),
            objects,
            clock,
            secrets: Arc::new(crate::memory::RandomSecrets),
            hasher: Arc::new(crate::memory::InsecureTestHasher::default()),
            rate_limiter: Arc::new(crate::memory::NoRateLimits),
        }
    }
}
