//! `ApiKeyRepository` on diesel.

use std::net::IpAddr;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::api_key::{
    ApiKey, AuthCandidate, KeyChanges, KeyLookup, Rotation, StoredKeyHash,
};
use releasy_domain::audit::AuditEvent;
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ApiKeyRepository, ChangeEvents, RepoError};
use releasy_domain::{ApiKeyId, CustomerId, Timestamp};

use super::{Store, api_key_for_update, append_audit};
use crate::error::query_error;
use crate::repos::coalesce;
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
            .select(candidate_columns())
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(candidate).collect()
    }

    async fn unindexed_candidates(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuthCandidate>, RepoError> {
        let mut conn = self.conn().await?;
        let now = now.unix_seconds();
        // The lookup's index holds its NULLs too: this reads only the keys without one
        // (those, and the legacy SHA-256 ones, which a digest finds).
        let rows: Vec<CandidateRow> = api_keys::table
            .inner_join(customers::table)
            .filter(api_keys::key_lookup.is_null())
            .filter(api_keys::key_hash.like("$argon2%"))
            .filter(api_keys::revoked_at.is_null().or(api_keys::revoked_at.gt(now)))
            .filter(api_keys::expires_at.is_null().or(api_keys::expires_at.gt(now)))
            // The most recently used first (never used last, on both databases).
            .order_by((
                coalesce(api_keys::last_used_at, Some(-1_i64)).desc(),
                api_keys::id,
            ))
            .limit(i64::from(limit))
            .select(candidate_columns())
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

    async fn touch_last_used(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        client: Option<IpAddr>,
    ) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        // An unknown address (an embedding service that has none) is stored as unknown:
        // the address always describes the use in last_used_at.
        diesel::update(dsl::api_keys.find(id.to_string()))
            .set((
                dsl::last_used_at.eq(at.unix_seconds()),
                dsl::last_used_address.eq(client.map(|address| address.to_string())),
            ))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn update(
        &self,
        id: ApiKeyId,
        changes: &KeyChanges,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<Option<ApiKey>, RepoError> {
        let id = id.to_string();
        self.write(async |conn| {
            // Read under the row's lock, so `before` is what this update replaces.
            let Some(before) = api_key_for_update(conn, &id).await? else {
                return Ok(None);
            };
            let before: ApiKey = before.try_into()?;
            let after = changes.apply_to(&before);
            let row = ApiKeyRow::from(&after);
            diesel::update(dsl::api_keys.find(&id))
                .set((
                    dsl::name.eq(row.name),
                    dsl::allowed_cidrs.eq(row.allowed_cidrs),
                ))
                .execute(conn)
                .await?;
            append_audit(conn, &events(&before, &after)).await?;
            Ok(Some(after))
        })
        .await
    }

    async fn list_for_customer(
        &self,
        customer_id: CustomerId,
        page: PageRequest,
    ) -> Result<Vec<ApiKey>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ApiKeyRow> = dsl::api_keys
            .filter(dsl::customer_id.eq(customer_id.to_string()))
            .order((dsl::created_at.desc(), dsl::id.desc()))
            .offset(page.offset.get() as i64)
            .limit(i64::from(page.limit.get()))
            .select(ApiKeyRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn revoke(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<bool, RepoError> {
        let id = id.to_string();
        self.write(async |conn| {
            // Read under the row's lock, so `before` is what this revocation replaces.
            let Some(before) = api_key_for_update(conn, &id).await? else {
                return Ok(false);
            };
            let before: ApiKey = before.try_into()?;
            // Revoked by now already: the first time is kept and nothing is recorded.
            if before.is_revoked_at(at) {
                return Ok(true);
            }
            let after: ApiKeyRow = diesel::update(dsl::api_keys.find(&id))
                .set(dsl::revoked_at.eq(at.unix_seconds()))
                .returning(ApiKeyRow::as_returning())
                .get_result(conn)
                .await?;
            let after: ApiKey = after.try_into()?;
            append_audit(conn, &events(&before, &after)).await?;
            Ok(true)
        })
        .await
    }

    async fn rotate(&self, rotation: &Rotation, events: &[AuditEvent]) -> Result<bool, RepoError> {
        let old_id = rotation.old_id().to_string();
        self.write(async |conn| {
            // Read under the row's lock: the plan applies only to the key it was made
            // from (no revocation, the same settings), never over a concurrent change.
            let Some(current) = api_key_for_update(conn, &old_id).await? else {
                return Ok(false);
            };
            if !rotation.applies_to(&current.try_into()?) {
                return Ok(false);
            }
            diesel::update(dsl::api_keys.find(&old_id))
                .set(dsl::revoked_at.eq(rotation.retires_at.unix_seconds()))
                .execute(conn)
                .await?;
            diesel::insert_into(dsl::api_keys)
                .values(ApiKeyRow::from(&rotation.successor))
                .execute(conn)
                .await?;
            append_audit(conn, events).await?;
            Ok(true)
        })
        .await
    }
}

/// The columns of a [`CandidateRow`]: the key's, and its customer's suspension.
fn candidate_columns() -> (
    api_keys::id,
    api_keys::customer_id,
    api_keys::key_hash,
    api_keys::scopes,
    api_keys::key_type,
    api_keys::expires_at,
    api_keys::revoked_at,
    api_keys::last_used_at,
    customers::suspended_at,
    api_keys::allowed_cidrs,
) {
    (
        api_keys::id,
        api_keys::customer_id,
        api_keys::key_hash,
        api_keys::scopes,
        api_keys::key_type,
        api_keys::expires_at,
        api_keys::revoked_at,
        api_keys::last_used_at,
        customers::suspended_at,
        api_keys::allowed_cidrs,
    )
}
