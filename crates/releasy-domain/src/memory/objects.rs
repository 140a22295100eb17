//! An object store in a map, with fake presigned URLs.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::Timestamp;
use crate::artifact::{Checksum, ObjectKey};
use crate::ports::{ObjectMeta, ObjectStore, PresignedUrl, StoreError};

/// Objects kept in memory. Its presigned URLs (`memory://put/<key>?expires=<t>`) are
/// only labels; tests put bytes with [`InMemoryObjects::put`].
#[derive(Debug, Default)]
pub struct InMemoryObjects {
    objects: Mutex<HashMap<String, Vec<u8>>>,
}

impl InMemoryObjects {
    /// Stores `bytes` under `key`, as an upload to the presigned URL would.
    pub fn put(&self, key: &ObjectKey, bytes: Vec<u8>) {
        lock(&self.objects).insert(key.as_str().to_owned(), bytes);
    }

    /// The bytes stored under `key`.
    pub fn get(&self, key: &ObjectKey) -> Option<Vec<u8>> {
        lock(&self.objects).get(key.as_str()).cloned()
    }
}

fn url(operation: &str, key: &ObjectKey, now: Timestamp, expires_in_seconds: i64) -> PresignedUrl {
    let expires_at = now.plus_seconds(expires_in_seconds);
    PresignedUrl {
        url: format!("memory://{operation}/{}?expires={expires_at}", key.as_str()),
        expires_at,
    }
}

#[async_trait]
impl ObjectStore for InMemoryObjects {
    async fn presign_put(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        Ok(url("put", key, now, expires_in_seconds))
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        Ok(url("get", key, now, expires_in_seconds))
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        Ok(lock(&self.objects)
            .get(key.as_str())
            .map(|bytes| ObjectMeta {
                size: bytes.len() as u64,
            }))
    }

    async fn sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        Ok(lock(&self.objects)
            .get(key.as_str())
            .map(|bytes| Checksum::of_bytes(bytes)))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        lock(&self.objects).remove(key.as_str());
        Ok(())
    }
}
