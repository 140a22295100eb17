//! Artifact use cases: presign an upload, then register what was uploaded.

use std::sync::Arc;

use crate::artifact::{
    Artifact, ArtifactSize, ArtifactTarget, Checksum, CompletedPart, Filename, MultipartUpload,
    ObjectKey, PartNumber, PendingUpload, Platform, UploadPlan, Verification, VerificationPolicy,
    check_completed_parts,
};
use crate::audit::{AuditEvent, Origin};
use crate::ports::{
    ArtifactRepository, Clock, CompleteMultipartError, DeclaredObject, ObjectMeta, ObjectStore,
    PresignedPut, PresignedUrl, ReleaseRepository, RepoError, StoreError,
};
use crate::product::{ImmutabilityPolicy, release_is_fixed};
use crate::release::Release;
use crate::{ArtifactId, ReleaseId, Timestamp, ValidationError};

/// What the caller asks to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignUpload {
    /// The file's name.
    pub filename: Filename,
    /// Its platform.
    pub platform: Platform,
    /// Its size, when known: above the part size it is uploaded in parts.
    pub size: Option<ArtifactSize>,
    /// Its SHA-256, when known: registration must then declare the same.
    pub checksum: Option<Checksum>,
}

/// One part's presigned `PUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPart {
    /// Which part.
    pub part_number: PartNumber,
    /// Where to `PUT` it.
    pub upload: PresignedUrl,
}

/// Where the bytes go: one URL, or one per part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadTarget {
    /// One `PUT` of the whole file, with the headers to send along.
    Single(PresignedPut),
    /// An upload in parts; every part's URL, in order.
    Multipart {
        /// The upload and its plan.
        upload: MultipartUpload,
        /// A `PUT` per part.
        parts: Vec<PresignedPart>,
    },
}

/// Where to upload a new artifact's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUpload {
    /// The id the artifact will be registered under.
    pub artifact_id: ArtifactId,
    /// Where its bytes go.
    pub object_key: ObjectKey,
    /// The presigned request(s).
    pub target: UploadTarget,
}

impl PresignedUpload {
    /// The single presigned `PUT`, or `None` for an upload in parts.
    pub fn single_url(&self) -> Option<&PresignedUrl> {
        match &self.target {
            UploadTarget::Single(put) => Some(&put.url),
            UploadTarget::Multipart { .. } => None,
        }
    }
}

/// A request to register an uploaded artifact (fields as the caller sent them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterArtifact {
    /// The id from the presign step.
    pub artifact_id: ArtifactId,
    /// The object key from the presign step.
    pub object_key: String,
    /// SHA-256 of the bytes.
    pub checksum: Checksum,
    /// Size in bytes.
    pub size: ArtifactSize,
    /// Platform.
    pub platform: Platform,
    /// For an upload in parts: every part and its entity tag, in order.
    pub parts: Option<Vec<CompletedPart>>,
    /// The os, arch and file type given; what is not given is derived from the
    /// platform and the file name ([`ArtifactTarget::derive`]).
    pub target: ArtifactTarget,
}

/// Why an upload could not be presigned.
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    /// No release has that id.
    #[error("release not found")]
    ReleaseNotFound,
    /// The release is immutable: it takes no more artifacts.
    #[error("release is immutable")]
    Immutable,
    /// The file name or platform breaks the naming rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why an artifact could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterArtifactError {
    /// No release has that id.
    #[error("release not found")]
    ReleaseNotFound,
    /// The release is immutable: it takes no more artifacts.
    #[error("release is immutable")]
    Immutable,
    /// The object key does not follow the naming rule for this release and platform.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Nothing was uploaded under the key.
    #[error("object not found in storage: upload it to the presigned URL first")]
    ObjectMissing,
    /// The stored object's size differs from the declared size.
    #[error("size {declared} does not match the stored object ({stored} bytes)")]
    SizeMismatch {
        /// What the request said.
        declared: u64,
        /// What is stored.
        stored: u64,
    },
    /// The stored object's SHA-256 differs from the declared checksum.
    #[error("checksum does not match the stored object")]
    ChecksumMismatch,
    /// An artifact with this id (or key) is already registered.
    #[error("artifact already exists")]
    AlreadyExists,
    /// `parts` were sent, but no upload in parts is open for the artifact.
    #[error("no unfinished upload in parts for this artifact: register it without `parts`")]
    NotMultipart,
    /// The artifact is being uploaded in parts and `parts` are missing.
    #[error("this artifact is uploaded in parts: register it with `parts`")]
    PartsRequired,
    /// The store refused to join the parts named.
    #[error("the parts do not match the upload: {0}")]
    PartsRejected(String),
    /// The upload was aborted or swept before it was registered.
    #[error("the upload was aborted or has expired: presign it again")]
    UploadGone,
    /// Another object was stored under the key each time registration checked it: no
    /// bytes could be judged with the tag and version that would be pinned.
    #[error("the stored object changed while it was checked: register it again")]
    ObjectReplaced,
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The repository failed.
    #[error(transparent)]
    Repo(RepoError),
}

