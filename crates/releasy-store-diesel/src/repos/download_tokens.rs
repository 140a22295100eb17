//! `DownloadTokenRepository` on diesel: tokens are found by their hash (a unique
//! index), joined in the same query to their artifact, release and customer.
//! `insert_many` writes a batch, with the tokens' audit events, with one commit
//! (multi-row `INSERT`s; on PostgreSQL usually one statement, `linked_batch.rs`).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::{DownloadTokenId, Timestamp};
use releasy_domain::audit::AuditEvent;
use releasy_domain::download::{DownloadGrant, DownloadToken, MaxUses};
use releasy_domain::ports::{DownloadTokenRepository, RepoError};

use super::Store;
use crate::error::query_error;
use crate::repos::coalesce;
use crate::rows::{DownloadTokenRow, GrantRow, grant};
use crate::schema::{artifacts, customers, download_tokens, releases};

#[async_trait]
impl DownloadTokenRepository for Store {
    async fn insert(&self, token: &DownloadToken, event: &AuditEvent) -> Result<(), RepoError> {
        self.insert_many(&[(token.clone(), event.clone())]).await
    }

    async fn insert_many(&self, issued: &[(DownloadToken, AuditEvent)]) -> Result<(), RepoError> {
        if issued.is_empty() {
            return Ok(());
        }
        let rows = issued
            .iter()
            .map(|(token, _)| DownloadTokenRow::from(token))
            .collect();
        let events: Vec<AuditEvent> = issued.iter().map(|(_, event)| event.clone()).collect();
        self.write_batch(rows, &events).await
    }

    async fn purge_expired_before(
        &self,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<u64, RepoError> {
        let mut conn = self.conn().await?;
        // Found through the expiry index, then deleted by id: a batch at a time.
        let expired: Vec<String> = download_tokens::table
            .filter(download_tokens::expires_at.lt(cutoff.unix_seconds()))
            .select(download_tokens::id)
            .limit(i64::from(limit))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        if expired.is_empty() {
            return Ok(0);
        }
        let purged =
            diesel::delete(download_tokens::table.filter(download_tokens::id.eq_any(&expired)))
                .execute(&mut *conn)
                .await
                .map_err(query_error)?;
        Ok(purged as u64)
    }

    async fn consume_use(
        &self,
        id: DownloadTokenId,
        max_uses: MaxUses,
    ) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        // One statement: the row lock (PostgreSQL) or the write lock (SQLite) makes the
        // check and the count one step, whatever other instances do at the same time.
        let counted = diesel::update(
            download_tokens::table
                .find(id.to_string())
                .filter(download_tokens::uses.lt(max_uses.to_stored())),
        )
        .set(download_tokens::uses.eq(download_tokens::uses + 1))
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(counted == 1)
    }

    async fn return_use(&self, id: DownloadTokenId) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::update(
            download_tokens::table
                .find(id.to_string())
                .filter(download_tokens::uses.gt(0)),
        )
        .set(download_tokens::uses.eq(download_tokens::uses - 1))
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(())
    }

    async fn find_grant(&self, token_hash: &str) -> Result<Option<DownloadGrant>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<GrantRow> = download_tokens::table
            .inner_join(artifacts::table.inner_join(releases::table))
            .inner_join(customers::table.on(customers::id.eq(download_tokens::customer_id)))
            .filter(download_tokens::token_hash.eq(token_hash))
            .select((
                DownloadTokenRow::as_select(),
                artifacts::object_key,
                artifacts::verification,
                artifacts::object_etag,
                artifacts::object_version,
                artifacts::platform,
                artifacts::size,
                releases::id,
                releases::product,
                releases::status,
                releases::yank_blocks_downloads,
                releases::version,
                releases::channel,
                // The fallback judges by the first publication.
                coalesce(releases::first_published_at, releases::published_at),
                customers::suspended_at,
            ))
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        row.map(grant).transpose()
    }
}
