//! All use-case services, built from one set of ports.

use std::sync::Arc;

use crate::api_key::{ApiKeyAuthenticator, ApiKeyService};
use crate::audit::AuditService;
use crate::customer::CustomerService;
use crate::idempotency::IdempotencyService;
use crate::ports::{
    ApiKeyRepository, AuditRepository, Clock, CustomerRepository, HealthProbe,
    IdempotencyRepository, KeyHasher, SecretGenerator,
};

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
    /// Database readiness.
    pub health: Arc<dyn HealthProbe>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl Services {
    /// Wires every service to `ports`.
    pub fn new(ports: Ports) -> Self {
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
                ports.hasher,
                ports.audit.clone(),
                ports.clock.clone(),
            ),
            audit: AuditService::new(ports.audit),
            idempotency: IdempotencyService::new(ports.idempotency, ports.clock.clone()),
            health: ports.health,
            clock: ports.clock,
        }
    }
}

#[cfg(feature = "in-memory")]
impl Ports {
    /// Ports backed entirely by memory: nothing persists, and keys are hashed with
    /// [`InsecureTestHasher`](crate::memory::InsecureTestHasher). For tests and demos.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Self {
        use crate::memory::*;
        let customers = Arc::new(InMemoryCustomers::default());
        Self {
            api_keys: Arc::new(InMemoryApiKeys::new(customers.clone())),
            customers,
            audit: Arc::new(InMemoryAudit::default()),
            idempotency: Arc::new(InMemoryIdempotency::default()),
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
