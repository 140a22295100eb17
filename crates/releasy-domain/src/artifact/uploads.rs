//! Unfinished uploads: their state (to resume one), aborting one, and sweeping the
//! abandoned ones.

use std::sync::PoisonError;

use crate::artifact::{
    ArtifactService, ArtifactSize, MultipartUpload, ObjectKey, PendingUpload, PresignedPart,
    UploadedPart,
};
use crate::audit::{AuditEvent, Origin};
use crate::ports::{DeclaredObject, ErrorChain, PresignedPut, RepoError, StoreError};
use crate::{ArtifactId, ReleaseId, Timestamp};

/// Where an unfinished upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadState {
    /// The record of the upload.
    pub upload: PendingUpload,
    /// For an upload in parts: the parts the store holds whole (of the planned size).
    pub uploaded_parts: Vec<UploadedPart>,
    /// For an upload in parts: fresh URLs for every part still missing, and for every
    /// part whose entity tag the store did not report (it could not be named at
    /// registration, so it is sent again).
    pub missing_parts: Vec<PresignedPart>,
    /// For a single upload: a fresh presigned `PUT` for it.
    pub single_put: Option<PresignedPut>,
}

/// Why an unfinished upload could not be read or aborted.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No unfinished upload for that artifact of that release.
    #[error("no unfinished upload for this artifact")]
    NotFound,
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Abandoned uploads aborted, their bytes deleted.
    pub swept: usize,
    /// Abandoned uploads the store (or the database) failed to free; they are swept
    /// again next time.
    pub failed: usize,
    /// Why the first of them failed, with its causes (a bucket policy that denies
    /// aborts fails every one the same way, sweep after sweep: the log must say so).
    pub first_failure: Option<String>,
}

/// How many abandoned uploads a sweep reads at a time.
const SWEEP_BATCH: u32 = 100;

/// The most batches one sweep walks: 10 000 uploads, whose bytes may each take a call
/// to the store.
const SWEEP_BATCHES: u32 = 100;

impl ArtifactService {
    /// The unfinished upload of `artifact_id` in `release_id`: which parts arrived, and
    /// fresh URLs for the rest (or for the single `PUT`), so an interrupted upload
    /// resumes without sending again what the store has. The URLs expire no later than
    /// the upload's TTL, counted from its presign.
    ///
    /// # Errors
    /// [`UploadError::NotFound`] when no such upload is unfinished (never presigned,
    /// registered, aborted, swept, its parts completed already, or past its TTL).
    pub async fn upload_state(
        &self,
        release_id: ReleaseId,
        artifact_id: ArtifactId,
    ) -> Result<UploadState, UploadError> {
        let upload = self.pending(release_id, artifact_id).await?;
        // URLs that outlive the upload's TTL would let bytes arrive after the sweep.
        let abandoned_at = upload.created_at.plus_seconds(self.upload_ttl_seconds);
        let now = self.clock.now();
        let left = abandoned_at.unix_seconds() - now.unix_seconds();
        if left <= 0 {
            return Err(UploadError::NotFound);
        }
        let expires_in_seconds = self.presign_expires_seconds.min(left);
        let Some(multipart) = &upload.multipart else {
            let put = self
                .presign_single(
                    &upload.object_key,
                    DeclaredObject {
                        checksum: upload.checksum.as_ref(),
                        size: upload.size.map(ArtifactSize::bytes),
                    },
                    now,
                    expires_in_seconds,
                )
                .await?;
            return Ok(UploadState {
                upload,
                uploaded_parts: Vec::new(),
                missing_parts: Vec::new(),
                single_put: Some(put),
            });
        };
        let listed = self
            .objects
            .list_parts(&upload.object_key, &multipart.upload_id)
            .await?
            .ok_or(UploadError::NotFound)?;
        let total = upload.size.map_or(0, |size| size.bytes());
        // A part of another size than planned is sent again, whole.
        let uploaded_parts: Vec<UploadedPart> = listed
            .into_iter()
            .filter(|part| Some(part.size) == multipart.planned_size(total, part.part_number))
            .collect();
        let nameable = |n: u32| {
            uploaded_parts
                .iter()
                .any(|p| p.part_number.get() == n && p.etag.is_some())
        };
        let missing = (1..=multipart.part_count).filter(|n| !nameable(*n));
        let missing_parts = self
            .presign_parts(
                &upload.object_key,
                multipart,
                missing,
                now,
                expires_in_seconds,
            )
            .await?;
        Ok(UploadState {
            upload,
            uploaded_parts,
            missing_parts,
            single_put: None,
        })
    }

