//! All use-case services, built from one set of ports.

use std::sync::Arc;

use crate::Limits;
use crate::api_key::{ApiKeyAuthenticator, ApiKeyService};
use crate::artifact::ArtifactService;
use crate::audit::AuditService;
use crate::customer::CustomerService;
use crate::download::{DownloadPorts, DownloadService};
use crate::entitlement::EntitlementService;
use crate::idempotency::IdempotencyService;
use crate::ports::{
    ApiKeyRepository, ArtifactRepository, AuditRepository, Clock, CustomerRepository,
    DownloadTokenRepository, EntitlementRepository, HealthProbe, IdempotencyRepository, KeyHasher,
    ObjectStore, ReleaseRepository, SecretGenerator,
};
use crate::release::ReleaseService;

/// The adapters a Releasy instance runs on.
#[derive(Debug, Clone)]
pub struct Ports {
    /// Customers.
    pub customers: Arc<dyn CustomerRepository>,
    /// Customer API keys.
    pub api_keys: Arc<dyn ApiKeyRepository>,
    /// The audit trail.
    pub audit: Arc<dyn AuditRepository>,
    /// Idempotency records.
    pub idempotency: Arc<dyn IdempotencyRepository>,
    /// Releases.
    pub releases: Arc<dyn ReleaseRepository>,
    /// Artifacts.
    pub artifacts: Arc<dyn ArtifactRepository>,
    /// Entitlements.
    pub entitlements: Arc<dyn EntitlementRepository>,
    /// Download tokens.
    pub download_tokens: Arc<dyn DownloadTokenRepository>,
    /// Artifact bytes.
    pub objects: Arc<dyn ObjectStore>,
    /// Database readiness.
    pub health: Arc<dyn HealthProbe>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub secrets: Arc<dyn SecretGenerator>,
    /// Key hashing.
    pub hasher: Arc<dyn KeyHasher>,
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
    /// The bounds the services apply.
    pub limits: Limits,
    /// Database readiness.
    pub health: Arc<dyn HealthProbe>,
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
        Self {
            customers: CustomerService::new(ports.customers.clone(), ports.clock.clone()),
            api_keys: ApiKeyService::new(
                ports.api_keys.clone(),
                ports.customers.clone(),
                ports.secrets.clone(),
                ports.hasher.clone(),
                ports.clock.clone(),
            ),
            authenticator: ApiKeyAuthenticator::new(
                ports.api_keys,
                ports.hasher.clone(),
                ports.audit.clone(),
                ports.clock.clone(),
            ),
            audit: AuditService::new(ports.audit),
            idempotency: IdempotencyService::new(ports.idempotency, ports.clock.clone()),
            releases: ReleaseService::new(
                ports.releases.clone(),
                ports.artifacts.clone(),
                ports.entitlements.clone(),
                ports.objects.clone(),
                ports.clock.clone(),
            ),
            artifacts: ArtifactService::new(
                ports.releases,
                ports.artifacts.clone(),
                ports.objects.clone(),
                ports.clock.clone(),
                limits.presign_expires_seconds,
            ),
            entitlements: EntitlementService::new(
                ports.entitlements.clone(),
                ports.customers,
                ports.clock.clone(),
            ),
            downloads: DownloadService::new(DownloadPorts {
                artifacts: ports.artifacts,
                tokens: ports.download_tokens,
                entitlements: ports.entitlements,
                objects: ports.objects,
                secrets: ports.secrets,
                hasher: ports.hasher,
                clock: ports.clock.clone(),
                presign_expires_seconds: limits.presign_expires_seconds,
            }),
            limits,
            health: ports.health,
            clock: ports.clock,
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
        use crate::memory::*;
        let customers = Arc::new(InMemoryCustomers::default());
        let releases = Arc::new(InMemoryReleases::new(customers.clone()));
        Self {
            api_keys: Arc::new(InMemoryApiKeys::new(customers.clone())),
            customers,
            audit: Arc::new(InMemoryAudit::default()),
            idempotency: Arc::new(InMemoryIdempotency::default()),
            artifacts: releases.clone(),
            download_tokens: releases.clone(),
            releases,
            entitlements: Arc::new(InMemoryEntitlements::default()),
            objects,
            health: Arc::new(AlwaysHealthy),
            clock,
            secrets: Arc::new(RandomSecrets),
            hasher: Arc::new(InsecureTestHasher::default()),
        }
    }
}

/// A probe that always answers.
#[cfg(feature = "in-memory")]
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysHealthy;

#[cfg(feature = "in-memory")]
#[async_trait::async_trait]
impl HealthProbe for AlwaysHealthy {
    async fn ping(&self) -> Result<(), crate::ports::RepoError> {
        Ok(())
    }
}
