//! API keys: the candidates a presented key is checked against, on every customer
//! request.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use quick_cache::sync::Cache;
use releasy_domain::api_key::{
    ApiKey, AuthCandidate, KeyChanges, KeyLookup, Rotation, StoredKeyHash,
};
use releasy_domain::audit::AuditEvent;
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ApiKeyRepository, ChangeEvents, RepoError};
use releasy_domain::{ApiKeyId, CustomerId, Timestamp};

use crate::read_cache::coherence::{Generations, Table};
use crate::read_cache::entries::Entries;

/// A candidate carries its customer's suspension, so both tables decide it.
const TABLES: &[Table] = &[Table::ApiKeys, Table::Customers];
/// What this repository's writes change.
const TABLES_WRITTEN: &[Table] = &[Table::ApiKeys];

#[derive(Debug)]
pub(crate) struct CachedApiKeys {
    inner: Arc<dyn ApiKeyRepository>,
    generations: Arc<Generations>,
    candidates: Entries<(KeyLookup, String), Vec<AuthCandidate>>,
    /// Last uses recorded through this instance. Recording one changes no access
    /// decision, so it does not invalidate; instead cached candidates are shown with
    /// it, which keeps the once-a-minute throttle of `touch_last_used` working.
    last_used: Cache<ApiKeyId, Timestamp>,
}

impl CachedApiKeys {
    pub(crate) fn new(
        inner: Arc<dyn ApiKeyRepository>,
        generations: Arc<Generations>,
        max_rows: u64,
    ) -> Self {
        Self {
            inner,
            candidates: Entries::new(generations.clone(), "api_key_candidates", TABLES, max_rows),
            last_used: Cache::new(usize::try_from(max_rows).unwrap_or(usize::MAX).max(16)),
            generations,
        }
    }

    async fn write<T>(&self, write: impl Future<Output = T>) -> T {
        self.generations.after_write(TABLES_WRITTEN, write).await
    }

    /// A write that can narrow what a key may do: answered once other instances'
    /// caches caught up.
    async fn withdrawal<T>(&self, write: impl Future<Output = T>) -> T {
        self.generations
            .after_withdrawal(TABLES_WRITTEN, write)
            .await
    }
}

#[async_trait]
impl ApiKeyRepository for CachedApiKeys {
    async fn insert(&self, key: &ApiKey, event: &AuditEvent) -> Result<(), RepoError> {
        self.write(self.inner.insert(key, event)).await
    }

    async fn get(&self, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError> {
        self.inner.get(id).await
    }

    async fn find_auth_candidates(
        &self,
        lookup: &KeyLookup,
        legacy_digest: &str,
    ) -> Result<Vec<AuthCandidate>, RepoError> {
        let key = (lookup.clone(), legacy_digest.to_owned());
        // An empty answer is kept too: issuing a key bumps the generation.
        let mut candidates = self
            .candidates
            .get_or_load(
                &key,
                |_| true,
                self.inner.find_auth_candidates(lookup, legacy_digest),
            )
            .await?;
        for candidate in &mut candidates {
            if let Some(used) = self.last_used.get(&candidate.id) {
                candidate.last_used_at = candidate.last_used_at.max(Some(used));
            }
        }
        Ok(candidates)
    }

    async fn unindexed_candidates(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuthCandidate>, RepoError> {
        // Rare (a carried-over key's first use) and never to be answered stale.
        self.inner.unindexed_candidates(now, limit).await
    }

    async fn upgrade_hash(
        &self,
        id: ApiKeyId,
        hash: &StoredKeyHash,
        lookup: &KeyLookup,
    ) -> Result<(), RepoError> {
        self.write(self.inner.upgrade_hash(id, hash, lookup)).await
    }

    async fn touch_last_used(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        client: Option<IpAddr>,
    ) -> Result<(), RepoError> {
        self.inner.touch_last_used(id, at, client).await?;
        self.last_used.insert(id, at);
        Ok(())
    }

    async fn update(
        &self,
        id: ApiKeyId,
        changes: &KeyChanges,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<Option<ApiKey>, RepoError> {
        self.withdrawal(self.inner.update(id, changes, events))
            .await
    }

    async fn list_for_customer(
        &self,
        customer_id: CustomerId,
        page: PageRequest,
    ) -> Result<Vec<ApiKey>, RepoError> {
        self.inner.list_for_customer(customer_id, page).await
    }

    async fn revoke(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<bool, RepoError> {
        self.withdrawal(self.inner.revoke(id, at, events)).await
    }

    async fn rotate(&self, rotation: &Rotation, events: &[AuditEvent]) -> Result<bool, RepoError> {
        self.withdrawal(self.inner.rotate(rotation, events)).await
    }
}
