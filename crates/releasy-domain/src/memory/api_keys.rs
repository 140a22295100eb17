//! API keys in a vector, joined to the in-memory customers for suspension.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{InMemoryCustomers, lock};
use crate::api_key::{ApiKey, AuthCandidate, KeyChanges, KeyLookup, Rotation, StoredKeyHash};
use crate::audit::AuditEvent;
use crate::pagination::PageRequest;
use crate::ports::{ApiKeyRepository, ChangeEvents, CustomerRepository, RepoError};
use crate::{ApiKeyId, CustomerId, Timestamp};

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

impl InMemoryApiKeys {
    /// `keys` as authentication reads them, with their customers' suspension.
    async fn candidates(&self, keys: Vec<ApiKey>) -> Result<Vec<AuthCandidate>, RepoError> {
        let mut candidates = Vec::with_capacity(keys.len());
        for key in keys {
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
                allowed_cidrs: key.allowed_networks.as_ref().map(|n| n.to_stored()),
            });
        }
        Ok(candidates)
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
        self.candidates(matching).await
    }

    async fn unindexed_candidates(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuthCandidate>, RepoError> {
        let mut unindexed: Vec<ApiKey> = lock(&self.rows)
            .iter()
            .filter(|k| k.lookup.as_str().is_empty() && !k.hash.is_legacy())
            .filter(|k| !k.is_revoked_at(now) && !k.is_expired_at(now))
            .cloned()
            .collect();
        unindexed.sort_by_key(|k| std::cmp::Reverse(k.last_used_at));
        unindexed.truncate(limit as usize);
        self.candidates(unindexed).await
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

    async fn touch_last_used(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        client: Option<IpAddr>,
    ) -> Result<(), RepoError> {
        if let Some(key) = lock(&self.rows).iter_mut().find(|k| k.id == id) {
            key.last_used_at = Some(at);
            key.last_used_address = client;
        }
        Ok(())
    }

    async fn update(
        &self,
        id: ApiKeyId,
        changes: &KeyChanges,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<Option<ApiKey>, RepoError> {
        let mut rows = lock(&self.rows);
        let Some(key) = rows.iter_mut().find(|k| k.id == id) else {
            return Ok(None);
        };
        let before = key.clone();
        *key = changes.apply_to(&before);
        self.customers.audit().append(&events(&before, key));
        Ok(Some(key.clone()))
    }

    async fn list_for_customer(
        &self,
        customer_id: CustomerId,
        page: PageRequest,
    ) -> Result<Vec<ApiKey>, RepoError> {
        let mut keys: Vec<ApiKey> = lock(&self.rows)
            .iter()
            .filter(|k| k.customer_id == customer_id)
            .cloned()
            .collect();
        keys.sort_by(newest_first);
        Ok(keys
            .into_iter()
            .skip(page.offset.get() as usize)
            .take(page.limit.get() as usize)
            .collect())
    }

    async fn revoke(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<bool, RepoError> {
        let mut rows = lock(&self.rows);
        let Some(key) = rows.iter_mut().find(|k| k.id == id) else {
            return Ok(false);
        };
        if !key.is_revoked_at(at) {
            let before = key.clone();
            key.revoked_at = Some(at);
            self.customers.audit().append(&events(&before, key));
        }
        Ok(true)
    }

    async fn rotate(&self, rotation: &Rotation, events: &[AuditEvent]) -> Result<bool, RepoError> {
        let mut rows = lock(&self.rows);
        if rows.iter().any(|k| k.id == rotation.successor.id) {
            return Err(RepoError::Conflict);
        }
        let Some(old) = rows
            .iter_mut()
            .find(|k| k.id == rotation.old_id() && rotation.applies_to(k))
        else {
            return Ok(false);
        };
        old.revoked_at = Some(rotation.retires_at);
        rows.push(rotation.successor.clone());
        self.customers.audit().append(events);
        Ok(true)
    }
}

/// Newest first; the id breaks ties (as the stored text orders them) so the order is
/// stable.
fn newest_first(a: &ApiKey, b: &ApiKey) -> std::cmp::Ordering {
    b.created_at
        .cmp(&a.created_at)
        .then_with(|| b.id.cmp(&a.id))
}
