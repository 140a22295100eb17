//! Where artifact bytes live. Clients never stream through the domain: they get
//! short-lived presigned URLs and talk to the store directly.

use async_trait::async_trait;

use crate::Timestamp;
use crate::artifact::{Checksum, CompletedPart, ObjectKey, PartNumber, UploadId, UploadedPart};

/// A URL that grants one operation on one object until `expires_at`. Its `Debug` hides
/// the URL, which is a bearer credential.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    /// The URL itself.
    pub url: String,
    /// When the store stops honouring it.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedUrl")
            .field("url", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A presigned `PUT` with the headers the client must send with it (they are part of
/// the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    /// The URL.
    pub url: PresignedUrl,
    /// Header names and values to send along, in the order given; often none.
    pub headers: Vec<(String, String)>,
}

/// What a client declared, at presign, of a whole object it is about to `PUT`: a store
/// that can check it while receiving the body refuses one that differs, before it is
/// stored. Registration checks both in any case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeclaredObject<'a> {
    /// Its SHA-256.
    pub checksum: Option<&'a Checksum>,
    /// Its size in bytes: a URL for a declared size stores no more (a leaked URL
    /// cannot fill the store).
    pub size: Option<u64>,
}

/// What the store knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// The entity tag naming this content, where the store gives one (S3); another
    /// tag means other bytes.
    pub etag: Option<String>,
    /// The version, where the store keeps versions (an S3 bucket with versioning on).
    pub version_id: Option<String>,
}

impl ObjectMeta {
    /// An object of `size` bytes the store names by no tag and no version.
    pub const fn of_size(size: u64) -> Self {
        Self {
            size,
            etag: None,
            version_id: None,
        }
    }
}

/// The object store failed; the cause is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached.
    #[error("object store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else.
    #[error("object store failed")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why an upload in parts could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum CompleteMultipartError {
    /// The store knows no such upload (aborted, completed already, or never opened).
    #[error("no unfinished upload has this id")]
    UploadNotFound,
    /// The parts named are not what the store holds: a part is missing, its entity tag
    /// differs, or a part other than the last is too small. The upload stays open.
    #[error("the parts do not match the upload: {0}")]
    PartsRejected(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Artifact storage: S3-compatible or the embedded filesystem store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::artifact::{Checksum, Filename, ObjectKey, Platform};
/// use releasy_domain::memory::InMemoryObjects;
/// use releasy_domain::ports::ObjectStore;
/// use releasy_domain::release::{Product, Version};
/// use releasy_domain::{ArtifactId, Timestamp};
///
/// let objects = InMemoryObjects::default();
/// let key = ObjectKey::for_artifact(
///     &Product::parse("agent").unwrap(),
///     &Version::parse("2.4.0").unwrap(),
///     &Platform::parse("linux").unwrap(),
///     ArtifactId::generate(),
///     &Filename::parse("agent.tgz").unwrap(),
/// )
/// .unwrap();
/// let now = Timestamp::from_unix_seconds(1_735_312_000);
/// let upload = objects.presign_put(&key, now, 900).await.unwrap();
/// assert_eq!(upload.expires_at, now.plus_seconds(900));
/// assert!(objects.head(&key).await.unwrap().is_none(), "nothing uploaded yet");
/// objects.put(&key, vec![0; 3]); // what the client's PUT does
/// assert_eq!(objects.head(&key).await.unwrap().map(|meta| meta.size), Some(3));
/// let digest = objects.sha256(&key).await.unwrap().unwrap();
/// assert_eq!(digest, Checksum::of_bytes(&[0; 3]));
/// # }
/// ```
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// A URL the caller can `PUT` the object's bytes to until `expires_in_seconds` pass.
    ///
    /// # Errors
    /// [`StoreError`] when no URL could be made.
    async fn presign_put(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError>;

    /// The `PUT` of a whole object, with the headers the client must send along. A
    /// store that can check what was `declared` as it receives the body is told to
    /// refuse any other: S3 signs `x-amz-checksum-sha256` and records the digest for
    /// [`Self::recorded_sha256`]; the embedded store signs the size into the URL and
    /// refuses a larger body. A store set up for it also makes the `PUT` conditional, so
    /// that it cannot replace a stored object (S3's `If-None-Match: *`). The default is
    /// [`Self::presign_put`] with no headers: the bytes are checked at registration
    /// instead.
    ///
    /// # Errors
    /// [`StoreError`] when no URL could be made.
    async fn presign_put_with(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
        declared: DeclaredObject<'_>,
    ) -> Result<PresignedPut, StoreError> {
        let _ = declared;
        Ok(PresignedPut {
            url: self.presign_put(key, now, expires_in_seconds).await?,
            headers: Vec::new(),
        })
    }

    /// A URL the caller can `GET` the object from until `expires_in_seconds` pass.
    ///
    /// # Errors
    /// [`StoreError`] when no URL could be made.
    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError>;

    /// A URL the caller can `GET` version `version` of the object from (a version
    /// [`Self::head`] reported), so the link serves those bytes even if the object is
    /// replaced later. A store that reports versions must implement it; the default,
    /// for stores that keep none, is [`Self::presign_get`].
    ///
    /// # Errors
    /// [`StoreError`] when no URL could be made.
    async fn presign_get_version(
        &self,
        key: &ObjectKey,
        version: &str,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        let _ = version;
        self.presign_get(key, now, expires_in_seconds).await
    }

    /// The object's metadata, or `None` when nothing is stored under `key`.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError>;

    /// The SHA-256 of the bytes stored under `key` now, read through the whole object
    /// (which takes as long as reading it), or `None` when nothing is stored there.
    /// [`Self::recorded_sha256`] is the cheap answer, where the store has one.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer or the read broke off.
    async fn sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError>;

    /// The SHA-256 the store recorded for the object as it received it, found without
    /// reading the object; `None` when it recorded none (or nothing is stored there).
    /// The embedded store records every object's; S3 records it for a `PUT` presigned
    /// with [`Self::presign_put_with`]. The default records nothing.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer.
    async fn recorded_sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        let _ = key;
        Ok(None)
    }

    /// Removes the object; removing a missing object succeeds.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;

    /// Opens an upload in parts of `part_size` bytes (the last may be shorter) that
    /// becomes the object `key` once completed.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not open it.
    async fn start_multipart(
        &self,
        key: &ObjectKey,
        part_size: u64,
    ) -> Result<UploadId, StoreError>;

    /// A URL the caller can `PUT` part `part` of `upload` to until
    /// `expires_in_seconds` pass; the response's `ETag` header names the part at
    /// completion. Uploading a part again replaces it.
    ///
    /// # Errors
    /// [`StoreError`] when no URL could be made.
    async fn presign_part(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        part: PartNumber,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError>;

    /// The parts of `upload` the store holds, by part number, or `None` when it knows
    /// no such unfinished upload.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer.
    async fn list_parts(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
    ) -> Result<Option<Vec<UploadedPart>>, StoreError>;

    /// Joins `parts` (every part, in order) into the object `key` and closes the upload.
    ///
    /// # Errors
    /// [`CompleteMultipartError`].
    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        parts: &[CompletedPart],
    ) -> Result<(), CompleteMultipartError>;

    /// Abandons `upload` and frees its parts; aborting an unknown upload succeeds.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer.
    async fn abort_multipart(&self, key: &ObjectKey, upload: &UploadId) -> Result<(), StoreError>;
}
