//! The `idempotency_keys` row and its state names.

use diesel::prelude::*;
use releasy_domain::idempotency::{
    IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse,
};
use releasy_domain::ports::RepoError;

use super::ts;
use crate::error::corrupt;
use crate::schema::idempotency_keys;

pub(crate) const IN_PROGRESS: &str = "in_progress";
pub(crate) const COMPLETED: &str = "completed";

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct IdempotencyRow {
    pub scope: String,
    pub idem_key: String,
    pub fingerprint: String,
    pub state: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub created_at: i64,
}

impl From<&IdempotencyRecord> for IdempotencyRow {
    fn from(r: &IdempotencyRecord) -> Self {
        let (state, status, body) = match &r.state {
            IdempotencyState::InProgress => (IN_PROGRESS, None, None),
            IdempotencyState::Completed(resp) => (
                COMPLETED,
                Some(i32::from(resp.status)),
                Some(resp.body.clone()),
            ),
        };
        Self {
            scope: r.scope.clone(),
            idem_key: r.key.as_str().to_owned(),
            fingerprint: r.fingerprint.clone(),
            state: state.to_owned(),
            response_status: status,
            response_body: body,
            created_at: r.created_at.unix_seconds(),
        }
    }
}

impl TryFrom<IdempotencyRow> for IdempotencyRecord {
    type Error = RepoError;

    fn try_from(row: IdempotencyRow) -> Result<Self, RepoError> {
        let bad = |detail: &str| corrupt("idempotency_keys", detail);
        let state = match (row.state.as_str(), row.response_status, row.response_body) {
            (IN_PROGRESS, _, _) => IdempotencyState::InProgress,
            (COMPLETED, Some(status), Some(body)) => IdempotencyState::Completed(StoredResponse {
                status: u16::try_from(status).map_err(|_| bad("bad status"))?,
                body,
            }),
            _ => return Err(bad("bad state")),
        };
        Ok(Self {
            scope: row.scope,
            key: IdempotencyKey::parse(&row.idem_key)
                .map_err(|e| corrupt("idempotency_keys", e))?,
            fingerprint: row.fingerprint,
            state,
            created_at: ts(row.created_at),
        })
    }
}
