//! Issuing, listing, rotating and revoking customer API keys.

use std::sync::Arc;

use crate::api_key::{
    ApiKey, ApiKeySecret, KeyChanges, KeyType, NewApiKeyRequest, Rotation, RotationOverlap,
    RotationRefusal, ScopeSet, check_rotatable,
};
use crate::audit::{AuditEvent, Origin};
use crate::pagination::PageRequest;
use crate::ports::{
    ApiKeyRepository, Clock, CustomerRepository, HashError, KeyHasher, RepoError, SecretGenerator,
};
use crate::{ApiKeyId, CustomerId, Timestamp, ValidationError};

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

/// Why a key could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateKeyError {
    /// No key has that id.
    #[error("api key not found")]
    NotFound,
    /// The request names no field to change.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why a customer's keys could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListKeysError {
    /// The customer does not exist.
    #[error("customer not found")]
    CustomerNotFound,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A key just rotated: the successor (its secret shown once) and when the old key
/// stops working.
#[derive(Debug, Clone)]
pub struct RotatedKey {
    /// The new key.
    pub successor: IssuedKey,
    /// The key it replaces.
    pub replaced_key_id: ApiKeyId,
    /// When the replaced key stops working: the end of the overlap.
    pub replaced_key_revoked_at: Timestamp,
}

/// Why a key could not be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RotateKeyError {
    /// No key has that id.
    #[error("api key not found")]
    NotFound,
    /// The key is revoked, already being rotated, or expired.
    #[error(transparent)]
    Refused(#[from] RotationRefusal),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Issues, lists, rotates and revokes customer API keys.
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
///         allowed_networks: None,
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
        let fresh = self.fresh_key(request.customer_id, now).await?;
        let key = ApiKey {
            name: request.name,
            key_type: request.key_type.into(),
            scopes: request.scopes.into(),
            expires_at: request.expires_at,
            allowed_networks: request.allowed_networks,
            ..fresh.key
        };
        self.keys
            .insert(&key, &AuditEvent::key_created(origin, &key))
            .await?;
        Ok(IssuedKey {
            key,
            secret: fresh.secret,
        })
    }

    /// Changes a key's name or address rule; the rule applies from the key's next
    /// request. Revoked keys may be changed too (the change is recorded and harmless).
    ///
    /// # Errors
    /// [`UpdateKeyError::Invalid`] when `changes` names no field,
    /// [`UpdateKeyError::NotFound`] for an unknown id.
    pub async fn update(
        &self,
        origin: &Origin,
        id: ApiKeyId,
        changes: KeyChanges,
    ) -> Result<ApiKey, UpdateKeyError> {
        if changes.is_empty() {
            return Err(ValidationError::new(
                "body",
                "nothing to change: send name or allowed_cidrs (or both)",
            )
            .into());
        }
        let now = self.clock.now();
        let events = |before: &ApiKey, after: &ApiKey| {
            vec![AuditEvent::key_updated(origin, before, after, now)]
        };
        self.keys
            .update(id, &changes, &events)
            .await?
            .ok_or(UpdateKeyError::NotFound)
    }

    /// A page of a customer's keys, newest first, revoked ones included (never a
    /// secret).
    ///
    /// # Errors
    /// [`ListKeysError::CustomerNotFound`] for an unknown customer.
    pub async fn list(
        &self,
        customer_id: CustomerId,
        page: PageRequest,
    ) -> Result<Vec<ApiKey>, ListKeysError> {
        if self.customers.get(customer_id).await?.is_none() {
            return Err(ListKeysError::CustomerNotFound);
        }
        Ok(self.keys.list_for_customer(customer_id, page).await?)
    }

    /// Issues a successor of key `id` with its settings (customer, name, type, scopes,
    /// expiry) and a new secret, and schedules the old key's revocation at the end of
    /// `overlap`: both work until then, so holders switch without an outage.
    ///
    /// # Errors
    /// [`RotateKeyError::NotFound`] for an unknown id; [`RotateKeyError::Refused`]
    /// when the key is revoked, already being rotated, expired, or its stored type or
    /// scopes are unreadable (also when that happened while this rotation ran: nothing
    /// is then written).
    pub async fn rotate(
        &self,
        origin: &Origin,
        id: ApiKeyId,
        overlap: RotationOverlap,
    ) -> Result<RotatedKey, RotateKeyError> {
        /// Plans made again when the key changed between the read and the write.
        const ATTEMPTS: usize = 3;
        let old = self.keys.get(id).await?.ok_or(RotateKeyError::NotFound)?;
        check_rotatable(&old, self.clock.now())?;
        // Hashed once: the secret does not depend on the old key's settings.
        let fresh = self.fresh_key(old.customer_id, self.clock.now()).await?;
        let mut old = old;
        for _ in 0..ATTEMPTS {
            let now = self.clock.now();
            check_rotatable(&old, now)?;
            let rotation = Rotation::plan(&old, fresh.key.clone(), overlap, now);
            let events = [
                AuditEvent::key_created(origin, &rotation.successor),
                AuditEvent::key_rotated(origin, &rotation, &old),
            ];
            if self.keys.rotate(&rotation, &events).await? {
                return Ok(RotatedKey {
                    replaced_key_id: rotation.old_id(),
                    replaced_key_revoked_at: rotation.retires_at,
                    successor: IssuedKey {
                        key: rotation.successor,
                        secret: fresh.secret,
                    },
                });
            }
            // Revoked, rotated or changed since it was read: read it again, and either
            // refuse for what happened or plan from what it is now.
            old = self.keys.get(id).await?.ok_or(RotateKeyError::NotFound)?;
        }
        Err(RotationRefusal::Contended.into())
    }

    /// A new key for `customer_id` issued at `now` with a new secret, its hash and
    /// lookup, and default settings for the caller to replace.
    async fn fresh_key(
        &self,
        customer_id: CustomerId,
        now: Timestamp,
    ) -> Result<IssuedKey, HashError> {
        let secret = self.secrets.new_api_key();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            customer_id,
            name: None,
            key_type: KeyType::default().into(),
            scopes: ScopeSet::all().into(),
            hash: self.hasher.hash(&secret).await?,
            lookup: secret.lookup(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            last_used_address: None,
            allowed_networks: None,
        };
        Ok(IssuedKey { key, secret })
    }

    /// Revokes a key; it stops working on the next request. Revoking twice keeps the
    /// first revocation time; revoking a key being rotated ends its overlap now.
    ///
    /// # Errors
    /// [`RevokeKeyError::NotFound`] for an unknown id.
    pub async fn revoke(&self, origin: &Origin, id: ApiKeyId) -> Result<ApiKeyId, RevokeKeyError> {
        let events = |before: &ApiKey, revoked: &ApiKey| {
            vec![AuditEvent::key_revoked(origin, before, revoked)]
        };
        if self.keys.revoke(id, self.clock.now(), &events).await? {
            Ok(id)
        } else {
            Err(RevokeKeyError::NotFound)
        }
    }
}
