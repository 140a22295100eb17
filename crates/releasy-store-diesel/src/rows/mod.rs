//! Row structs and their conversions to and from domain types, one table per module.
//! Rows hold plain column values; only the conversions know the domain's rules.
//!
//! The rows of the large tables are public so that a bulk loader (the benchmark
//! seeder) writes exactly what the repositories would.

mod api_keys;
mod artifact_uploads;
mod artifacts;
mod audit;
mod customers;
mod download_ledger;
mod download_tokens;
mod entitlements;
mod idempotency;
mod releases;

pub(crate) use api_keys::{ApiKeyRow, CandidateRow, candidate};
pub(crate) use artifact_uploads::ArtifactUploadRow;
pub use artifacts::ArtifactRow;
pub(crate) use artifacts::artifact_verification;
pub(crate) use audit::link_of;
pub use audit::position_column;
pub use audit::{AuditChainRow, AuditEventRow};
pub use customers::CustomerRow;
pub use download_ledger::{
    DailyRow, DownloadLedgerRow, ProductDayRow, daily_additions, product_customers, product_days,
};
pub use download_tokens::DownloadTokenRow;
pub(crate) use download_tokens::{GrantRow, grant};
pub(crate) use entitlements::EntitlementReplacement;
pub use entitlements::{AccessRow, EntitlementRow};
pub(crate) use idempotency::{COMPLETED, IN_PROGRESS, IdempotencyRow};
pub(crate) use releases::DraftChanges;
pub use releases::{ReleaseRow, YankColumns};

use releasy_domain::Timestamp;
use releasy_domain::ports::RepoError;

use crate::error::corrupt;

/// A count or size as a `BIGINT`: every one the domain makes is far below 2^63 (its
/// limits say so), so the bound only saturates what cannot happen.
pub(crate) fn bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

fn parse_id<T: std::str::FromStr>(table: &'static str, raw: &str) -> Result<T, RepoError> {
    raw.parse()
        .map_err(|_| corrupt(table, format_args!("bad id `{raw}`")))
}