/// Presigns uploads and registers artifacts.
///
/// Registration checks that the presigned object exists with the declared size and
/// SHA-256; an object that is not what was declared is deleted. Files above the part
/// size (when the caller declares their size) are uploaded in parts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::artifact::{
///     ArtifactSize, ArtifactTarget, Checksum, Filename, Platform, RegisterArtifact,
/// };
/// use releasy_domain::memory::{FixedClock, InMemoryObjects};
/// use releasy_domain::release::{Product, Version};
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::audit::Origin;
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let objects = Arc::new(InMemoryObjects::default());
/// let releasy = Services::new(Ports::in_memory_with_objects(clock, objects.clone()));
/// let release = releasy
///     .releases
///     .create(&Origin::admin_key(), Product::parse("agent").unwrap(), Version::parse("2.4.0").unwrap())
///     .await
///     .unwrap();
/// let platform = Platform::parse("linux-x86_64").unwrap();
/// let upload = releasy
///     .artifacts
///     .presign(release.id, &Filename::parse("agent.tar.gz").unwrap(), &platform)
///     .await
///     .unwrap();
/// objects.put(&upload.object_key, vec![0; 3]); // the client's PUT
/// let registration = |checksum| RegisterArtifact {
///     artifact_id: upload.artifact_id,
///     object_key: upload.object_key.as_str().to_owned(),
///     checksum,
///     size: ArtifactSize::parse(3).unwrap(),
///     platform: platform.clone(),
///     target: ArtifactTarget::default(),
///     parts: None,
/// };
/// let artifact = releasy
///     .artifacts
///     .register(&Origin::admin_key(), release.id, registration(Checksum::of_bytes(&[0; 3])))
///     .await
///     .unwrap();
/// assert_eq!(artifact.id, upload.artifact_id);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ArtifactService {
    pub(super) releases: Arc<dyn ReleaseRepository>,
    pub(super) artifacts: Arc<dyn ArtifactRepository>,
    pub(super) objects: Arc<dyn ObjectStore>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) presign_expires_seconds: i64,
    pub(super) upload_ttl_seconds: i64,
    pub(super) part_size: u64,
    pub(super) verification: VerificationPolicy,
    pub(super) immutability: Option<ImmutabilityPolicy>,
    /// Where the upload sweep stopped when it walked its most without reaching the end:
    /// the next sweep goes on from there.
    pub(super) sweep_from: Arc<std::sync::Mutex<Option<(Timestamp, ArtifactId)>>>,
}

impl ArtifactService {
    /// The part size when none is configured: 64 MiB.
    pub const DEFAULT_PART_SIZE: u64 = 64 * 1024 * 1024;

    /// How long an upload may stay unregistered when nothing else is configured: a day.
    pub const DEFAULT_UPLOAD_TTL_SECONDS: i64 = 86_400;

    /// A service over the given ports; presigned URLs live `presign_expires_seconds`,
    /// parts are [`Self::DEFAULT_PART_SIZE`] (see [`Self::with_part_size`]), uploads
    /// are abandoned after [`Self::DEFAULT_UPLOAD_TTL_SECONDS`] (see
    /// [`Self::with_upload_ttl`]).
    pub fn new(
        releases: Arc<dyn ReleaseRepository>,
        artifacts: Arc<dyn ArtifactRepository>,
        objects: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
        presign_expires_seconds: i64,
    ) -> Self {
        Self {
            releases,
            artifacts,
            objects,
            clock,
            presign_expires_seconds,
            upload_ttl_seconds: Self::DEFAULT_UPLOAD_TTL_SECONDS,
            part_size: Self::DEFAULT_PART_SIZE,
            verification: VerificationPolicy::default(),
            immutability: None,
            sweep_from: Arc::default(),
        }
    }

