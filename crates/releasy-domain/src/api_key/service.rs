//! Issuing and revoking customer API keys.

use std::sync::Arc;

use crate::api_key::{ApiKey, ApiKeySecret, NewApiKeyRequest};
use crate::audit::{AuditEvent, Origin};
use crate::ports::{
    ApiKeyRepository, Clock, CustomerRepository, HashError, KeyHasher, RepoError, SecretGenerator,
};
use crate::{ApiKeyId, ValidationError};

/// A key just issued: the stored record and the raw secret, shown to its holder once.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The stored record.
    pub key: ApiKey,
    /// The raw key.
    pub secret: ApiKeySecret,
}

/// Why a key could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum CreateKeyError {
    /// The request breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The customer does not exist.
    #[error("customer not found")]
    CustomerNotFound,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Why a key could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeKeyError {
    /// No key has that id.
    #[error("api key not found")]
    NotFound,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Issues and revokes customer API keys.
///
/// The raw key is in the [`IssuedKey`] only: it is stored as an Argon2id hash.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::api_key::{KeyType, NewApiKeyRequest, ScopeSet};
/// use releasy_domain::audit::{Actor, Origin};
/// use releasy_domain::customer::CustomerName;
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
///
/// let admin = Origin::new(Actor::AdminKey);
/// let acme = releasy.customers.create(&admin, CustomerName::parse("Acme").unwrap(), None).await.unwrap();
/// let issued = releasy
///     .api_keys
///     .create(&admin, NewApiKeyRequest {
///         customer_id: acme.id,
///         name: None,
///         key_type: KeyType::Ci,
///         scopes: ScopeSet::parse(&["downloads:token"]).unwrap(),
///         expires_at: None,
///     })
///     .await
///     .unwrap();
/// assert!(issued.secret.expose().starts_with("releasy_"));
/// releasy.api_keys.revoke(&admin, issued.key.id).await.unwrap();
/// assert!(releasy.authenticator.authenticate(Some(issued.secret.expose())).await.is_err());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ApiKeyService {
    keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
    secrets: Arc<dyn SecretGenerator>,
    hasher: Arc<dyn KeyHasher>,
    clock: Arc<dyn Clock>,
}

impl ApiKeyService {
    /// A service over the given ports.
    pub fn new(
        keys: Arc<dyn ApiKeyRepository>,
        customers: Arc<dyn CustomerRepository>,
        secrets: Arc<dyn SecretGenerator>,
        hasher: Arc<dyn KeyHasher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            customers,
            secrets,
            hasher,
            clock,
        }
    }

    /// Issues a key for an existing customer. Only its Argon2id hash is stored.
    ///
    /// # Errors
    /// [`CreateKeyError::CustomerNotFound`] for an unknown customer,
    /// [`CreateKeyError::Invalid`] when `expires_at` is not in the future.
    pub async fn create(
        &self,
        origin: &Origin,
        request: NewApiKeyRequest,
    ) -> Result<IssuedKey, CreateKeyError> {
        let now = self.clock.now();
        if request.expires_at.is_some_and(|expires| expires <= now) {
            return Err(ValidationError::new("expires_at", "must be in the future").into());
        }
        if self.customers.get(request.customer_id).await?.is_none() {
            return Err(CreateKeyError::CustomerNotFound);
        }
        let secret = self.secrets.new_api_key();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            customer_id: request.customer_id,
            name: request.name,
            key_type: request.key_type,
            scopes: request.scopes,
            hash: self.hasher.hash(&secret).await?,
            lookup: secret.lookup(),
            created_at: now,
            expires_at: request.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        self.keys
            .insert(&key, &AuditEvent::key_created(origin, &key))
            .await?;
        Ok(IssuedKey { key, secret })
    }

    /// Revokes a key; it stops working on the next request. Revoking twice keeps the
    /// first revocation time.
    ///
    /// # Errors
    /// [`RevokeKeyError::NotFound`] for an unknown id.
    pub async fn revoke(&self, origin: &Origin, id: ApiKeyId) -> Result<ApiKeyId, RevokeKeyError> {
        let event = |revoked: &ApiKey| AuditEvent::key_revoked(origin, revoked);
        if self.keys.revoke(id, self.clock.now(), &event).await? {
            Ok(id)
        } else {
            Err(RevokeKeyError::NotFound)
        }
    }
}
