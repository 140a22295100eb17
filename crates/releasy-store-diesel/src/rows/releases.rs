//! The `releases` row; the status is stored by its contract name.

use diesel::prelude::*;
use releasy_domain::Timestamp;
use releasy_domain::ports::RepoError;
use releasy_domain::release::{Product, Release, ReleaseStatus, Version};

use super::{parse_id, ts};
use crate::error::corrupt;
use crate::schema::releases;

/// A row of `releases`, built from the domain value with `From` (and read back with
/// `TryFrom`, which applies the domain's rules).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = releases)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ReleaseRow {
    pub(crate) id: String,
    pub(crate) product: String,
    pub(crate) version: String,
    pub(crate) status: String,
    pub(crate) created_at: i64,
    pub(crate) published_at: Option<i64>,
}

impl From<&Release> for ReleaseRow {
    fn from(r: &Release) -> Self {
        Self {
            id: r.id.to_string(),
            product: r.product.as_str().to_owned(),
            version: r.version.as_str().to_owned(),
            status: r.status.as_str().to_owned(),
            created_at: r.created_at.unix_seconds(),
            published_at: r.published_at.map(Timestamp::unix_seconds),
        }
    }
}

impl TryFrom<ReleaseRow> for Release {
    type Error = RepoError;

    fn try_from(row: ReleaseRow) -> Result<Self, RepoError> {
        let bad = |e| corrupt("releases", e);
        Ok(Self {
            id: parse_id("releases", &row.id)?,
            product: Product::parse(&row.product).map_err(bad)?,
            version: Version::parse(&row.version).map_err(bad)?,
            status: ReleaseStatus::parse(&row.status).map_err(bad)?,
            created_at: ts(row.created_at),
            published_at: row.published_at.map(ts),
        })
    }
}
