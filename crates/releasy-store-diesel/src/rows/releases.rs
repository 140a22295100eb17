//! The `releases` row; the status and channel are stored by their contract names, the
//! version's order as its order key, a yank as its three columns, the seal as its time.

use diesel::prelude::*;
use releasy_domain::Timestamp;
use releasy_domain::ports::RepoError;
use releasy_domain::release::{
    Channel, Product, Release, ReleaseChanges, ReleaseMetadata, ReleaseNotes, ReleaseStatus,
    Version, Yank, YankReason,
};

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
    pub(crate) channel: String,
    pub(crate) version_order: String,
    pub(crate) notes: Option<String>,
    pub(crate) metadata: Option<String>,
    #[diesel(embed)]
    pub(crate) yank: YankColumns,
    pub(crate) sealed_at: Option<i64>,
    pub(crate) first_published_at: Option<i64>,
}

/// The columns of a yank: all `NULL` (and 0) while the release is not yanked.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = releases)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_null = true)]
pub struct YankColumns {
    pub(crate) yanked_at: Option<i64>,
    pub(crate) yank_reason: Option<String>,
    pub(crate) yank_blocks_downloads: i32,
}

/// The columns a draft's edit writes: `None` leaves a column alone, `Some(None)` sets
/// it to `NULL`.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = releases)]
pub struct DraftChanges {
    pub(crate) channel: Option<String>,
    pub(crate) notes: Option<Option<String>>,
    pub(crate) metadata: Option<Option<String>>,
}

impl From<&ReleaseChanges> for DraftChanges {
    fn from(changes: &ReleaseChanges) -> Self {
        Self {
            channel: changes.channel.map(|c| c.as_str().to_owned()),
            notes: changes
                .notes
                .as_ref()
                .map(|n| n.as_ref().map(|n| n.as_str().to_owned())),
            metadata: changes
                .metadata
                .as_ref()
                .map(|m| m.as_ref().map(|m| m.as_json().to_owned())),
        }
    }
}

impl From<Option<&Yank>> for YankColumns {
    fn from(yank: Option<&Yank>) -> Self {
        Self {
            yanked_at: yank.map(|y| y.at.unix_seconds()),
            yank_reason: yank.map(|y| y.reason.as_str().to_owned()),
            yank_blocks_downloads: i32::from(yank.is_some_and(|y| y.blocks_downloads)),
        }
    }
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
            channel: r.channel.as_str().to_owned(),
            version_order: r.version.order_key(),
            notes: r.notes.as_ref().map(|n| n.as_str().to_owned()),
            metadata: r.metadata.as_ref().map(|m| m.as_json().to_owned()),
            yank: YankColumns::from(r.yank.as_ref()),
            sealed_at: r.sealed_at.map(Timestamp::unix_seconds),
            first_published_at: r.first_published_at.map(Timestamp::unix_seconds),
        }
    }
}

impl TryFrom<ReleaseRow> for Release {
    type Error = RepoError;

    fn try_from(row: ReleaseRow) -> Result<Self, RepoError> {
        let bad = |e| corrupt("releases", e);
        let yank = match (row.yank.yanked_at, row.yank.yank_reason) {
            (Some(at), Some(reason)) => Some(Yank {
                at: ts(at),
                reason: YankReason::parse(&reason).map_err(bad)?,
                blocks_downloads: row.yank.yank_blocks_downloads != 0,
            }),
            _ => None,
        };
        Ok(Self {
            id: parse_id("releases", &row.id)?,
            product: Product::read_stored(&row.product),
            version: Version::read_stored(&row.version),
            status: ReleaseStatus::parse(&row.status).map_err(bad)?,
            created_at: ts(row.created_at),
            published_at: row.published_at.map(ts),
            first_published_at: row.first_published_at.map(ts),
            channel: Channel::parse(&row.channel).map_err(bad)?,
            notes: row
                .notes
                .as_deref()
                .map(ReleaseNotes::parse)
                .transpose()
                .map_err(bad)?,
            metadata: row
                .metadata
                .as_deref()
                .map(ReleaseMetadata::from_stored)
                .transpose()
                .map_err(bad)?,
            yank,
            sealed_at: row.sealed_at.map(ts),
        })
    }
}