    /// Releases published under `policy` take no more artifacts (without it, only
    /// releases sealed earlier are fixed).
    #[must_use]
    pub fn with_immutability(mut self, policy: ImmutabilityPolicy) -> Self {
        self.immutability = Some(policy);
        self
    }

    /// Whether `release` is fixed now ([`Release::is_immutable`]).
    async fn is_immutable(&self, release: &Release) -> Result<bool, RepoError> {
        release_is_fixed(self.immutability.as_ref(), release).await
    }

    /// Objects larger than `policy.inline_max_bytes`, whose digest the store did not
    /// record, are registered `pending` and checked in the background.
    #[must_use]
    pub fn with_verification(mut self, policy: VerificationPolicy) -> Self {
        self.verification = policy;
        self
    }

    /// Uploads presigned more than `seconds` ago and never registered are abandoned:
    /// [`Self::sweep_abandoned_uploads`] frees them, and no URL handed out for one
    /// (when it is resumed) outlives that moment.
    #[must_use]
    pub fn with_upload_ttl(mut self, seconds: i64) -> Self {
        self.upload_ttl_seconds = seconds;
        self
    }

    /// Files larger than `bytes` are uploaded in parts of `bytes` (kept within S3's
    /// 5 MiB to 5 GiB).
    #[must_use]
    pub fn with_part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// A new artifact id, its object key (the naming rule) and a presigned PUT for it,
    /// as [`Self::presign_upload`] with no declared size or checksum.
    ///
    /// # Errors
    /// As [`Self::presign_upload`].
    pub async fn presign(
        &self,
        release_id: ReleaseId,
        filename: &Filename,
        platform: &Platform,
    ) -> Result<PresignedUpload, PresignError> {
        self.presign_upload(
            release_id,
            PresignUpload {
                filename: filename.clone(),
                platform: platform.clone(),
                size: None,
                checksum: None,
            },
        )
        .await
    }

    /// A new artifact id, its object key (the naming rule) and where to upload it: one
    /// presigned `PUT`, or, when the declared size exceeds the part size, an upload in
    /// parts with a presigned `PUT` per part. The upload is recorded (so that it can be
    /// resumed, aborted, or swept when abandoned); nothing is registered until
    /// [`Self::register`].
    ///
    /// # Errors
    /// [`PresignError::ReleaseNotFound`] for an unknown release,
    /// [`PresignError::Invalid`] for a name that breaks the naming rule or a size above
    /// 5 TiB.
    pub async fn presign_upload(
        &self,
        release_id: ReleaseId,
        request: PresignUpload,
    ) -> Result<PresignedUpload, PresignError> {
        let release = self
            .releases
            .get(release_id)
            .await?
            .ok_or(PresignError::ReleaseNotFound)?;
        if self.is_immutable(&release).await? {
            return Err(PresignError::Immutable);
        }
        let artifact_id = ArtifactId::generate();
        let object_key = ObjectKey::for_artifact(
            &release.product,
            &release.version,
            &request.platform,
            artifact_id,
            &request.filename,
        )?;
        let plan = match request.size {
            Some(size) => UploadPlan::for_size(size, self.part_size)?,
            None => UploadPlan::Single,
        };
        let now = self.clock.now();
        let (target, multipart) = match plan {
            UploadPlan::Single => {
                let put = self
                    .presign_single(
                        &object_key,
                        DeclaredObject {
                            checksum: request.checksum.as_ref(),
                            size: request.size.map(ArtifactSize::bytes),
                        },
                        now,
                        self.fresh_url_seconds(),
                    )
                    .await?;
                (UploadTarget::Single(put), None)
            }
            UploadPlan::Multipart {
                part_size,
                part_count,
            } => {
                let upload_id = self.objects.start_multipart(&object_key, part_size).await?;
                let upload = MultipartUpload {
                    upload_id,
                    part_size,
                    part_count,
                };
                let parts = match self
                    .presign_parts(
                        &object_key,
                        &upload,
                        1..=part_count,
                        now,
                        self.fresh_url_seconds(),
                    )
                    .await
                {
                    Ok(parts) => parts,
                    Err(err) => {
                        self.abort_quietly(&object_key, &upload).await;
                        return Err(err.into());
                    }
                };
                (
                    UploadTarget::Multipart {
                        upload: upload.clone(),
                        parts,
                    },
                    Some(upload),
                )
            }
        };
        let record = PendingUpload {
            artifact_id,
            release_id,
            object_key: object_key.clone(),
            size: request.size,
            checksum: request.checksum,
            multipart,
            created_at: now,
            ended_at: None,
        };
        if let Err(err) = self.artifacts.insert_upload(&record).await {
            if let Some(upload) = &record.multipart {
                self.abort_quietly(&object_key, upload).await;
            }
            return Err(err.into());
        }
        Ok(PresignedUpload {
            artifact_id,
            object_key,
            target,
        })
    }

