//! Artifacts: the files of a release, stored under a key derived from the release.

mod model;
mod multipart;
mod object_key;
mod pending_upload;
mod service;
mod target;
mod uploads;
mod verification;
mod verifier;

pub use model::{Artifact, ArtifactSize, Checksum, Filename, Platform};
pub use multipart::{
    CompletedPart, MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, PartNumber, UploadId,
    UploadPlan, UploadedPart, check_completed_parts,
};
pub use object_key::{ObjectKey, normalize_segment};
pub use pending_upload::{MultipartUpload, PendingUpload};
pub use service::{
    ArtifactService, PresignError, PresignUpload, PresignedPart, PresignedUpload, RegisterArtifact,
    RegisterArtifactError, UploadTarget,
};
pub use target::{ArtifactTarget, TargetLabel};
pub use uploads::{SweepReport, UploadError, UploadState};
pub use verification::{
    FAILED_CHECK_RETRY_SECONDS, Verification, VerificationPolicy, verification_lease_seconds,
};
pub use verifier::{VerificationReport, VerifyError, VerifyOutcome};
