//! The `download_tokens` row, and the grant read with its artifact, release and
//! customer.

use diesel::prelude::*;
use releasy_domain::api_key::AllowedNetworks;
use releasy_domain::artifact::{ArtifactSize, ObjectKey, Platform, Verification};
use releasy_domain::download::{DownloadGrant, DownloadToken, MaxUses};
use releasy_domain::ports::RepoError;
use releasy_domain::release::{Channel, Product, ReleaseStatus, Version};

use super::{parse_id, ts};
use crate::error::corrupt;
use crate::schema::download_tokens;

/// A row of `download_tokens`, built from the domain value with `From` (and read back with
/// `TryFrom`, which applies the domain's rules).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = download_tokens)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct DownloadTokenRow {
    pub(crate) id: String,
    pub(crate) token_hash: String,
    pub(crate) artifact_id: String,
    pub(crate) customer_id: String,
    pub(crate) purpose: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) allowed_cidrs: Option<String>,
    // `uses` is left out: it starts at 0 and only `consume_use` counts it.
    pub(crate) max_uses: Option<i32>,
    pub(crate) api_key_id: Option<String>,
}

impl From<&DownloadToken> for DownloadTokenRow {
    fn from(t: &DownloadToken) -> Self {
        Self {
            id: t.id.to_string(),
            token_hash: t.token_hash.clone(),
            artifact_id: t.artifact_id.to_string(),
            customer_id: t.customer_id.to_string(),
            purpose: t.purpose.clone(),
            created_at: t.created_at.unix_seconds(),
            expires_at: t.expires_at.unix_seconds(),
            allowed_cidrs: t.allowed_networks.as_ref().map(AllowedNetworks::to_stored),
            max_uses: t.max_uses.map(MaxUses::to_stored),
            api_key_id: t.api_key_id.map(|id| id.to_string()),
        }
    }
}

impl TryFrom<DownloadTokenRow> for DownloadToken {
    type Error = RepoError;

    fn try_from(row: DownloadTokenRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: parse_id("download_tokens", &row.id)?,
            token_hash: row.token_hash,
            artifact_id: parse_id("download_tokens", &row.artifact_id)?,
            customer_id: parse_id("download_tokens", &row.customer_id)?,
            api_key_id: row
                .api_key_id
                .as_deref()
                .map(|id| parse_id("download_tokens", id))
                .transpose()?,
            purpose: row.purpose,
            created_at: ts(row.created_at),
            expires_at: ts(row.expires_at),
            allowed_networks: row
                .allowed_cidrs
                .as_deref()
                .map(AllowedNetworks::from_stored)
                .transpose()
                .map_err(|e| corrupt("download_tokens", e))?,
            max_uses: row
                .max_uses
                .map(MaxUses::from_stored)
                .transpose()
                .map_err(|e| corrupt("download_tokens", e))?,
        })
    }
}

/// A token joined to its artifact's key, verification, entity tag, version, platform
/// and size, its release's id, product, status, yank, version, channel and publication
/// time, and its customer's suspension.
pub(crate) type GrantRow = (
    DownloadTokenRow,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
    String,
    String,
    i32,
    String,
    String,
    Option<i64>,
    Option<i64>,
);

pub(crate) fn grant(row: GrantRow) -> Result<DownloadGrant, RepoError> {
    let (
        token,
        object_key,
        verification,
        object_etag,
        object_version,
        platform,
        size,
        release_id,
        product,
        status,
        downloads_blocked,
        version,
        channel,
        published_at,
        suspended_at,
    ) = row;
    let bad_release = |e| corrupt("releases", e);
    Ok(DownloadGrant {
        token: token.try_into()?,
        object_key: ObjectKey::from_stored(object_key),
        release_id: parse_id("releases", &release_id)?,
        platform: Platform::read_stored(&platform),
        artifact_size: ArtifactSize::parse(size).map_err(|e| corrupt("artifacts", e))?,
        product: Product::read_stored(&product),
        release_status: ReleaseStatus::parse(&status).map_err(bad_release)?,
        release_downloads_blocked: downloads_blocked != 0,
        release_version: Version::read_stored(&version),
        release_channel: Channel::parse(&channel).map_err(bad_release)?,
        release_published_at: published_at.map(ts),
        customer_suspended_at: suspended_at.map(ts),
        verification: Verification::parse(&verification).map_err(|e| corrupt("artifacts", e))?,
        object_etag,
        object_version: super::artifacts::pinned_version(object_version),
    })
}