    /// How long the URLs of a new upload live: the configured lifetime, cut to the
    /// upload's TTL (an upload is never swept while its URLs work).
    fn fresh_url_seconds(&self) -> i64 {
        self.presign_expires_seconds.min(self.upload_ttl_seconds)
    }

    /// The presigned `PUT` of a whole object: one the store checks against `checksum`
    /// when the client declared it. It expires `expires_in_seconds` after `now`, the
    /// moment the caller measured that lifetime from (a later reading of the clock
    /// would let the URL outlive the upload's TTL, and bytes arrive after the sweep).
    pub(super) async fn presign_single(
        &self,
        object_key: &ObjectKey,
        declared: DeclaredObject<'_>,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedPut, StoreError> {
        self.objects
            .presign_put_with(object_key, now, expires_in_seconds, declared)
            .await
    }

    /// Presigned `PUT`s for the parts `numbers` of `upload`, expiring as in
    /// [`Self::presign_single`].
    pub(super) async fn presign_parts(
        &self,
        object_key: &ObjectKey,
        upload: &MultipartUpload,
        numbers: impl IntoIterator<Item = u32>,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<Vec<PresignedPart>, StoreError> {
        let mut parts = Vec::new();
        for number in numbers {
            let part_number = PartNumber::parse(i64::from(number))
                .map_err(|e| StoreError::Internal(Box::new(e)))?;
            let url = self
                .objects
                .presign_part(
                    object_key,
                    &upload.upload_id,
                    part_number,
                    now,
                    expires_in_seconds,
                )
                .await?;
            parts.push(PresignedPart {
                part_number,
                upload: url,
            });
        }
        Ok(parts)
    }

    /// Aborts `upload` on a path that is failing already, whose error is the one to
    /// report. (Should this abort fail too, the parts stay until the bucket's lifecycle
    /// rule for incomplete uploads removes them; docs/storage.md recommends one.)
    async fn abort_quietly(&self, object_key: &ObjectKey, upload: &MultipartUpload) {
        let _ = self
            .objects
            .abort_multipart(object_key, &upload.upload_id)
            .await;
    }

    /// Registers an uploaded artifact after checking that its key follows the naming
    /// rule and that the store really holds an object of the declared size and SHA-256,
    /// so a release never lists an artifact that cannot be downloaded, nor bytes other
    /// than the vendor declared. An upload in parts is first completed from `parts`.
    /// An object of another size or digest is deleted (unless an artifact is registered
    /// under its key already), and the upload is over, as if aborted: presign again.
    ///
    /// # Errors
    /// [`RegisterArtifactError`].
    pub async fn register(
        &self,
        origin: &Origin,
        release_id: ReleaseId,
        request: RegisterArtifact,
    ) -> Result<Artifact, RegisterArtifactError> {
        let release = self
            .releases
            .get(release_id)
            .await
            .map_err(RegisterArtifactError::Repo)?
            .ok_or(RegisterArtifactError::ReleaseNotFound)?;
        if self
            .is_immutable(&release)
            .await
            .map_err(RegisterArtifactError::Repo)?
        {
            return Err(RegisterArtifactError::Immutable);
        }
        let object_key = ObjectKey::parse_for_artifact(
            &request.object_key,
            &release.product,
            &release.version,
            &request.platform,
            request.artifact_id,
        )?;
        if self
            .artifacts
            .get_with_release(request.artifact_id)
            .await
            .map_err(RegisterArtifactError::Repo)?
            .is_some()
        {
            return Err(RegisterArtifactError::AlreadyExists);
        }
        let pending = self
            .artifacts
            .get_upload(request.artifact_id)
            .await
            .map_err(RegisterArtifactError::Repo)?;
        if let Some(pending) = &pending {
            // The upload presigned under this id is another release's (one deleted
            // since, whose product and version were used again): not this one's to
            // complete.
            if pending.release_id != release_id || pending.ended_at.is_some() {
                return Err(RegisterArtifactError::UploadGone);
            }
            if pending.object_key != object_key {
                return Err(ValidationError::new(
                    "object_key",
                    "does not match release or platform",
                )
                .into());
            }
            check_declared(pending, &request)?;
        }
        let completed = self
            .complete_parts(&object_key, pending.as_ref(), request.parts.as_deref())
            .await;
        let judged = match completed {
            Ok(()) => self.judge_stored(&object_key, &request).await,
            Err(refused) => Err(refused),
        };
        let judged = match judged {
            // Aborted or swept meanwhile (whoever ended the upload took its bytes,
            // perhaps while this registration joined the parts, which then looked
            // missing): that, not a missing upload, is what the client must hear.
            Err(
                refused @ (RegisterArtifactError::ObjectMissing
                | RegisterArtifactError::PartsRejected(_)),
            ) if pending.is_some() => {
                return Err(self.unless_gone(request.artifact_id, refused).await);
            }
            judged => judged?,
        };
        // A refusal for the stored bytes ends the upload's record, where there is one.
        let refused_as = if pending.is_some() {
            Discard::Recorded
        } else {
            Discard::Unrecorded
        };
        let (stored, check) = match judged {
            Judged::Checked(stored, check) => (stored, check),
            Judged::WrongSize(stored) => {
                return Err(self
                    .discard(
                        &object_key,
                        request.artifact_id,
                        refused_as,
                        RegisterArtifactError::SizeMismatch {
                            declared: request.size.bytes(),
                            stored: stored.size,
                        },
                    )
                    .await);
            }
        };
        let verification = match check {
            DigestCheck::Matches => Verification::Verified,
            DigestCheck::Deferred => Verification::Pending,
            DigestCheck::Differs => {
                return Err(self
                    .discard(
                        &object_key,
                        request.artifact_id,
                        refused_as,
                        RegisterArtifactError::ChecksumMismatch,
                    )
                    .await);
            }
        };
        let derived = ArtifactTarget::derive(&request.platform, object_key.filename());
        let artifact = Artifact {
            id: request.artifact_id,
            release_id,
            object_key,
            checksum: request.checksum,
            size: request.size,
            target: request.target.or(derived),
            platform: request.platform,
            created_at: self.clock.now(),
            verification,
            object_etag: stored.etag,
            object_version: stored.version_id,
        };
        // An upload presigned before uploads were recorded has no record to complete.
        let event = AuditEvent::artifact_registered(origin, &artifact);
        let stored = match pending {
            Some(_) => {
                self.artifacts
                    .insert_completing_upload(&artifact, &event)
                    .await
            }
            None => self
                .artifacts
                .insert(&artifact, &event)
                .await
                .map(|()| true),
        };
        match stored {
            Ok(true) => Ok(artifact),
            // The sweeper or an abort claimed the upload meanwhile. It deletes the bytes
            // it finds, but a completion that finished after its delete left an object
            // that nothing would ever remove.
            Ok(false) => Err(self
                .discard(
                    &artifact.object_key,
                    artifact.id,
                    Discard::Unrecorded,
                    RegisterArtifactError::UploadGone,
                )
                .await),
            Err(RepoError::Conflict) => Err(RegisterArtifactError::AlreadyExists),
            // The release was deleted, or sealed by a publication, while this request ran.
            Err(RepoError::MissingReference) => match self.releases.get(release_id).await {
                Ok(Some(_)) => Err(RegisterArtifactError::Immutable),
                Ok(None) => Err(RegisterArtifactError::ReleaseNotFound),
                Err(other) => Err(RegisterArtifactError::Repo(other)),
            },
            Err(other) => Err(RegisterArtifactError::Repo(other)),
        }
    }

    /// The stored object and what its digest says, judged between two looks at it (as
    /// the verifier takes): the bytes judged are those whose tag and version are
    /// recorded, and every link pinned to, only when both looks name the same object.
    /// An object replaced meanwhile (a second `PUT` through a still-valid URL) is judged
    /// again, as it is now, a few times; nothing is deleted on the way.
    ///
    /// # Errors
    /// [`RegisterArtifactError::ObjectMissing`] when no object is stored (or it went),
    /// [`RegisterArtifactError::ObjectReplaced`] when it kept changing.
    async fn judge_stored(
        &self,
        object_key: &ObjectKey,
        request: &RegisterArtifact,
    ) -> Result<Judged, RegisterArtifactError> {
        let mut stored = self
            .objects
            .head(object_key)
            .await?
            .ok_or(RegisterArtifactError::ObjectMissing)?;
        for _ in 0..JUDGEMENTS_OF_A_CHANGING_OBJECT {
            if stored.size != request.size.bytes() {
                return Ok(Judged::WrongSize(stored));
            }
            let check = self.check_digest(object_key, request).await?;
            if check == DigestCheck::Deferred {
                // The verifier takes its own two looks.
                return Ok(Judged::Checked(stored, check));
            }
            let after = self
                .objects
                .head(object_key)
                .await?
                .ok_or(RegisterArtifactError::ObjectMissing)?;
            if after == stored {
                return Ok(Judged::Checked(stored, check));
            }
            stored = after;
        }
        Err(RegisterArtifactError::ObjectReplaced)
    }

    /// Compares the stored object's SHA-256 with the declared one: from the digest the
    /// store recorded when it received the bytes, else by reading the object when the
    /// [`VerificationPolicy`] lets registration wait that long, else not now.
    async fn check_digest(
        &self,
        object_key: &ObjectKey,
        request: &RegisterArtifact,
    ) -> Result<DigestCheck, RegisterArtifactError> {
        let digest = match self.objects.recorded_sha256(object_key).await? {
            Some(recorded) => recorded,
            None if self.verification.reads_inline(request.size) => self
                .objects
                .sha256(object_key)
                .await?
                .ok_or(RegisterArtifactError::ObjectMissing)?,
            None => return Ok(DigestCheck::Deferred),
        };
        Ok(if digest == request.checksum {
            DigestCheck::Matches
        } else {
            DigestCheck::Differs
        })
    }

    /// Completes the upload in parts of `pending`, if it is one. A completion that the store no longer knows (an earlier registration
    /// completed it and failed later) leaves the object to the checks that follow.
    async fn complete_parts(
        &self,
        object_key: &ObjectKey,
        pending: Option<&PendingUpload>,
        parts: Option<&[CompletedPart]>,
    ) -> Result<(), RegisterArtifactError> {
        let multipart = pending.and_then(|p| p.multipart.as_ref());
        let (upload, parts) = match (multipart, parts) {
            (None, None) => return Ok(()),
            (None, Some(_)) => return Err(RegisterArtifactError::NotMultipart),
            (Some(_), None) => return Err(RegisterArtifactError::PartsRequired),
            (Some(upload), Some(parts)) => (upload, parts),
        };
        check_completed_parts(parts, upload.part_count)?;
        // Not every S3 implementation refuses a short part in the middle; checked here,
        // the upload stays open for the part to be sent again, on every store.
        if let Some(total) = pending.and_then(|p| p.size)
            && let Some(held) = self
                .objects
                .list_parts(object_key, &upload.upload_id)
                .await?
            && let Some((part, planned)) = upload.wrongly_sized(total.bytes(), &held, parts)
        {
            return Err(RegisterArtifactError::PartsRejected(format!(
                "part {} must hold {planned} bytes",
                part.get()
            )));
        }
        match self
            .objects
            .complete_multipart(object_key, &upload.upload_id, parts)
            .await
        {
            Ok(()) | Err(CompleteMultipartError::UploadNotFound) => Ok(()),
            Err(CompleteMultipartError::PartsRejected(reason)) => {
                Err(RegisterArtifactError::PartsRejected(reason))
            }
            Err(CompleteMultipartError::Store(err)) => Err(err.into()),
        }
    }

    /// Deletes an object that is not what its registration declared, then answers
    /// `refusal`. An artifact registered under the id meanwhile (a concurrent, correct
    /// registration of the same bytes) keeps its object: where the upload has a record,
    /// this refusal ends it before deleting, and a registration completes only an open
    /// record, so of the two exactly one goes on. The upload is then over, as if
    /// aborted: its record stays, ended, and the sweeper deletes whatever a URL still
    /// valid stores meanwhile.
    async fn discard(
        &self,
        object_key: &ObjectKey,
        artifact_id: ArtifactId,
        how: Discard,
        refusal: RegisterArtifactError,
    ) -> RegisterArtifactError {
        let ended_here = how == Discard::Recorded
            && match self
                .artifacts
                .end_upload(artifact_id, self.clock.now(), None)
                .await
            {
                Ok(ended) => ended,
                Err(repo) => return RegisterArtifactError::Repo(repo),
            };
        // Without the record ended here, the upload was completed by a concurrent
        // registration (then the object is that artifact's), or ended by an abort or
        // the sweeper: their delete may have come before this registration's join of
        // the parts, and an ended record is never completed, so the object goes unless
        // an artifact holds it.
        if !ended_here {
            match self.artifacts.get_with_release(artifact_id).await {
                Ok(Some(_)) => return RegisterArtifactError::AlreadyExists,
                Ok(None) => {}
                Err(repo) => return RegisterArtifactError::Repo(repo),
            }
        }
        match self.objects.delete(object_key).await {
            Ok(()) => refusal,
            // An ended record stays for the sweeper, which deletes the bytes in its turn.
            Err(store) => RegisterArtifactError::Store(store),
        }
    }

    /// `refusal` while the upload of `artifact_id` is open,
    /// [`RegisterArtifactError::UploadGone`] once it was ended or removed.
    async fn unless_gone(
        &self,
        artifact_id: ArtifactId,
        refusal: RegisterArtifactError,
    ) -> RegisterArtifactError {
        match self.artifacts.get_upload(artifact_id).await {
            Ok(Some(upload)) if upload.ended_at.is_none() => refusal,
            Ok(_) => RegisterArtifactError::UploadGone,
            Err(repo) => RegisterArtifactError::Repo(repo),
        }
    }
}

/// How a refused registration's object is deleted ([`ArtifactService::discard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discard {
    /// The upload has an open record, which the refusal ends before it deletes.
    Recorded,
    /// No open record to end: uploaded before uploads were recorded, or the record was
    /// ended (aborted or swept) while the registration ran.
    Unrecorded,
}

