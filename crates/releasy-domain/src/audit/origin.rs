//! Who made a change and through which request: what every audit event of a change
//! records besides the change itself.

use std::net::IpAddr;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::{Credential, Operator};
use crate::delivery::UserAgent;
use crate::idempotency::IdempotencyKey;
use crate::{ApiKeyId, CustomerId, NewId};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The admin bootstrap key.
    AdminKey,
    /// An operator signed in with a token from the identity provider.
    Operator {
        /// The token's `sub`.
        subject: String,
    },
    /// A customer API key.
    ApiKey {
        /// The key.
        key_id: ApiKeyId,
        /// Its customer.
        customer_id: CustomerId,
    },
    /// The server itself (the verifier, the sweeper, retention).
    System,
}

impl Actor {
    /// The event's `actor` value.
    pub const fn name(&self) -> &'static str {
        match self {
            Actor::AdminKey => "admin_key",
            Actor::Operator { .. } => "operator",
            Actor::ApiKey { .. } => "api_key",
            Actor::System => "system",
        }
    }

    /// The actor's own id: the operator's `sub`, the key's id; `None` for the admin key
    /// (there is one) and the system.
    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Operator { subject } => Some(subject.clone()),
            Actor::ApiKey { key_id, .. } => Some(key_id.to_string()),
            Actor::AdminKey | Actor::System => None,
        }
    }
}

impl From<&Operator> for Actor {
    fn from(operator: &Operator) -> Self {
        match operator.credential {
            Credential::AdminKey => Actor::AdminKey,
            Credential::Token => Actor::Operator {
                subject: operator.subject.clone(),
            },
        }
    }
}

/// The actor of a change, the id of the request that made it and the address it came
/// from; [`Origin::system`] for what the server does by itself.
///
/// ```
/// use releasy_domain::access::Operator;
/// use releasy_domain::audit::{Actor, Origin};
///
/// let origin = Origin::new(Actor::from(&Operator::admin_key()))
///     .with_request_id("req-1")
///     .with_client(Some("203.0.113.9".parse().unwrap()));
/// assert_eq!(origin.actor.name(), "admin_key");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Who acted.
    pub actor: Actor,
    /// The request's id (`x-request-id`), when it came through one.
    pub request_id: Option<String>,
    /// The address the request came from, when known.
    pub client: Option<IpAddr>,
    /// The request's `User-Agent`, as the download ledger keeps it (audit events do
    /// not record it).
    pub user_agent: Option<UserAgent>,
    /// Set for a request made under an idempotency key: what the ids it creates are
    /// derived from ([`Origin::new_id`]).
    pub id_seed: Option<IdSeed>,
}

/// What the ids of one idempotent request are derived from: a SHA-256 over its scope
/// (endpoint and caller), its idempotency key and its fingerprint (its parsed body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdSeed([u8; 32]);

