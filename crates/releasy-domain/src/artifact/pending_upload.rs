//! The record of an upload that was presigned and not yet registered: what the sweeper
//! cleans when it is abandoned, and what registration checks a multipart upload against.

use crate::artifact::{ArtifactSize, Checksum, ObjectKey, UploadId};
use crate::{ArtifactId, ReleaseId, Timestamp};

/// An upload in parts, as the store opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    /// The store's id for it.
    pub upload_id: UploadId,
    /// Bytes per part (the last one may be shorter).
    pub part_size: u64,
    /// How many parts make the whole.
    pub part_count: u32,
}

/// A presigned, unregistered upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    /// The id the artifact will be registered under.
    pub artifact_id: ArtifactId,
    /// The release it was presigned for.
    pub release_id: ReleaseId,
    /// Where its bytes go.
    pub object_key: ObjectKey,
    /// The size declared at presign, if any.
    pub size: Option<ArtifactSize>,
    /// The SHA-256 declared at presign, if any.
    pub checksum: Option<Checksum>,
    /// The upload in parts, when the size called for one.
    pub multipart: Option<MultipartUpload>,
    /// When it was presigned.
    pub created_at: Timestamp,
}
