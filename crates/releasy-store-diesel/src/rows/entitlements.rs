//! The `entitlements` row; the metadata object is stored as JSON text, the scope as
//! three columns.

use diesel::prelude::*;
use releasy_domain::Timestamp;
use releasy_domain::entitlement::{
    DownloadQuota, Entitlement, EntitlementScope, EntitlementWindow, Metadata, ProductGrant,
    QuotaPeriod,
};
use releasy_domain::ports::RepoError;
use releasy_domain::release::{Product, VersionRequirement};

use super::{bigint, parse_id, ts};
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
    pub(crate) channels: Option<String>,
    pub(crate) versions: Option<String>,
    pub(crate) perpetual_fallback: i32,
    pub(crate) quota_downloads: Option<i64>,
    pub(crate) quota_bytes: Option<i64>,
    pub(crate) quota_period: Option<String>,
}

/// The columns the access rule reads, for every entitlement of one customer.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = entitlements)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AccessRow {
    pub(crate) id: String,
    pub(crate) product: String,
    pub(crate) starts_at: i64,
    pub(crate) ends_at: Option<i64>,
    pub(crate) channels: Option<String>,
    pub(crate) versions: Option<String>,
    pub(crate) perpetual_fallback: i32,
    pub(crate) quota_downloads: Option<i64>,
    pub(crate) quota_bytes: Option<i64>,
    pub(crate) quota_period: Option<String>,
}

/// The stored quota columns: both limits and the period, all `NULL` without a quota.
fn quota_columns(quota: Option<&DownloadQuota>) -> (Option<i64>, Option<i64>, Option<String>) {
    let stored = |limit: Option<u64>| limit.map(bigint);
    match quota {
        None => (None, None, None),
        Some(q) => (
            stored(q.downloads()),
            stored(q.bytes()),
            Some(q.period().as_str().to_owned()),
        ),
    }
}

/// The quota read back, through the domain's rules.
fn read_quota(
    downloads: Option<i64>,
    bytes: Option<i64>,
    period: Option<&str>,
) -> Result<Option<DownloadQuota>, RepoError> {
    let bad = |e| corrupt("entitlements", e);
    let Some(period) = period else {
        // Limits without a period are no quota the domain could have written: reading
        // them as none would lift a vendor's limit without a word.
        if downloads.is_some() || bytes.is_some() {
            return Err(corrupt("entitlements", "a quota limit without a period"));
        }
        return Ok(None);
    };
    let limit = |n: Option<i64>| {
        n.map(u64::try_from)
            .transpose()
            .map_err(|e| corrupt("entitlements", e))
    };
    DownloadQuota::new(
        limit(downloads)?,
        limit(bytes)?,
        QuotaPeriod::parse(period).map_err(bad)?,
    )
    .map(Some)
    .map_err(bad)
}

/// The stored scope columns: channels as comma-separated names, versions as given,
/// the fallback as 0 or 1.
fn scope_columns(scope: &EntitlementScope) -> (Option<String>, Option<String>, i32) {
    (
        scope.channels_text(),
        scope.versions.as_ref().map(|v| v.as_str().to_owned()),
        i32::from(scope.perpetual_fallback),
    )
}

/// The scope read back, through the domain's rules.
fn read_scope(
    channels: Option<&str>,
    versions: Option<&str>,
    perpetual_fallback: i32,
) -> Result<EntitlementScope, RepoError> {
    let bad = |e| corrupt("entitlements", e);
    Ok(EntitlementScope {
        // '' is an empty list (no channel granted), which only the library can set.
        channels: channels
            .map(|text| match text {
                "" => Ok(Vec::new()),
                text => EntitlementScope::parse_channels(text.split(',')),
            })
            .transpose()
            .map_err(bad)?,
        versions: versions
            .map(|text| VersionRequirement::parse("versions", text))
            .transpose()
            .map_err(bad)?,
        perpetual_fallback: perpetual_fallback != 0,
    })
}

impl TryFrom<AccessRow> for ProductGrant {
    type Error = RepoError;

