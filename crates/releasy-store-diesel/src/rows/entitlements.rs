//! The `entitlements` row; the metadata object is stored as JSON text.

use diesel::prelude::*;
use releasy_domain::Timestamp;
use releasy_domain::entitlement::{Entitlement, EntitlementWindow, Metadata};
use releasy_domain::ports::RepoError;
use releasy_domain::release::Product;

use super::{parse_id, ts};
use crate::error::corrupt;
use crate::schema::entitlements;

/// A row of `entitlements`, built from the domain value with `From` (and read back with
/// `TryFrom`, which applies the domain's rules).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = entitlements)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct EntitlementRow {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) product: String,
    pub(crate) starts_at: i64,
    pub(crate) ends_at: Option<i64>,
    pub(crate) metadata: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) revision: i64,
}

/// How the metadata object is stored: as JSON text.
fn metadata_text(metadata: &Metadata) -> String {
    metadata.to_value().to_string()
}

impl From<&Entitlement> for EntitlementRow {
    fn from(e: &Entitlement) -> Self {
        Self {
            id: e.id.to_string(),
            customer_id: e.customer_id.to_string(),
            product: e.product.as_str().to_owned(),
            starts_at: e.window.starts_at().unix_seconds(),
            ends_at: e.window.ends_at().map(Timestamp::unix_seconds),
            metadata: e.metadata.as_ref().map(metadata_text),
            created_at: e.created_at.unix_seconds(),
            // Revisions count changes one by one; i64::MAX of them cannot happen.
            revision: i64::try_from(e.revision).unwrap_or(i64::MAX),
        }
    }
}

/// What replacing an entitlement writes: every column a change can touch, and the
/// next revision. `None` stores `NULL` (a cleared end or metadata).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = entitlements, treat_none_as_null = true)]
pub(crate) struct EntitlementReplacement {
    pub product: String,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub metadata: Option<String>,
    pub revision: i64,
}

impl EntitlementReplacement {
    /// The columns of `updated`, stored as `revision`.
    pub fn new(updated: &Entitlement, revision: i64) -> Self {
        Self {
            product: updated.product.as_str().to_owned(),
            starts_at: updated.window.starts_at().unix_seconds(),
            ends_at: updated.window.ends_at().map(Timestamp::unix_seconds),
            metadata: updated.metadata.as_ref().map(metadata_text),
            revision,
        }
    }
}

impl TryFrom<EntitlementRow> for Entitlement {
    type Error = RepoError;

    fn try_from(row: EntitlementRow) -> Result<Self, RepoError> {
        let bad = |e| corrupt("entitlements", e);
        let metadata = match row.metadata.as_deref() {
            None => None,
            Some(text) => {
                let value = serde_json::from_str(text).map_err(|e| corrupt("entitlements", e))?;
                Some(Metadata::parse(value).map_err(bad)?)
            }
        };
        Ok(Self {
            id: parse_id("entitlements", &row.id)?,
            customer_id: parse_id("entitlements", &row.customer_id)?,
            product: Product::parse(&row.product).map_err(bad)?,
            window: EntitlementWindow::new(ts(row.starts_at), row.ends_at.map(ts)).map_err(bad)?,
            metadata,
            created_at: ts(row.created_at),
            revision: u64::try_from(row.revision).map_err(|e| corrupt("entitlements", e))?,
        })
    }
}
