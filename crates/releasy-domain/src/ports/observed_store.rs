//! An [`ObjectStore`] that tells an observer when each call starts and how it ended:
//! how adapters watch the store (its latency for metrics, a span per call for traces)
//! without each wrapping all of its methods again.

use std::sync::Arc;

use async_trait::async_trait;

use crate::Timestamp;
use crate::artifact::{Checksum, CompletedPart, ObjectKey, PartNumber, UploadId, UploadedPart};
use crate::ports::{
    CompleteMultipartError, DeclaredObject, ObjectMeta, ObjectStore, PresignedPut, PresignedUrl,
    StoreError,
};

/// Watches object-store calls.
pub trait StoreCallObserver: Send + Sync + std::fmt::Debug {
    /// What the observer keeps while a call runs (when it started, a span).
    type Call: Send;

    /// A call of `operation` (`presign_put`, `head`, `sha256`, ...) starts.
    fn started(&self, operation: &'static str) -> Self::Call;

    /// The call ended: `ok` unless the store answered an error.
    fn finished(&self, call: Self::Call, ok: bool);
}

/// `inner`, with every call reported to an observer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::{Arc, Mutex};
/// use releasy_domain::artifact::{Filename, ObjectKey, Platform};
/// use releasy_domain::memory::InMemoryObjects;
/// use releasy_domain::ports::{ObjectStore, ObservedObjectStore, StoreCallObserver};
/// use releasy_domain::release::{Product, Version};
/// use releasy_domain::ArtifactId;
///
/// #[derive(Debug, Default)]
/// struct Calls(Mutex<Vec<(&'static str, bool)>>);
///
/// impl StoreCallObserver for Calls {
///     type Call = &'static str;
///     fn started(&self, operation: &'static str) -> &'static str { operation }
///     fn finished(&self, operation: &'static str, ok: bool) {
///         self.0.lock().unwrap().push((operation, ok));
///     }
/// }
///
/// let calls = Arc::new(Calls::default());
/// let store = ObservedObjectStore::new(Arc::new(InMemoryObjects::default()), calls.clone());
/// let key = ObjectKey::for_artifact(
///     &Product::parse("agent").unwrap(),
///     &Version::parse("2.4.0").unwrap(),
///     &Platform::parse("linux").unwrap(),
///     ArtifactId::generate(),
///     &Filename::parse("agent.tgz").unwrap(),
/// )
/// .unwrap();
/// assert!(store.head(&key).await.unwrap().is_none());
/// assert_eq!(*calls.0.lock().unwrap(), [("head", true)]);
/// # }
/// ```
#[derive(Debug)]
pub struct ObservedObjectStore<O> {
    inner: Arc<dyn ObjectStore>,
    observer: O,
}

impl<O: StoreCallObserver> ObservedObjectStore<O> {
    /// Reports `inner`'s calls to `observer`.
    pub fn new(inner: Arc<dyn ObjectStore>, observer: O) -> Self {
        Self { inner, observer }
    }
}

impl<O: StoreCallObserver> StoreCallObserver for Arc<O> {
    type Call = O::Call;

    fn started(&self, operation: &'static str) -> Self::Call {
        (**self).started(operation)
    }

    fn finished(&self, call: Self::Call, ok: bool) {
        (**self).finished(call, ok);
    }
}

/// Runs `$call` on the inner store, reported as `$operation`.
macro_rules! observed {
    ($self:ident, $operation:literal, $call:expr) => {{
        let call = $self.observer.started($operation);
        let result = $call.await;
        $self.observer.finished(call, result.is_ok());
        result
    }};
}

#[async_trait]
impl<O: StoreCallObserver> ObjectStore for ObservedObjectStore<O> {
    async fn presign_put(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        observed!(
            self,
            "presign_put",
            self.inner.presign_put(key, now, expires_in_seconds)
        )
    }

    async fn presign_put_with(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
        declared: DeclaredObject<'_>,
    ) -> Result<PresignedPut, StoreError> {
        observed!(
            self,
            "presign_put",
            self.inner
                .presign_put_with(key, now, expires_in_seconds, declared)
        )
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        observed!(
            self,
            "presign_get",
            self.inner.presign_get(key, now, expires_in_seconds)
        )
    }

    async fn presign_get_version(
        &self,
        key: &ObjectKey,
        version: &str,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        observed!(
            self,
            "presign_get",
            self.inner
                .presign_get_version(key, version, now, expires_in_seconds)
        )
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        observed!(self, "head", self.inner.head(key))
    }

    async fn sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        observed!(self, "sha256", self.inner.sha256(key))
    }

    async fn recorded_sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        observed!(self, "recorded_sha256", self.inner.recorded_sha256(key))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        observed!(self, "delete", self.inner.delete(key))
    }

    async fn start_multipart(
        &self,
        key: &ObjectKey,
        part_size: u64,
    ) -> Result<UploadId, StoreError> {
        observed!(
            self,
            "start_multipart",
            self.inner.start_multipart(key, part_size)
        )
    }

    async fn presign_part(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        part: PartNumber,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        observed!(
            self,
            "presign_part",
            self.inner
                .presign_part(key, upload, part, now, expires_in_seconds)
        )
    }

    async fn list_parts(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
    ) -> Result<Option<Vec<UploadedPart>>, StoreError> {
        observed!(self, "list_parts", self.inner.list_parts(key, upload))
    }

    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        parts: &[CompletedPart],
    ) -> Result<(), CompleteMultipartError> {
        observed!(
            self,
            "complete_multipart",
            self.inner.complete_multipart(key, upload, parts)
        )
    }

    async fn abort_multipart(&self, key: &ObjectKey, upload: &UploadId) -> Result<(), StoreError> {
        observed!(
            self,
            "abort_multipart",
            self.inner.abort_multipart(key, upload)
        )
    }
}
