//! The `audit_events` row (the payload stored as JSON text, with the event's chain
//! link), and the `audit_chain` row.

use diesel::prelude::*;
use releasy_domain::audit::{AuditEvent, ChainHash, ChainLink, ChainedEvent, EncodedEvent};
use releasy_domain::ports::RepoError;
use releasy_domain::{AuditEventId, CustomerId};

use super::{parse_id, ts};
use crate::error::corrupt;
use crate::schema::{audit_chain, audit_events};

/// A row of `audit_events`, built from the domain value with [`AuditEventRow::unlinked`]
/// (as a change's write stores it; the linker adds the link later) or from the text a
/// batch writer hashed with [`AuditEventRow::of_encoded`], and read back with
/// `into_chained_as_stored`, whatever it holds.
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
    pub(crate) chain_position: Option<i64>,
    pub(crate) chain_hash: Option<String>,
}

impl AuditEventRow {
    /// The row of `event`, not linked yet.
    pub fn unlinked(e: &AuditEvent) -> Self {
        Self::of_encoded(EncodedEvent::of(e), None)
    }

    /// The row of an event already encoded (to link it), at `link` if linked.
    pub fn of_encoded(e: EncodedEvent, link: Option<ChainLink>) -> Self {
        Self {
            id: e.id,
            customer_id: e.customer_id,
            actor: e.actor,
            event: e.event,
            payload: e.payload,
            created_at: e.created_at,
            chain_position: link.map(|link| position_column(link.position)),
            chain_hash: link.map(|link| link.hash.to_string()),
        }
    }
}

/// A chain position as stored (positions count events, far below `i64::MAX`).
pub fn position_column(position: u64) -> i64 {
    super::bigint(position)
}

/// A stored chain position and hash, read back.
pub(crate) fn link_of(
    table: &'static str,
    position: i64,
    hash: &str,
) -> Result<ChainLink, RepoError> {
    Ok(ChainLink {
        position: u64::try_from(position).map_err(|e| corrupt(table, e))?,
        hash: ChainHash::parse(hash).map_err(|e| corrupt(table, e))?,
    })
}

impl AuditEventRow {
    /// The row as the chain sees it, whatever it holds. A row Releasy did not write as
    /// it stands (a payload that is not JSON, an id or customer id that is not a UUID in
    /// the form Releasy writes, a hash that is not 64 hex digits) still reads, as values whose hash cannot match
    /// the stored one: verification names it altered instead of failing as if the
    /// database had, the PostgreSQL linker links it instead of stopping at it for good,
    /// and a listing shows it (its payload as the text stored, an id it cannot read as
    /// the nil one) instead of failing every page it falls in.
    pub(crate) fn into_chained_as_stored(self) -> Result<ChainedEvent, RepoError> {
        let link = match (self.chain_position, self.chain_hash.as_deref()) {
            (Some(position), Some(hash)) => Some(ChainLink {
                position: u64::try_from(position).map_err(|e| corrupt("audit_events", e))?,
                hash: ChainHash::parse(hash).unwrap_or(ChainHash::GENESIS),
            }),
            _ => None,
        };
        // An id only in the form Releasy writes (lower-case, hyphenated): the same UUID
        // in upper case, braces or `urn:uuid:` reads as the nil one, so an edit into
        // such a form (which listings, matching the text, would no longer find) hashes
        // as another event.
        let id = parse_id::<AuditEventId>("audit_events", &self.id)
            .ok()
            .filter(|id| id.to_string() == self.id)
            .unwrap_or_else(|| AuditEventId::from_uuid(uuid::Uuid::nil()));
        // A customer id that is not a UUID reads as the nil one, never as none: a NULL
        // edited into text must not hash as the NULL it replaced.
        let customer_id = self.customer_id.as_deref().map(|c| {
            parse_id::<CustomerId>("audit_events", c)
                .ok()
                .filter(|id| id.to_string() == c)
                .unwrap_or_else(|| CustomerId::from_uuid(uuid::Uuid::nil()))
        });
        let payload =
            serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::String(self.payload));
        Ok(ChainedEvent {
            event: AuditEvent {
                id,
                customer_id,
                actor: self.actor,
                event: self.event,
                payload,
                created_at: ts(self.created_at),
            },
            link,
        })
    }
}

/// The `audit_chain` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_chain)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AuditChainRow {
    pub(crate) start_position: i64,
    pub(crate) start_hash: String,
    pub(crate) head_position: i64,
    pub(crate) head_hash: String,
}
