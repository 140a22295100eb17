//! The `download_ledger` row and the `download_daily` summary row.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use releasy_domain::artifact::Platform;
use releasy_domain::delivery::{
    DownloadOutcome, DownloadRecord, DownloadSubject, Requester, UserAgent, day_of,
};
use releasy_domain::ports::RepoError;
use releasy_domain::release::{Product, Version};

use super::{bigint, parse_id, ts};
use crate::error::corrupt;
use crate::schema::{download_daily, download_ledger};

const TABLE: &str = "download_ledger";

/// A row of `download_ledger`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = download_ledger)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct DownloadLedgerRow {
    pub(crate) id: String,
    pub(crate) at: i64,
    pub(crate) customer_id: String,
    pub(crate) api_key_id: Option<String>,
    pub(crate) artifact_id: String,
    pub(crate) release_id: String,
    pub(crate) product: String,
    pub(crate) version: String,
    pub(crate) platform: String,
    pub(crate) bytes: i64,
    pub(crate) token_id: String,
    pub(crate) purpose: Option<String>,
    pub(crate) client_address: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) outcome: String,
}

impl From<&DownloadRecord> for DownloadLedgerRow {
    fn from(r: &DownloadRecord) -> Self {
        Self {
            id: r.id.to_string(),
            at: r.at.unix_seconds(),
            customer_id: r.customer_id.to_string(),
            api_key_id: r.api_key_id.map(|id| id.to_string()),
            artifact_id: r.subject.artifact_id.to_string(),
            release_id: r.subject.release_id.to_string(),
            product: r.subject.product.as_str().to_owned(),
            version: r.subject.version.as_str().to_owned(),
            platform: r.subject.platform.as_str().to_owned(),
            bytes: bigint(r.subject.bytes),
            token_id: r.token_id.to_string(),
            purpose: r.purpose.clone(),
            client_address: r.requester.address.map(|ip| ip.to_string()),
            user_agent: r
                .requester
                .user_agent
                .as_ref()
                .map(|ua| ua.as_str().to_owned()),
            outcome: r.outcome.as_str().to_owned(),
        }
    }
}

impl TryFrom<DownloadLedgerRow> for DownloadRecord {
    type Error = RepoError;

    fn try_from(row: DownloadLedgerRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: parse_id(TABLE, &row.id)?,
            at: ts(row.at),
            customer_id: parse_id(TABLE, &row.customer_id)?,
            api_key_id: row
                .api_key_id
                .as_deref()
                .map(|id| parse_id(TABLE, id))
                .transpose()?,
            subject: DownloadSubject {
                artifact_id: parse_id(TABLE, &row.artifact_id)?,
                release_id: parse_id(TABLE, &row.release_id)?,
                product: Product::read_stored(&row.product),
                version: Version::read_stored(&row.version),
                platform: Platform::read_stored(&row.platform),
                bytes: u64::try_from(row.bytes)
                    .map_err(|_| corrupt(TABLE, "negative byte count"))?,
            },
            token_id: parse_id(TABLE, &row.token_id)?,
            purpose: row.purpose,
            requester: Requester {
                address: row
                    .client_address
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|_| corrupt(TABLE, "bad client address"))?,
                user_agent: row.user_agent.as_deref().and_then(UserAgent::keep),
            },
            outcome: DownloadOutcome::from_name(&row.outcome)
                .ok_or_else(|| corrupt(TABLE, format_args!("bad outcome `{}`", row.outcome)))?,
        })
    }
}

/// A row of `download_daily`: what one batch adds to one day, artifact and customer.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = download_daily)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct DailyRow {
    pub(crate) product: String,
    pub(crate) day: i64,
    pub(crate) artifact_id: String,
    pub(crate) customer_id: String,
    pub(crate) version: String,
    pub(crate) platform: String,
    pub(crate) downloads: i64,
    pub(crate) bytes: i64,
}

/// What one batch adds to one product's day (`download_product_daily`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDayRow {
    pub(crate) product: String,
    pub(crate) day: i64,
    pub(crate) downloads: i64,
    pub(crate) bytes: i64,
    /// Customers downloading the product that day for the first time.
    pub(crate) customers: i64,
}

/// The (product, day, customer) of each summary row, once, in key order: what marks
/// a customer as having downloaded a product that day.
pub fn product_customers(daily: &[DailyRow]) -> Vec<(String, i64, String)> {
    let marks: BTreeSet<(String, i64, String)> = daily
        .iter()
        .map(|row| (row.product.clone(), row.day, row.customer_id.clone()))
        .collect();
    marks.into_iter().collect()
}

/// What `daily` adds to each of its products' days, in key order: downloads and bytes,
/// and the customers `first_seen` names (the marks inserted just now, one per customer
/// new to that product and day).
pub fn product_days(daily: &[DailyRow], first_seen: &[(String, i64)]) -> Vec<ProductDayRow> {
    let mut days: BTreeMap<(String, i64), ProductDayRow> = BTreeMap::new();
    for row in daily {
        let day = days
            .entry((row.product.clone(), row.day))
            .or_insert_with(|| ProductDayRow {
                product: row.product.clone(),
                day: row.day,
                downloads: 0,
                bytes: 0,
                customers: 0,
            });
        day.downloads += row.downloads;
        day.bytes = day.bytes.saturating_add(row.bytes);
    }
    for (product, day) in first_seen {
        if let Some(row) = days.get_mut(&(product.clone(), *day)) {
            row.customers += 1;
        }
    }
    days.into_values().collect()
}

/// What `records` add to the summary: their successful downloads summed per day,
/// artifact and customer (one row per key, as one upsert statement needs).
pub fn daily_additions(records: &[DownloadRecord]) -> Vec<DailyRow> {
    let mut sums: BTreeMap<(i64, String, String), DailyRow> = BTreeMap::new();
    for record in records
        .iter()
        .filter(|record| record.outcome == DownloadOutcome::Redirected)
    {
        let day = day_of(record.at);
        let (artifact, customer) = (
            record.subject.artifact_id.to_string(),
            record.customer_id.to_string(),
        );
        let row = sums
            .entry((day, artifact.clone(), customer.clone()))
            .or_insert_with(|| DailyRow {
                day,
                artifact_id: artifact,
                customer_id: customer,
                product: record.subject.product.as_str().to_owned(),
                version: record.subject.version.as_str().to_owned(),
                platform: record.subject.platform.as_str().to_owned(),
                downloads: 0,
                bytes: 0,
            });
        row.downloads += 1;
        row.bytes = row.bytes.saturating_add(bigint(record.counted_bytes()));
    }
    sums.into_values().collect()
}
