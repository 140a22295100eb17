//! The `artifacts` row.

use diesel::prelude::*;
use releasy_domain::ArtifactId;
use releasy_domain::artifact::{
    Artifact, ArtifactSize, ArtifactTarget, Checksum, ObjectKey, Platform, TargetLabel,
    Verification,
};
use releasy_domain::ports::RepoError;

use super::{bigint, parse_id, ts};
use crate::error::corrupt;
use crate::schema::artifacts;

/// A row of `artifacts`, built from the domain value with `From` (and read back with
/// `TryFrom`, which applies the domain's rules).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = artifacts)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ArtifactRow {
    pub(crate) id: String,
    pub(crate) release_id: String,
    pub(crate) object_key: String,
    pub(crate) checksum: String,
    pub(crate) size: i64,
    pub(crate) platform: String,
    pub(crate) created_at: i64,
    pub(crate) verification: String,
    pub(crate) object_etag: Option<String>,
    pub(crate) object_version: Option<String>,
    pub(crate) os: Option<String>,
    pub(crate) arch: Option<String>,
    pub(crate) filetype: Option<String>,
}

impl From<&Artifact> for ArtifactRow {
    fn from(a: &Artifact) -> Self {
        Self {
            id: a.id.to_string(),
            release_id: a.release_id.to_string(),
            object_key: a.object_key.as_str().to_owned(),
            checksum: a.checksum.as_str().to_owned(),
            // An `ArtifactSize` is only ever built from a positive `i64`.
            size: bigint(a.size.bytes()),
            platform: a.platform.as_str().to_owned(),
            created_at: a.created_at.unix_seconds(),
            verification: a.verification.as_str().to_owned(),
            object_etag: a.object_etag.clone(),
            object_version: a.object_version.clone(),
            os: a.target.os.as_ref().map(|l| l.as_str().to_owned()),
            arch: a.target.arch.as_ref().map(|l| l.as_str().to_owned()),
            filetype: a.target.filetype.as_ref().map(|l| l.as_str().to_owned()),
        }
    }
}

impl TryFrom<ArtifactRow> for Artifact {
    type Error = RepoError;

    fn try_from(row: ArtifactRow) -> Result<Self, RepoError> {
        let bad = |e| corrupt("artifacts", e);
        let label = |field, value: Option<String>| {
            value
                .map(|v| TargetLabel::parse(field, &v))
                .transpose()
                .map_err(bad)
        };
        Ok(Self {
            target: ArtifactTarget {
                os: label("os", row.os)?,
                arch: label("arch", row.arch)?,
                filetype: label("filetype", row.filetype)?,
            },
            id: parse_id("artifacts", &row.id)?,
            release_id: parse_id("artifacts", &row.release_id)?,
            object_key: ObjectKey::from_stored(row.object_key),
            checksum: Checksum::parse(&row.checksum).map_err(bad)?,
            size: ArtifactSize::parse(row.size).map_err(bad)?,
            platform: Platform::read_stored(&row.platform),
            created_at: ts(row.created_at),
            verification: Verification::parse(&row.verification).map_err(bad)?,
            object_etag: row.object_etag,
            object_version: pinned_version(row.object_version),
        })
    }
}

/// A stored object version that pins one version. Servers before 2026-12-06 stored the
/// `null` version of a bucket whose versioning is suspended, which the next `PUT`
/// under the key replaces, so it pins nothing: such a row reads as holding no version,
/// and its object is judged by its entity tag, as for rows written since (and by an
/// older instance during a rolling upgrade). So does an empty version (a store that
/// sent an empty `x-amz-version-id`).
pub(crate) fn pinned_version(stored: Option<String>) -> Option<String> {
    stored.filter(|version| !version.is_empty() && version != "null")
}

/// An artifact's id and verification, as stored.
pub(crate) fn artifact_verification(
    id: &str,
    verification: &str,
) -> Result<(ArtifactId, Verification), RepoError> {
    Ok((
        parse_id("artifacts", id)?,
        Verification::parse(verification).map_err(|e| corrupt("artifacts", e))?,
    ))
}