impl IdSeed {
    /// The seed of the request `fingerprint` made in `scope` under `key`.
    pub fn of(scope: &str, key: &IdempotencyKey, fingerprint: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"releasy-idempotent-ids-v1");
        for field in [scope, key.as_str(), fingerprint] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        Self(hasher.finalize().into())
    }

    /// The id of kind `kind` this seed gives: a version 8 UUID.
    fn id(&self, kind: &str) -> Uuid {
        let digest = Sha256::new()
            .chain_update(self.0)
            .chain_update(kind.as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}

impl Origin {
    /// A change by `actor`, outside any request until told otherwise.
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            request_id: None,
            client: None,
            user_agent: None,
            id_seed: None,
        }
    }

    /// A change made with the admin bootstrap key, outside any request.
    pub fn admin_key() -> Self {
        Self::new(Actor::AdminKey)
    }

    /// What the server does by itself.
    pub fn system() -> Self {
        Self::new(Actor::System)
    }

    /// The same origin, made through the request `id`.
    #[must_use]
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// The same origin, from `client`.
    #[must_use]
    pub fn with_client(mut self, client: Option<IpAddr>) -> Self {
        self.client = client;
        self
    }

    /// The same origin, with the request's `User-Agent` header (kept as
    /// [`UserAgent::keep`] keeps it).
    pub fn with_user_agent(mut self, header: Option<&str>) -> Self {
        self.user_agent = header.and_then(UserAgent::keep);
        self
    }

    /// The same origin, for a request made under an idempotency key: the ids it
    /// creates are derived from `seed`.
    #[must_use]
    pub fn with_id_seed(mut self, seed: IdSeed) -> Self {
        self.id_seed = Some(seed);
        self
    }

    /// The id of what this change creates: a fresh, time-ordered one; or, for a
    /// request made under an idempotency key, one derived from the key, the endpoint,
    /// the caller and the body. A retry of a request cut off after its change
    /// committed (its instance killed before the response was kept) then gets the same
    /// id: the store refuses a second row under it, and the retry finds the first
    /// instead of creating another.
    ///
    /// ```
    /// use releasy_domain::CustomerId;
    /// use releasy_domain::audit::{IdSeed, Origin};
    /// use releasy_domain::idempotency::IdempotencyKey;
    ///
    /// let key = IdempotencyKey::parse("create-acme").unwrap();
    /// let first = Origin::admin_key().with_id_seed(IdSeed::of("POST /v1/admin/customers", &key, "body"));
    /// let retry = Origin::admin_key().with_id_seed(IdSeed::of("POST /v1/admin/customers", &key, "body"));
    /// assert_eq!(first.new_id::<CustomerId>(), retry.new_id::<CustomerId>());
    /// assert_ne!(Origin::admin_key().new_id::<CustomerId>(), Origin::admin_key().new_id::<CustomerId>());
    /// ```
    pub fn new_id<T: NewId>(&self) -> T {
        match &self.id_seed {
            Some(seed) => T::from_uuid(seed.id(T::KIND)),
            None => T::generate(),
        }
    }

    /// The fields every change event's payload starts with: `actor_id`, `request_id`,
    /// `client_address` (each `null` when unknown).
    pub(crate) fn payload_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("actor_id".into(), json!(self.actor.id()));
        fields.insert("request_id".into(), json!(self.request_id));
        fields.insert(
            "client_address".into(),
            json!(self.client.map(|c| c.to_string())),
        );
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_keys_carry_their_ids_the_admin_key_none() {
        let token = Operator {
            subject: "alice".into(),
            credential: Credential::Token,
            roles: Operator::admin_key().roles,
        };
        assert_eq!(
            Actor::from(&token),
            Actor::Operator {
                subject: "alice".into()
            }
        );
        assert_eq!(Actor::from(&token).id().as_deref(), Some("alice"));
        assert_eq!(Actor::from(&Operator::admin_key()), Actor::AdminKey);
        assert_eq!(Actor::AdminKey.id(), None);
        let key = ApiKeyId::generate();
        let actor = Actor::ApiKey {
            key_id: key,
            customer_id: CustomerId::generate(),
        };
        assert_eq!(
            (actor.name(), actor.id()),
            ("api_key", Some(key.to_string()))
        );
        assert_eq!(Actor::System.name(), "system");
    }

    #[test]
    fn ids_derive_from_the_whole_request_and_differ_by_kind() {
        let key = IdempotencyKey::parse("k-1").unwrap();
        let seeded = |scope: &str, key: &IdempotencyKey, body: &str| {
            Origin::admin_key().with_id_seed(IdSeed::of(scope, key, body))
        };
        let origin = seeded("POST /v1/admin/customers admin", &key, "b");
        let id: CustomerId = origin.new_id();
        assert_eq!(
            id,
            origin.new_id::<CustomerId>(),
            "the same request, the same id"
        );
        assert_eq!(id.as_uuid().get_version_num(), 8);
        let other_key = IdempotencyKey::parse("k-2").unwrap();
        for other in [
            seeded("POST /v1/admin/customers other", &key, "b"),
            seeded("POST /v1/admin/customers admin", &other_key, "b"),
            seeded("POST /v1/admin/customers admin", &key, "c"),
        ] {
            assert_ne!(id, other.new_id::<CustomerId>());
        }
        assert_ne!(
            id.as_uuid(),
            origin.new_id::<crate::ReleaseId>().as_uuid(),
            "another kind, another id"
        );
        assert_eq!(
            Origin::admin_key()
                .new_id::<CustomerId>()
                .as_uuid()
                .get_version_num(),
            7
        );
    }

    #[test]
    fn payload_fields_name_the_request_and_the_client() {
        let fields = Origin::new(Actor::AdminKey)
            .with_request_id("r-1")
            .with_client(Some("2001:db8::1".parse().unwrap()))
            .payload_fields();
        assert_eq!(
            Value::Object(fields),
            json!({"actor_id": null, "request_id": "r-1", "client_address": "2001:db8::1"})
        );
    }
}
