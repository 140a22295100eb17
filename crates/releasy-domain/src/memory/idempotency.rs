//! Idempotency records in a map.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::idempotency::{IdempotencyRecord, IdempotencyState, StoredResponse};
use crate::ports::{Claim, IdempotencyRepository, RepoError};

/// Idempotency records kept in memory, keyed by `(scope, key)`.
#[derive(Debug, Default)]
pub struct InMemoryIdempotency {
    rows: Mutex<HashMap<(String, String), IdempotencyRecord>>,
}

fn id(record: &IdempotencyRecord) -> (String, String) {
    (record.scope.clone(), record.key.as_str().to_owned())
}

/// Whether the stored `row` is still the in-progress `claim` (not a newer one).
fn is_that_claim(row: &IdempotencyRecord, claim: &IdempotencyRecord) -> bool {
    row.state == IdempotencyState::InProgress
        && row.created_at == claim.created_at
        && row.fingerprint == claim.fingerprint
}

#[async_trait]
impl IdempotencyRepository for InMemoryIdempotency {
    async fn claim(&self, record: &IdempotencyRecord) -> Result<Claim, RepoError> {
        let mut rows = lock(&self.rows);
        if let Some(existing) = rows.get(&id(record)) {
            return Ok(Claim::Existing(existing.clone()));
        }
        rows.insert(id(record), record.clone());
        Ok(Claim::Claimed)
    }

    async fn complete(
        &self,
        claim: &IdempotencyRecord,
        response: &StoredResponse,
    ) -> Result<(), RepoError> {
        let mut rows = lock(&self.rows);
        let completed = IdempotencyState::Completed(response.clone());
        match rows.get_mut(&id(claim)) {
            Some(row) if is_that_claim(row, claim) => row.state = completed,
            // A successor's claim is left alone.
            Some(_) => {}
            // Released by the request that took it over: what this one did is kept.
            None => {
                rows.insert(
                    id(claim),
                    IdempotencyRecord {
                        state: completed,
                        ..claim.clone()
                    },
                );
            }
        }
        Ok(())
    }

    async fn release(&self, claim: &IdempotencyRecord) -> Result<(), RepoError> {
        let mut rows = lock(&self.rows);
        let still_that_claim = rows
            .get(&id(claim))
            .is_some_and(|row| is_that_claim(row, claim));
        if still_that_claim {
            rows.remove(&id(claim));
        }
        Ok(())
    }

    async fn purge_created_before(&self, cutoff: crate::Timestamp) -> Result<u64, RepoError> {
        let mut rows = lock(&self.rows);
        let before = rows.len();
        rows.retain(|_, record| record.created_at >= cutoff);
        Ok((before - rows.len()) as u64)
    }
}