/// How many times registration judges an object that changes while it is judged
/// before it gives up (`409`): a `PUT` landing during the read is judged as it is then.
const JUDGEMENTS_OF_A_CHANGING_OBJECT: u32 = 3;

/// What registration found stored under the key.
enum Judged {
    /// An object of another size than declared: refused on that alone.
    WrongSize(ObjectMeta),
    /// An object of the declared size, and what its digest says.
    Checked(ObjectMeta, DigestCheck),
}

/// What registration learnt of the stored object's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigestCheck {
    /// It is the declared one.
    Matches,
    /// It is another.
    Differs,
    /// Left to the background verifier: reading the object would hold the request too
    /// long.
    Deferred,
}

/// A registration must declare what its presign declared, when it declared anything.
fn check_declared(
    pending: &PendingUpload,
    request: &RegisterArtifact,
) -> Result<(), ValidationError> {
    if pending.size.is_some_and(|size| size != request.size) {
        return Err(ValidationError::new(
            "size",
            "must be the size declared when the upload was presigned",
        ));
    }
    if pending
        .checksum
        .as_ref()
        .is_some_and(|checksum| *checksum != request.checksum)
    {
        return Err(ValidationError::new(
            "checksum",
            "must be the checksum declared when the upload was presigned",
        ));
    }
    Ok(())
}
