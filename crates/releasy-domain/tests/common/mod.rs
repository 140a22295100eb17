//! Shared fixtures for the service-level tests: in-memory ports on a fixed clock, and
//! short ways to make customers and keys.
//!
//! Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod interposed_artifacts;

use std::sync::Arc;

use releasy_domain::api_key::{
    ApiKey, IssuedKey, KeyLookup, KeyType, NewApiKeyRequest, ScopeSet, StoredKeyHash,
};
use releasy_domain::audit::{AuditEvent, AuditFilter, Origin};
use releasy_domain::customer::{Customer, CustomerChanges, CustomerName, Plan};
use releasy_domain::memory::{FixedClock, InsecureTestHasher};
use releasy_domain::pagination::{Offset, PageLimit, PageRequest};
use releasy_domain::ports::KeyHasher;
use releasy_domain::{ApiKeyId, CustomerId, Ports, Services, Timestamp};

/// The instant every test starts at (2024-12-27T15:06:40Z).
pub const T0: Timestamp = Timestamp::from_unix_seconds(1_735_312_000);

/// Services over in-memory ports, with handles on the clock and the ports behind them.
#[derive(Debug)]
pub struct Harness {
    pub clock: Arc<FixedClock>,
    pub ports: Ports,
    pub services: Services,
}

