//! API keys in a vector, joined to the in-memory customers for suspension.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{InMemoryCustomers, lock};
use crate::api_key::{ApiKey, AuthCandidate, KeyLookup, StoredKeyHash};
use crate::audit::AuditEvent;
use crate::ports::{ApiKeyRepository, ChangeEvent, CustomerRepository, RepoError};
use crate::{ApiKeyId, Timestamp};

/// API keys kept in memory.
#[derive(Debug)]
pub struct InMemoryApiKeys {
    rows: Mutex<Vec<ApiKey>>,
    customers: Arc<InMemoryCustomers>,
}

impl InMemoryApiKeys {
    /// Keys whose owners live in `customers`.
    pub fn new(customers: Arc<InMemoryCustomers>) -> Self {
        Self {
            rows: Mutex::default(),
            customers,
        }
    }
}

#[async_trait]
impl ApiKeyRepository for InMemoryApiKeys {
    async fn insert(&self, key: &ApiKey, event: &AuditEvent) -> Result<(), RepoError> {
        let mut rows = lock(&self.rows);
        if rows.iter().any(|k| k.id == key.id) {
            return Err(RepoError::Conflict);
        }
        rows.push(key.clone());
        self.customers.audit().append(std::slice::from_ref(event));
        Ok(())
    }

    async fn get(&self, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError> {
        Ok(lock(&self.rows).iter().find(|k| k.id == id).cloned())
    }

    async fn find_auth_candidates(
        &self,
        lookup: &KeyLookup,
        legacy_digest: &str,
    ) -> Result<Vec<AuthCandidate>, RepoError> {
        let matching: Vec<ApiKey> = lock(&self.rows)
            .iter()
            .filter(|k| {
                k.lookup == *lookup || (k.hash.is_legacy() && k.hash.as_str() == legacy_digest)
            })
            .cloned()
            .collect();
        let mut candidates = Vec::with_capacity(matching.len());
        for key in matching {
            let customer = self.customers.get(key.customer_id).await?;
            candidates.push(AuthCandidate {
                id: key.id,
                customer_id: key.customer_id,
                hash: key.hash,
                scopes: key.scopes.to_stored(),
                key_type: key.key_type.as_str().to_owned(),
                expires_at: key.expires_at,
                revoked_at: key.revoked_at,
                customer_suspended_at: customer.and_then(|c| c.suspended_at),
                last_used_at: key.last_used_at,
            });
        }
        Ok(candidates)
    }

    async fn upgrade_hash(
        &self,
        id: ApiKeyId,
        hash: &StoredKeyHash,
        lookup: &KeyLookup,
    ) -> Result<(), RepoError> {
        if let Some(key) = lock(&self.rows).iter_mut().find(|k| k.id == id) {
            key.hash = hash.clone();
            key.lookup = lookup.clone();
        }
        Ok(())
    }

    async fn touch_last_used(&self, id: ApiKeyId, at: Timestamp) -> Result<(), RepoError> {
        if let Some(key) = lock(&self.rows).iter_mut().find(|k| k.id == id) {
            key.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn revoke(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        event: ChangeEvent<'_, ApiKey>,
    ) -> Result<bool, RepoError> {
        let mut rows = lock(&self.rows);
        let Some(key) = rows.iter_mut().find(|k| k.id == id) else {
            return Ok(false);
        };
        if key.revoked_at.is_none() {
            key.revoked_at = Some(at);
            self.customers.audit().append(&[event(key)]);
        }
        Ok(true)
    }
}
