//! Download tokens: the grant a token resolves to.

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::audit::AuditEvent;
use releasy_domain::download::{DownloadGrant, DownloadToken, MaxUses};
use releasy_domain::ports::{DownloadTokenRepository, RepoError};
use releasy_domain::{DownloadTokenId, Timestamp};

use crate::read_cache::coherence::{Generations, Table};
use crate::read_cache::entries::Entries;

/// A grant joins the token to its artifact, release and customer.
const TABLES: &[Table] = &[
    Table::DownloadTokens,
    Table::Artifacts,
    Table::Releases,
    Table::Customers,
];

#[derive(Debug)]
pub(crate) struct CachedDownloadTokens {
    inner: Arc<dyn DownloadTokenRepository>,
    generations: Arc<Generations>,
    grants: Entries<String, Option<DownloadGrant>>,
}

impl CachedDownloadTokens {
    pub(crate) fn new(
        inner: Arc<dyn DownloadTokenRepository>,
        generations: Arc<Generations>,
        max_rows: u64,
    ) -> Self {
        Self {
            inner,
            grants: Entries::new(generations.clone(), "download_grants", TABLES, max_rows),
            generations,
        }
    }
}

#[async_trait]
impl DownloadTokenRepository for CachedDownloadTokens {
    /// Tokens are only ever added or deleted with their release; a new token changes
    /// no cached grant (unknown hashes are never cached), so nothing is invalidated.
    async fn insert(&self, token: &DownloadToken, event: &AuditEvent) -> Result<(), RepoError> {
        self.inner.insert(token, event).await
    }

    async fn insert_many(&self, issued: &[(DownloadToken, AuditEvent)]) -> Result<(), RepoError> {
        self.inner.insert_many(issued).await
    }

    /// A purge removes cached grants too: a purged token is then unknown everywhere.
    async fn purge_expired_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        self.generations
            .after_write(
                &[Table::DownloadTokens],
                self.inner.purge_expired_before(cutoff, limit),
            )
            .await
    }

    /// Counting a use changes no grant (the limit is part of the token; the count is
    /// read by no cached answer), so nothing is invalidated.
    async fn consume_use(&self, id: DownloadTokenId, max_uses: MaxUses) -> Result<bool, RepoError> {
        self.inner.consume_use(id, max_uses).await
    }

    /// Like the count, changes no grant.
    async fn return_use(&self, id: DownloadTokenId) -> Result<(), RepoError> {
        self.inner.return_use(id).await
    }

    async fn find_grant(&self, token_hash: &str) -> Result<Option<DownloadGrant>, RepoError> {
        self.grants
            .get_or_load(
                &token_hash.to_owned(),
                Option::is_some,
                self.inner.find_grant(token_hash),
            )
            .await
    }
}
