//! `IdempotencyRepository` on diesel. The primary key `(scope, idem_key)` decides which
//! of several concurrent claims wins.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::Timestamp;
use releasy_domain::idempotency::{IdempotencyRecord, IdempotencyState, StoredResponse};
use releasy_domain::ports::{Claim, IdempotencyRepository, RepoError};

use super::Store;
use crate::error::query_error;
use crate::rows::{COMPLETED, IN_PROGRESS, IdempotencyRow};
use crate::schema::idempotency_keys::dsl;

#[async_trait]
impl IdempotencyRepository for Store {
    async fn claim(&self, record: &IdempotencyRecord) -> Result<Claim, RepoError> {
        let mut conn = self.conn().await?;
        // The existing row can vanish between the failed insert and the read
        // (its request failed and released it): then claim again.
        for _ in 0..3 {
            let inserted = diesel::insert_into(dsl::idempotency_keys)
                .values(IdempotencyRow::from(record))
                .on_conflict_do_nothing()
                .execute(&mut *conn)
                .await
                .map_err(query_error)?;
            if inserted == 1 {
                return Ok(Claim::Claimed);
            }
            let existing: Option<IdempotencyRow> = dsl::idempotency_keys
                .find((record.scope.as_str(), record.key.as_str()))
                .select(IdempotencyRow::as_select())
                .first(&mut *conn)
                .await
                .optional()
                .map_err(query_error)?;
            if let Some(row) = existing {
                return Ok(Claim::Existing(row.try_into()?));
            }
        }
        Err(RepoError::Conflict)
    }

    async fn complete(
        &self,
        claim: &IdempotencyRecord,
        response: &StoredResponse,
    ) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        // Only while the row is still this claim: a request presumed dead and
        // taken over must not overwrite its successor.
        let updated = diesel::update(
            dsl::idempotency_keys
                .filter(dsl::scope.eq(claim.scope.as_str()))
                .filter(dsl::idem_key.eq(claim.key.as_str()))
                .filter(dsl::state.eq(IN_PROGRESS))
                .filter(dsl::created_at.eq(claim.created_at.unix_seconds()))
                .filter(dsl::fingerprint.eq(claim.fingerprint.as_str())),
        )
        .set((
            dsl::state.eq(COMPLETED),
            dsl::response_status.eq(Some(i32::from(response.status))),
            dsl::response_body.eq(Some(response.body.as_str())),
        ))
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        if updated == 0 {
            // Released by the request that took it over: what this one did is kept,
            // so a retry replays it. A successor's record is left alone.
            let completed = IdempotencyRecord {
                state: IdempotencyState::Completed(response.clone()),
                ..claim.clone()
            };
            diesel::insert_into(dsl::idempotency_keys)
                .values(IdempotencyRow::from(&completed))
                .on_conflict_do_nothing()
                .execute(&mut *conn)
                .await
                .map_err(query_error)?;
        }
        Ok(())
    }

    async fn release(&self, claim: &IdempotencyRecord) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::delete(
            dsl::idempotency_keys
                .filter(dsl::scope.eq(claim.scope.as_str()))
                .filter(dsl::idem_key.eq(claim.key.as_str()))
                .filter(dsl::state.eq(IN_PROGRESS))
                .filter(dsl::created_at.eq(claim.created_at.unix_seconds()))
                .filter(dsl::fingerprint.eq(claim.fingerprint.as_str())),
        )
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(())
    }

    async fn purge_created_before(&self, cutoff: Timestamp) -> Result<u64, RepoError> {
        let mut conn = self.conn().await?;
        let deleted =
            diesel::delete(dsl::idempotency_keys.filter(dsl::created_at.lt(cutoff.unix_seconds())))
                .execute(&mut *conn)
                .await
                .map_err(query_error)?;
        Ok(deleted as u64)
    }
}
