//! The `artifact_uploads` row: a presigned upload not yet registered.

use diesel::prelude::*;
use releasy_domain::Timestamp;
use releasy_domain::artifact::{
    ArtifactSize, Checksum, MultipartUpload, ObjectKey, PendingUpload, UploadId,
};
use releasy_domain::ports::RepoError;

use super::{bigint, parse_id, ts};
use crate::error::corrupt;
use crate::schema::artifact_uploads;

const TABLE: &str = "artifact_uploads";

/// A row of `artifact_uploads`. The three multipart columns are all set or all null.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = artifact_uploads)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ArtifactUploadRow {
    artifact_id: String,
    release_id: String,
    object_key: String,
    size: Option<i64>,
    checksum: Option<String>,
    upload_id: Option<String>,
    part_size: Option<i64>,
    part_count: Option<i32>,
    created_at: i64,
    ended_at: Option<i64>,
}

impl From<&PendingUpload> for ArtifactUploadRow {
    fn from(u: &PendingUpload) -> Self {
        let multipart = u.multipart.as_ref();
        Self {
            artifact_id: u.artifact_id.to_string(),
            release_id: u.release_id.to_string(),
            object_key: u.object_key.as_str().to_owned(),
            // Sizes are at most 5 TiB, parts at most 10 000: both fit.
            size: u.size.map(|s| bigint(s.bytes())),
            checksum: u.checksum.as_ref().map(|c| c.as_str().to_owned()),
            upload_id: multipart.map(|m| m.upload_id.as_str().to_owned()),
            part_size: multipart.map(|m| bigint(m.part_size)),
            part_count: multipart.map(|m| i32::try_from(m.part_count).unwrap_or(i32::MAX)),
            created_at: u.created_at.unix_seconds(),
            ended_at: u.ended_at.map(Timestamp::unix_seconds),
        }
    }
}

impl TryFrom<ArtifactUploadRow> for PendingUpload {
    type Error = RepoError;

    fn try_from(row: ArtifactUploadRow) -> Result<Self, RepoError> {
        let bad = |e| corrupt(TABLE, e);
        let multipart = match (row.upload_id, row.part_size, row.part_count) {
            (None, None, None) => None,
            (Some(upload_id), Some(part_size), Some(part_count)) => Some(MultipartUpload {
                upload_id: UploadId::parse(upload_id).map_err(bad)?,
                part_size: u64::try_from(part_size).map_err(|e| corrupt(TABLE, e))?,
                part_count: u32::try_from(part_count).map_err(|e| corrupt(TABLE, e))?,
            }),
            _ => return Err(corrupt(TABLE, "multipart columns set in part")),
        };
        Ok(Self {
            artifact_id: parse_id(TABLE, &row.artifact_id)?,
            release_id: parse_id(TABLE, &row.release_id)?,
            object_key: ObjectKey::from_stored(row.object_key),
            size: row.size.map(ArtifactSize::parse).transpose().map_err(bad)?,
            checksum: row
                .checksum
                .as_deref()
                .map(Checksum::parse)
                .transpose()
                .map_err(bad)?,
            multipart,
            created_at: ts(row.created_at),
            ended_at: row.ended_at.map(ts),
        })
    }
}