impl Harness {
    /// In-memory ports with their default hasher, the clock at [`T0`].
    pub fn new() -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        Self::wire(clock.clone(), Ports::in_memory(clock))
    }

    /// In-memory ports whose key hasher is `hasher`, the clock at [`T0`].
    pub fn with_hasher(hasher: Arc<dyn KeyHasher>) -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        let ports = Ports {
            hasher,
            ..Ports::in_memory(clock.clone())
        };
        Self::wire(clock, ports)
    }

    /// Services over the same stores and clock with `hasher` as the key hasher: an
    /// instance restarted with other secrets.
    pub fn restarted_with_hasher(&self, hasher: Arc<dyn KeyHasher>) -> Self {
        let ports = Ports {
            hasher,
            ..self.ports.clone()
        };
        Self::wire(self.clock.clone(), ports)
    }

    /// Inserts a key stored the legacy way (`raw` digested by `hasher`) under a lookup
    /// value that does not match the raw key, as rows migrated from the reference
    /// server have.
    pub async fn insert_legacy_key(
        &self,
        customer_id: CustomerId,
        raw: &str,
        hasher: &dyn KeyHasher,
    ) -> ApiKey {
        let hash = StoredKeyHash::LegacySha256(hasher.peppered_sha256(raw.as_bytes()));
        self.insert_stored_key(customer_id, hash, KeyLookup::from_stored("legacy".into()))
            .await
    }

    /// Inserts an `integration` key (`releases:read downloads:read`, made a day before
    /// [`T0`]) stored as `hash` under `lookup`, as another server left it.
    pub async fn insert_stored_key(
        &self,
        customer_id: CustomerId,
        hash: StoredKeyHash,
        lookup: KeyLookup,
    ) -> ApiKey {
        let key = ApiKey {
            allowed_networks: None,
            id: ApiKeyId::generate(),
            customer_id,
            name: None,
            key_type: KeyType::Integration.into(),
            scopes: ScopeSet::parse(&["releases:read", "downloads:read"])
                .expect("valid")
                .into(),
            hash,
            lookup,
            created_at: T0.plus_seconds(-86_400),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            last_used_address: None,
        };
        self.ports
            .repositories
            .api_keys
            .insert(&key, &AuditEvent::key_created(&Origin::admin_key(), &key))
            .await
            .expect("inserted");
        key
    }

    /// Suspends (`true`) or resumes the customer.
    pub async fn set_suspended(&self, customer_id: CustomerId, suspended: bool) {
        self.services
            .customers
            .update(
                &Origin::admin_key(),
                customer_id,
                CustomerChanges::new(None, None, Some(suspended)).expect("one change"),
            )
            .await
            .expect("customer exists");
    }

    /// The key `id` as stored.
    pub async fn stored_key(&self, id: ApiKeyId) -> ApiKey {
        self.ports
            .repositories
            .api_keys
            .get(id)
            .await
            .expect("repository answers")
            .expect("key is stored")
    }

    fn wire(clock: Arc<FixedClock>, ports: Ports) -> Self {
        Self {
            clock,
            services: Services::new(ports.clone()),
            ports,
        }
    }

    /// The clock's current time.
    pub fn now(&self) -> Timestamp {
        use releasy_domain::ports::Clock;
        self.clock.now()
    }

    /// Creates a customer named `name` without a plan.
    pub async fn customer(&self, name: &str) -> Customer {
        self.customer_with_plan(name, None).await
    }

    /// Creates a customer named `name` with `plan`.
    pub async fn customer_with_plan(&self, name: &str, plan: Option<&str>) -> Customer {
        self.services
            .customers
            .create(
                &Origin::admin_key(),
                CustomerName::parse(name).expect("valid customer name"),
                plan.map(|p| Plan::parse(p).expect("valid plan")),
            )
            .await
            .expect("customer is stored")
    }

    /// Issues a `ci` key with `scopes` and no expiry.
    pub async fn key(&self, customer_id: CustomerId, scopes: &[&str]) -> IssuedKey {
        self.key_expiring(customer_id, scopes, None).await
    }

    /// Issues a `ci` key with `scopes` that expires at `expires_at`.
    pub async fn key_expiring(
        &self,
        customer_id: CustomerId,
        scopes: &[&str],
        expires_at: Option<Timestamp>,
    ) -> IssuedKey {
        self.services
            .api_keys
            .create(
                &Origin::admin_key(),
                NewApiKeyRequest {
                    allowed_networks: None,
                    customer_id,
                    name: None,
                    key_type: KeyType::Ci,
                    scopes: ScopeSet::parse(scopes).expect("valid scopes"),
                    expires_at,
                },
            )
            .await
            .expect("key is issued")
    }

    /// Every audit event, newest first.
    pub async fn audit_events(&self) -> Vec<AuditEvent> {
        self.services
            .audit
            .list(&AuditFilter::default(), page(200, 0))
            .await
            .expect("audit trail is readable")
    }

    /// The events of authentications (`api_key.auth`, `auth.throttled`), newest first:
    /// every event but those of changes.
    pub async fn auth_events(&self) -> Vec<AuditEvent> {
        self.audit_events()
            .await
            .into_iter()
            .filter(|e| matches!(e.event.as_str(), "api_key.auth" | "auth.throttled"))
            .collect()
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// A hasher like the production one in shape: the given pepper mixed into every hash.
pub fn peppered_hasher(pepper: &[u8]) -> InsecureTestHasher {
    InsecureTestHasher {
        pepper: pepper.to_vec(),
        previous: None,
    }
}

/// A hasher under `pepper` that also accepts what was hashed under `previous`: a
/// pepper rotation's grace period.
pub fn rotating_hasher(pepper: &[u8], previous: &[u8]) -> InsecureTestHasher {
    InsecureTestHasher {
        pepper: pepper.to_vec(),
        previous: Some(Box::new(peppered_hasher(previous))),
    }
}

/// A page request of `limit` items after skipping `offset`.
pub fn page(limit: i64, offset: i64) -> PageRequest {
    PageRequest {
        limit: limit_of(limit),
        offset: offset_of(offset),
    }
}

/// A checked page size.
pub fn limit_of(limit: i64) -> PageLimit {
    PageLimit::parse(Some(limit)).expect("valid limit")
}

/// A checked offset.
pub fn offset_of(offset: i64) -> Offset {
    Offset::parse(Some(offset)).expect("valid offset")
}
