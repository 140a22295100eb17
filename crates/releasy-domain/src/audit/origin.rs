//! Who made a change and through which request: what every audit event of a change
//! records besides the change itself.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::access::{Credential, Operator};
use crate::{ApiKeyId, CustomerId};

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
}

impl Origin {
    /// A change by `actor`, outside any request until told otherwise.
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            request_id: None,
            client: None,
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
