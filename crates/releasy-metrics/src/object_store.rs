//! Object-store call latency: a decorator of the [`ObjectStore`] port.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use releasy_domain::Timestamp;
use releasy_domain::artifact::{
    Checksum, CompletedPart, ObjectKey, PartNumber, UploadId, UploadedPart,
};
use releasy_domain::ports::{
    CompleteMultipartError, ObjectMeta, ObjectStore, PresignedPut, PresignedUrl, StoreError,
};

use crate::latency_buckets;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    /// `ok` or `error`.
    result: &'static str,
}

/// The histogram every timed store records into.
#[derive(Debug, Clone)]
pub(crate) struct StoreCalls(Family<CallLabels, Histogram>);

impl StoreCalls {
    pub(crate) fn registered(registry: &mut Registry) -> Self {
        let calls = Self(Family::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        }));
        registry.register_with_unit(
            "object_store_call_duration",
            "Object-store calls, by operation and result, and how long each took (presigning \
             is local on both stores; head, sha256 and the multipart calls reach S3)",
            Unit::Seconds,
            calls.0.clone(),
        );
        calls
    }

    fn observe<T, E>(&self, operation: &'static str, started: Instant, result: &Result<T, E>) {
        let labels = CallLabels {
            operation,
            result: if result.is_ok() { "ok" } else { "error" },
        };
        self.0
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }
}

/// An [`ObjectStore`] that times every call of the store it wraps.
#[derive(Debug)]
pub struct TimedObjectStore {
    inner: Arc<dyn ObjectStore>,
    calls: StoreCalls,
}

impl TimedObjectStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, calls: StoreCalls) -> Self {
        Self { inner, calls }
    }
}

/// Runs `$call` on the inner store and records it as `$operation`.
macro_rules! timed {
    ($self:ident, $operation:literal, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.calls.observe($operation, started, &result);
        result
    }};
}

#[async_trait]
impl ObjectStore for TimedObjectStore {
    async fn presign_put(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        timed!(
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
        checksum: Option<&Checksum>,
    ) -> Result<PresignedPut, StoreError> {
        timed!(
            self,
            "presign_put",
            self.inner
                .presign_put_with(key, now, expires_in_seconds, checksum)
        )
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        timed!(
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
        timed!(
            self,
            "presign_get",
            self.inner
                .presign_get_version(key, version, now, expires_in_seconds)
        )
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        timed!(self, "head", self.inner.head(key))
    }

    async fn sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        timed!(self, "sha256", self.inner.sha256(key))
    }

    async fn recorded_sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        timed!(self, "recorded_sha256", self.inner.recorded_sha256(key))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        timed!(self, "delete", self.inner.delete(key))
    }

    async fn start_multipart(
        &self,
        key: &ObjectKey,
        part_size: u64,
    ) -> Result<UploadId, StoreError> {
        timed!(
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
        timed!(
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
        timed!(self, "list_parts", self.inner.list_parts(key, upload))
    }

    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        parts: &[CompletedPart],
    ) -> Result<(), CompleteMultipartError> {
        timed!(
            self,
            "complete_multipart",
            self.inner.complete_multipart(key, upload, parts)
        )
    }

    async fn abort_multipart(&self, key: &ObjectKey, upload: &UploadId) -> Result<(), StoreError> {
        timed!(
            self,
            "abort_multipart",
            self.inner.abort_multipart(key, upload)
        )
    }
}
