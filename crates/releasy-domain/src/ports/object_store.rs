//! Where artifact bytes live. Clients never stream through the domain: they get
//! short-lived presigned URLs and talk to the store directly.

use async_trait::async_trait;

use crate::Timestamp;
use crate::artifact::{Checksum, ObjectKey};

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

/// What the store knows about a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
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

    /// The object's metadata, or `None` when nothing is stored under `key`.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError>;

    /// The SHA-256 of the bytes stored under `key`, or `None` when nothing is stored
    /// there. A store that hashes while it receives answers from that record; others
    /// read the whole object through SHA-256, which takes as long as reading it.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer or the read broke off.
    async fn sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError>;

    /// Removes the object; removing a missing object succeeds.
    ///
    /// # Errors
    /// [`StoreError`] when the store could not answer.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;
}
