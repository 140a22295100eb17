//! `ApiKeyRepository` on diesel.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::api_key::{ApiKey, AuthCandidate, KeyLookup, StoredKeyHash};
use releasy_domain::audit::AuditEvent;
use releasy_domain::ports::{ApiKeyRepository, ChangeEvent, RepoError};
use releasy_domain::{ApiKeyId, Timestamp};

use super::{Store, append_audit};
use crate::error::query_error;
use crate::rows::{ApiKeyRow, CandidateRow, candidate};
use crate::schema::api_keys::dsl;
use crate::schema::{api_keys, customers};

#[async_trait]
impl ApiKeyRepository for Store {
    async fn insert(&self, key: &ApiKey, event: &AuditEvent) -> Result<(), RepoError> {
        self.write(async |conn| {
            diesel::insert_into(dsl::api_keys)
                .values(ApiKeyRow::from(key))
                .execute(conn)
                .await?;
            Ok(append_audit(conn, std::slice::from_ref(event)).await?)
        })
        .await
    }

    async fn get(&self, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<ApiKeyRow> = dsl::api_keys
            .find(id.to_string())
            .select(ApiKeyRow::as_select())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn find_auth_candidates(
        &self,
        lookup: &KeyLookup,
        legacy_digest: &str,
    ) -> Result<Vec<AuthCandidate>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<CandidateRow> = api_keys::table
            .inner_join(customers::table)
            .filter(
                api_keys::key_lookup
                    .eq(lookup.as_str())
                    .or(api_keys::key_hash.eq(legacy_digest)),
            )
            .select((
                api_keys::id,
                api_keys::customer_id,
                api_keys::key_hash,
                api_keys::scopes,
                api_keys::key_type,
                api_keys::expires_at,
                api_keys::revoked_at,
                api_keys::last_used_at,
                customers::suspended_at,
            ))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(candidate).collect()
    }

    async fn upgrade_hash(
        &self,
        id: ApiKeyId,
        hash: &StoredKeyHash,
        lookup: &KeyLookup,
    ) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::update(dsl::api_keys.find(id.to_string()))
            .set((
                dsl::key_hash.eq(hash.as_str()),
                dsl::key_lookup.eq(lookup.as_str()),
            ))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn touch_last_used(&self, id: ApiKeyId, at: Timestamp) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::update(dsl::api_keys.find(id.to_string()))
            .set(dsl::last_used_at.eq(at.unix_seconds()))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn revoke(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        event: ChangeEvent<'_, ApiKey>,
    ) -> Result<bool, RepoError> {
        let id = id.to_string();
        self.write(async |conn| {
            // Only a key not yet revoked changes (the first revocation time is kept),
            // and only that change is recorded.
            let revoked: Option<ApiKeyRow> = diesel::update(
                dsl::api_keys
                    .find(&id)
                    .filter(dsl::revoked_at.is_null()),
            )
            .set(dsl::revoked_at.eq(at.unix_seconds()))
            .returning(ApiKeyRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            match revoked {
                Some(row) => {
                    let key: ApiKey = row.try_into()?;
                    append_audit(conn, &[event(&key)]).await?;
                    Ok(true)
                }
                None => {
                    let exists: Option<String> = dsl::api_keys
                        .find(&id)
                        .select(dsl::id)
                        .first(conn)
                        .await
                        .optional()?;
                    Ok(exists.is_some())
                }
            }
        })
        .await
    }
}