    /// Aborts the unfinished upload of `artifact_id` in `release_id` and deletes what
    /// it stored. The record stays, ended, until the upload's TTL is over: registering
    /// the upload is refused from now on, and the sweeper deletes again whatever a URL
    /// handed out before the abort stores meanwhile. Audited as
    /// `artifact_upload.aborted` by `origin`, with the abort.
    ///
    /// # Errors
    /// [`UploadError::NotFound`] as for [`Self::upload_state`]; a store failure leaves
    /// the bytes to the sweeper.
    pub async fn abort_upload(
        &self,
        origin: &Origin,
        release_id: ReleaseId,
        artifact_id: ArtifactId,
    ) -> Result<(), UploadError> {
        let upload = self.pending(release_id, artifact_id).await?;
        let now = self.clock.now();
        let aborted = AuditEvent::upload_aborted(origin, &upload, now);
        if !self
            .artifacts
            .end_upload(artifact_id, now, Some(&aborted))
            .await?
        {
            return Err(UploadError::NotFound);
        }
        self.free(
            &upload.object_key,
            upload.multipart.as_ref(),
            upload.artifact_id,
        )
        .await
    }

    /// Aborts uploads presigned more than the TTL ago ([`Self::with_upload_ttl`]) and
    /// never registered, deletes their bytes, then their records: oldest first, up to
    /// 10 000 per call, the next call going on where one that reached its most stopped.
    /// An upload whose bytes cannot be freed (the store refuses) keeps its record for
    /// the next walk, and the walk goes on past it, so any number of those never hold
    /// newer uploads back. Safe to run on several instances at once: an upload is ended
    /// first (no registration completes it after that; of a registration and the
    /// sweep, exactly one gets it), its bytes are freed (twice, harmlessly, when two
    /// instances sweep it at once), and only then is its record removed, so a
    /// registration never finds the record gone while the bytes are still there.
    ///
    /// # Errors
    /// [`RepoError`] when the uploads could not be listed (one that could not be
    /// ended, freed or removed counts as failed, and the walk goes on).
    pub async fn sweep_abandoned_uploads(&self) -> Result<SweepReport, RepoError> {
        let now = self.clock.now();
        let cutoff = now.plus_seconds(-self.upload_ttl_seconds);
        let mut report = SweepReport::default();
        // A cursor is always whole, whatever a panic elsewhere left.
        let resume = || {
            self.sweep_from
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        let mut after = *resume();
        for _ in 0..SWEEP_BATCHES {
            let batch = self
                .artifacts
                .uploads_created_before(cutoff, after, SWEEP_BATCH)
                .await?;
            let full = batch.len() == SWEEP_BATCH as usize;
            after = batch
                .last()
                .map(|u| (u.created_at, u.artifact_id))
                .filter(|_| full);
            for upload in batch {
                match self.sweep_one(&upload, now).await {
                    Ok(true) => report.swept += 1,
                    Ok(false) => {}
                    // The record stays: the next walk tries it again, and this one goes on.
                    Err(err) => {
                        report.failed += 1;
                        report
                            .first_failure
                            .get_or_insert_with(|| ErrorChain(&err).to_string());
                    }
                }
            }
            *resume() = after;
            if !full {
                break;
            }
        }
        Ok(report)
    }

    /// Sweeps one abandoned upload (see [`Self::sweep_abandoned_uploads`]): `true` when
    /// it ended, freed and removed it, `false` when it was not this sweep's to take.
    async fn sweep_one(&self, upload: &PendingUpload, now: Timestamp) -> Result<bool, UploadError> {
        // An aborted upload is ended already; otherwise whoever ends it owns it.
        let ours = upload.ended_at.is_some()
            || self
                .artifacts
                .end_upload(upload.artifact_id, now, None)
                .await?;
        if !ours {
            return Ok(false); // registered meanwhile, or another instance ended it
        }
        self.free(
            &upload.object_key,
            upload.multipart.as_ref(),
            upload.artifact_id,
        )
        .await?;
        self.artifacts.delete_upload(upload.artifact_id).await?;
        Ok(true)
    }

    /// The upload record of `artifact_id`, if it belongs to `release_id` and is not
    /// ended.
    async fn pending(
        &self,
        release_id: ReleaseId,
        artifact_id: ArtifactId,
    ) -> Result<PendingUpload, UploadError> {
        self.artifacts
            .get_upload(artifact_id)
            .await?
            .filter(|upload| upload.release_id == release_id && upload.ended_at.is_none())
            .ok_or(UploadError::NotFound)
    }

    /// Aborts the parts and deletes the object, unless an artifact is registered under
    /// the id (an upload registered before records existed keeps its bytes).
    async fn free(
        &self,
        object_key: &ObjectKey,
        multipart: Option<&MultipartUpload>,
        artifact_id: ArtifactId,
    ) -> Result<(), UploadError> {
        if self
            .artifacts
            .get_with_release(artifact_id)
            .await?
            .is_some()
        {
            return Ok(());
        }
        if let Some(multipart) = multipart {
            self.objects
                .abort_multipart(object_key, &multipart.upload_id)
                .await?;
        }
        self.objects.delete(object_key).await?;
        Ok(())
    }
}
