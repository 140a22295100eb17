//! The `audit_events` row; the payload is stored as JSON text.

use diesel::prelude::*;
use releasy_domain::audit::AuditEvent;
use releasy_domain::ports::RepoError;
use releasy_domain::{AuditEventId, CustomerId};

use super::{parse_id, ts};
use crate::error::corrupt;
use crate::schema::audit_events;

/// A row of `audit_events`, built from the domain value with `From` (and read back with
/// `TryFrom`, which applies the domain's rules).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AuditEventRow {
    pub(crate) id: String,
    pub(crate) customer_id: Option<String>,
    pub(crate) actor: String,
    pub(crate) event: String,
    pub(crate) payload: String,
    pub(crate) created_at: i64,
}

impl From<&AuditEvent> for AuditEventRow {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            customer_id: e.customer_id.map(|c| c.to_string()),
            actor: e.actor.clone(),
            event: e.event.clone(),
            payload: e.payload.to_string(),
            created_at: e.created_at.unix_seconds(),
        }
    }
}

impl TryFrom<AuditEventRow> for AuditEvent {
    type Error = RepoError;

    fn try_from(row: AuditEventRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: parse_id::<AuditEventId>("audit_events", &row.id)?,
            customer_id: row
                .customer_id
                .as_deref()
                .map(|c| parse_id::<CustomerId>("audit_events", c))
                .transpose()?,
            actor: row.actor,
            event: row.event,
            payload: serde_json::from_str(&row.payload).map_err(|e| corrupt("audit_events", e))?,
            created_at: ts(row.created_at),
        })
    }
}
