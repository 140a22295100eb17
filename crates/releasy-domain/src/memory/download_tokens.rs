//! `DownloadTokenRepository` on the in-memory release store, joined to the in-memory
//! customers for suspension.

use async_trait::async_trait;

use super::{InMemoryReleases, lock};
use crate::audit::AuditEvent;
use crate::download::{DownloadGrant, DownloadToken, MaxUses};
use crate::ports::{CustomerRepository, DownloadTokenRepository, RepoError};
use crate::{DownloadTokenId, Timestamp};

#[async_trait]
impl DownloadTokenRepository for InMemoryReleases {
    async fn insert(&self, token: &DownloadToken, event: &AuditEvent) -> Result<(), RepoError> {
        self.insert_many(&[(token.clone(), event.clone())]).await
    }

    async fn insert_many(&self, issued: &[(DownloadToken, AuditEvent)]) -> Result<(), RepoError> {
        let tokens: Vec<DownloadToken> = issued.iter().map(|(token, _)| token.clone()).collect();
        // Every token is checked (against the store and the ones before it in the
        // batch) before any is stored, so a failure stores none, like one statement.
        let mut state = lock(&self.state);
        for (i, token) in tokens.iter().enumerate() {
            let taken = state
                .tokens
                .iter()
                .chain(&tokens[..i])
                .any(|t| t.id == token.id || t.token_hash == token.token_hash);
            if taken {
                return Err(RepoError::Conflict);
            }
            if !state.artifacts.iter().any(|a| a.id == token.artifact_id) {
                return Err(RepoError::MissingReference);
            }
        }
        state.tokens.extend(tokens);
        let events: Vec<AuditEvent> = issued.iter().map(|(_, event)| event.clone()).collect();
        self.record(&events);
        Ok(())
    }

    async fn purge_expired_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        let mut state = lock(&self.state);
        let mut purged = 0;
        state.tokens.retain(|token| {
            let expired = token.expires_at < cutoff && purged < limit;
            purged += u32::from(expired);
            !expired
        });
        Ok(u64::from(purged))
    }

    async fn consume_use(&self, id: DownloadTokenId, max_uses: MaxUses) -> Result<bool, RepoError> {
        let mut state = lock(&self.state);
        if !state.tokens.iter().any(|t| t.id == id) {
            return Ok(false);
        }
        let uses = state.token_uses.entry(id).or_default();
        if *uses >= max_uses.get() {
            return Ok(false);
        }
        *uses += 1;
        Ok(true)
    }

    async fn return_use(&self, id: DownloadTokenId) -> Result<(), RepoError> {
        let mut state = lock(&self.state);
        if let Some(uses) = state.token_uses.get_mut(&id) {
            *uses = uses.saturating_sub(1);
        }
        Ok(())
    }

    async fn find_grant(&self, token_hash: &str) -> Result<Option<DownloadGrant>, RepoError> {
        // Read under the lock, then release it before asking the customers (which await).
        let joined = {
            let state = lock(&self.state);
            state
                .tokens
                .iter()
                .find(|t| t.token_hash == token_hash)
                .and_then(|token| {
                    let artifact = state.artifacts.iter().find(|a| a.id == token.artifact_id)?;
                    let release = state
                        .releases
                        .iter()
                        .find(|r| r.id == artifact.release_id)?;
                    Some((token.clone(), artifact.clone(), release.clone()))
                })
        };
        let Some((token, artifact, release)) = joined else {
            return Ok(None);
        };
        // An inner join, like the database's: a token needs its customer.
        let Some(customer) = self.customers.get(token.customer_id).await? else {
            return Ok(None);
        };
        Ok(Some(DownloadGrant {
            token,
            object_key: artifact.object_key,
            release_id: release.id,
            platform: artifact.platform,
            artifact_size: artifact.size,
            release_status: release.status,
            release_downloads_blocked: release.downloads_blocked(),
            release_channel: release.channel,
            release_published_at: release.first_published_at.or(release.published_at),
            release_version: release.version,
            product: release.product,
            customer_suspended_at: customer.suspended_at,
            verification: artifact.verification,
            object_etag: artifact.object_etag,
            object_version: artifact.object_version,
        }))
    }
}