    fn try_from(row: AccessRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: parse_id("entitlements", &row.id)?,
            window: EntitlementWindow::new(ts(row.starts_at), row.ends_at.map(ts))
                .map_err(|e| corrupt("entitlements", e))?,
            scope: read_scope(
                row.channels.as_deref(),
                row.versions.as_deref(),
                row.perpetual_fallback,
            )?,
            quota: read_quota(
                row.quota_downloads,
                row.quota_bytes,
                row.quota_period.as_deref(),
            )?,
            product: row.product,
        })
    }
}

/// How the metadata object is stored: as JSON text.
fn metadata_text(metadata: &Metadata) -> String {
    metadata.to_value().to_string()
}

impl From<&Entitlement> for EntitlementRow {
    fn from(e: &Entitlement) -> Self {
        let (channels, versions, perpetual_fallback) = scope_columns(&e.scope);
        let (quota_downloads, quota_bytes, quota_period) = quota_columns(e.download_quota.as_ref());
        Self {
            id: e.id.to_string(),
            customer_id: e.customer_id.to_string(),
            product: e.product.as_str().to_owned(),
            starts_at: e.window.starts_at().unix_seconds(),
            ends_at: e.window.ends_at().map(Timestamp::unix_seconds),
            metadata: e.metadata.as_ref().map(metadata_text),
            created_at: e.created_at.unix_seconds(),
            revision: bigint(e.revision),
            channels,
            versions,
            perpetual_fallback,
            quota_downloads,
            quota_bytes,
            quota_period,
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
    pub channels: Option<String>,
    pub versions: Option<String>,
    pub perpetual_fallback: i32,
    pub quota_downloads: Option<i64>,
    pub quota_bytes: Option<i64>,
    pub quota_period: Option<String>,
}

impl EntitlementReplacement {
    /// The columns of `updated`, stored as `revision`.
    pub fn new(updated: &Entitlement, revision: i64) -> Self {
        let (channels, versions, perpetual_fallback) = scope_columns(&updated.scope);
        let (quota_downloads, quota_bytes, quota_period) =
            quota_columns(updated.download_quota.as_ref());
        Self {
            product: updated.product.as_str().to_owned(),
            starts_at: updated.window.starts_at().unix_seconds(),
            ends_at: updated.window.ends_at().map(Timestamp::unix_seconds),
            metadata: updated.metadata.as_ref().map(metadata_text),
            revision,
            channels,
            versions,
            perpetual_fallback,
            quota_downloads,
            quota_bytes,
            quota_period,
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
            product: Product::read_stored(&row.product),
            window: EntitlementWindow::new(ts(row.starts_at), row.ends_at.map(ts)).map_err(bad)?,
            scope: read_scope(
                row.channels.as_deref(),
                row.versions.as_deref(),
                row.perpetual_fallback,
            )?,
            metadata,
            download_quota: read_quota(
                row.quota_downloads,
                row.quota_bytes,
                row.quota_period.as_deref(),
            )?,
            created_at: ts(row.created_at),
            revision: u64::try_from(row.revision).map_err(|e| corrupt("entitlements", e))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use releasy_domain::ports::ErrorChain;

    use super::*;

    #[test]
    fn a_quota_reads_back_as_written() {
        let quota = DownloadQuota::new(Some(10), None, QuotaPeriod::Day).unwrap();
        let (downloads, bytes, period) = quota_columns(Some(&quota));
        let read = read_quota(downloads, bytes, period.as_deref()).unwrap();
        assert_eq!(read, Some(quota));
        assert_eq!(read_quota(None, None, None).unwrap(), None);
    }

    #[test]
    fn limits_without_a_period_are_a_corrupt_row_not_no_quota() {
        for (downloads, bytes) in [(Some(10), None), (None, Some(1_000)), (Some(1), Some(1))] {
            let err = read_quota(downloads, bytes, None).unwrap_err();
            assert_eq!(
                ErrorChain(&err).to_string(),
                "storage failed: corrupt entitlements row: a quota limit without a period"
            );
        }
    }
}
