//! Artifact use cases: presign an upload, then register what was uploaded.

use std::sync::Arc;

use crate::artifact::{Artifact, ArtifactSize, Checksum, Filename, ObjectKey, Platform};
use crate::ports::{
    ArtifactRepository, Clock, ObjectStore, PresignedUrl, ReleaseRepository, RepoError, StoreError,
};
use crate::{ArtifactId, ReleaseId, ValidationError};

/// Where to upload a new artifact's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUpload {
    /// The id the artifact will be registered under.
    pub artifact_id: ArtifactId,
    /// Where its bytes go.
    pub object_key: ObjectKey,
    /// The presigned PUT.
    pub upload: PresignedUrl,
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
}

/// Why an upload could not be presigned.
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    /// No release has that id.
    #[error("release not found")]
    ReleaseNotFound,
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
/// SHA-256; an object that is not what was declared is deleted.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::artifact::{ArtifactSize, Checksum, Filename, Platform, RegisterArtifact};
/// use releasy_domain::memory::{FixedClock, InMemoryObjects};
/// use releasy_domain::release::{Product, Version};
/// use releasy_domain::{Ports, Services, Timestamp};
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let objects = Arc::new(InMemoryObjects::default());
/// let releasy = Services::new(Ports::in_memory_with_objects(clock, objects.clone()));
/// let release = releasy
///     .releases
///     .create(Product::parse("agent").unwrap(), Version::parse("2.4.0").unwrap())
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
/// };
/// let artifact = releasy
///     .artifacts
///     .register(release.id, registration(Checksum::of_bytes(&[0; 3])))
///     .await
///     .unwrap();
/// assert_eq!(artifact.id, upload.artifact_id);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ArtifactService {
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    objects: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    presign_expires_seconds: i64,
}

impl ArtifactService {
    /// A service over the given ports; presigned URLs live `presign_expires_seconds`.
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
        }
    }

    /// A new artifact id, its object key (the naming rule) and a presigned PUT for it.
    /// Nothing is stored until [`Self::register`].
    ///
    /// # Errors
    /// [`PresignError::ReleaseNotFound`] for an unknown release.
    pub async fn presign(
        &self,
        release_id: ReleaseId,
        filename: &Filename,
        platform: &Platform,
    ) -> Result<PresignedUpload, PresignError> {
        let release = self
            .releases
            .get(release_id)
            .await?
            .ok_or(PresignError::ReleaseNotFound)?;
        let artifact_id = ArtifactId::generate();
        let object_key = ObjectKey::for_artifact(
            &release.product,
            &release.version,
            platform,
            artifact_id,
            filename,
        )?;
        let upload = self
            .objects
            .presign_put(&object_key, self.clock.now(), self.presign_expires_seconds)
            .await?;
        Ok(PresignedUpload {
            artifact_id,
            object_key,
            upload,
        })
    }

    /// Registers an uploaded artifact after checking that its key follows the naming
    /// rule and that the store really holds an object of the declared size and SHA-256,
    /// so a release never lists an artifact that cannot be downloaded, nor bytes other
    /// than the vendor declared. An object of another size or digest is deleted (unless
    /// an artifact is registered under its key already): the upload starts over.
    ///
    /// # Errors
    /// [`RegisterArtifactError`].
    pub async fn register(
        &self,
        release_id: ReleaseId,
        request: RegisterArtifact,
    ) -> Result<Artifact, RegisterArtifactError> {
        let release = self
            .releases
            .get(release_id)
            .await
            .map_err(RegisterArtifactError::Repo)?
            .ok_or(RegisterArtifactError::ReleaseNotFound)?;
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
        let stored = self
            .objects
            .head(&object_key)
            .await?
            .ok_or(RegisterArtifactError::ObjectMissing)?;
        if stored.size != request.size.bytes() {
            return Err(self
                .discard(
                    &object_key,
                    request.artifact_id,
                    RegisterArtifactError::SizeMismatch {
                        declared: request.size.bytes(),
                        stored: stored.size,
                    },
                )
                .await);
        }
        let digest = self
            .objects
            .sha256(&object_key)
            .await?
            .ok_or(RegisterArtifactError::ObjectMissing)?;
        if digest != request.checksum {
            return Err(self
                .discard(
                    &object_key,
                    request.artifact_id,
                    RegisterArtifactError::ChecksumMismatch,
                )
                .await);
        }
        let artifact = Artifact {
            id: request.artifact_id,
            release_id,
            object_key,
            checksum: request.checksum,
            size: request.size,
            platform: request.platform,
            created_at: self.clock.now(),
        };
        match self.artifacts.insert(&artifact).await {
            Ok(()) => Ok(artifact),
            Err(RepoError::Conflict) => Err(RegisterArtifactError::AlreadyExists),
            // The release was deleted while this request ran.
            Err(RepoError::MissingReference) => Err(RegisterArtifactError::ReleaseNotFound),
            Err(other) => Err(RegisterArtifactError::Repo(other)),
        }
    }

    /// Deletes an object that is not what its registration declared, then answers
    /// `refusal`. An artifact registered under the id meanwhile (a concurrent, correct
    /// registration of the same bytes) keeps its object.
    async fn discard(
        &self,
        object_key: &ObjectKey,
        artifact_id: ArtifactId,
        refusal: RegisterArtifactError,
    ) -> RegisterArtifactError {
        match self.artifacts.get_with_release(artifact_id).await {
            Ok(Some(_)) => RegisterArtifactError::AlreadyExists,
            Ok(None) => match self.objects.delete(object_key).await {
                Ok(()) => refusal,
                Err(store) => RegisterArtifactError::Store(store),
            },
            Err(repo) => RegisterArtifactError::Repo(repo),
        }
    }
}
