//! An object store in a map, with fake presigned URLs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::Timestamp;
use crate::artifact::{Checksum, CompletedPart, ObjectKey, PartNumber, UploadId, UploadedPart};
use crate::ports::{CompleteMultipartError, ObjectMeta, ObjectStore, PresignedUrl, StoreError};

/// Objects kept in memory. Its presigned URLs (`memory://put/<key>?expires=<t>`) are
/// only labels; tests put bytes with [`InMemoryObjects::put`] and parts with
/// [`InMemoryObjects::put_part`]. By default it records no digests, like S3 for a plain
/// `PUT`: registration then reads objects through SHA-256 (see
/// [`InMemoryObjects::recording_digests`]).
#[derive(Debug, Default)]
pub struct InMemoryObjects {
    objects: Mutex<HashMap<String, StoredObject>>,
    uploads: Mutex<HashMap<String, OpenUpload>>,
    records_digests: bool,
    /// Keys whose deletes (and aborts of their uploads) fail, as a store denying them.
    undeletable: Mutex<HashSet<String>>,
    /// Keys whose next read through SHA-256 fails, and how.
    failing_reads: Mutex<HashMap<String, ReadFailure>>,
}

/// How a read set up to fail fails.
#[derive(Debug, Clone, Copy)]
enum ReadFailure {
    /// Cut off: [`StoreError::Unavailable`].
    CutOff,
    /// Refused by the store's policy: [`StoreError::Internal`].
    Refused,
}

/// An object's bytes and entity tag.
#[derive(Debug)]
struct StoredObject {
    bytes: Vec<u8>,
    etag: String,
}

impl StoredObject {
    fn put(bytes: Vec<u8>) -> Self {
        let etag = etag_of(&bytes);
        Self { bytes, etag }
    }
}

/// An unfinished upload in parts.
#[derive(Debug)]
struct OpenUpload {
    key: String,
    part_size: u64,
    /// Each part's bytes and entity tag.
    parts: BTreeMap<u32, (Vec<u8>, String)>,
}

impl InMemoryObjects {
    /// A store that records each object's SHA-256 as it receives it, like the
    /// embedded store: [`ObjectStore::recorded_sha256`] answers it.
    pub fn recording_digests() -> Self {
        Self {
            records_digests: true,
            ..Self::default()
        }
    }

    /// Stores `bytes` under `key`, as an upload to the presigned URL would.
    pub fn put(&self, key: &ObjectKey, bytes: Vec<u8>) {
        lock(&self.objects).insert(key.as_str().to_owned(), StoredObject::put(bytes));
    }

    /// The bytes stored under `key`.
    pub fn get(&self, key: &ObjectKey) -> Option<Vec<u8>> {
        lock(&self.objects)
            .get(key.as_str())
            .map(|object| object.bytes.clone())
    }

    /// Gives the object under `key` another entity tag and keeps its bytes, as S3 does
    /// for a copy of an object onto itself (to another storage class or encryption);
    /// `false` when nothing is stored there.
    pub fn copy_in_place(&self, key: &ObjectKey) -> bool {
        let mut objects = lock(&self.objects);
        let Some(object) = objects.get_mut(key.as_str()) else {
            return false;
        };
        object.etag = etag_of(object.etag.as_bytes());
        true
    }

    /// Removes the object under `key`, as an operator or a lifecycle rule would behind
    /// Releasy's back; `false` when nothing was stored there.
    pub fn remove(&self, key: &ObjectKey) -> bool {
        lock(&self.objects).remove(key.as_str()).is_some()
    }

    /// Stores part `part` of `upload`, as a `PUT` to its presigned URL would, and
    /// returns its entity tag; `None` when no such upload is open.
    pub fn put_part(&self, upload: &UploadId, part: PartNumber, bytes: Vec<u8>) -> Option<String> {
        let mut uploads = lock(&self.uploads);
        let open = uploads.get_mut(upload.as_str())?;
        let etag = etag_of(&bytes);
        open.parts.insert(part.get(), (bytes, etag.clone()));
        Some(etag)
    }

    /// How many uploads in parts are open.
    pub fn open_uploads(&self) -> usize {
        lock(&self.uploads).len()
    }

    /// From now on, deleting `key` (or aborting an upload to it) fails, as on a store
    /// whose policy denies it.
    pub fn refuse_deletes_of(&self, key: &ObjectKey) {
        lock(&self.undeletable).insert(key.as_str().to_owned());
    }

    /// The next read of `key` through SHA-256 ([`ObjectStore::sha256`]) fails, as a
    /// read the network cut off ([`StoreError::Unavailable`]).
    pub fn fail_next_read_of(&self, key: &ObjectKey) {
        lock(&self.failing_reads).insert(key.as_str().to_owned(), ReadFailure::CutOff);
    }

    /// The next read of `key` through SHA-256 is refused, as by a store whose policy
    /// denies it ([`StoreError::Internal`]).
    pub fn refuse_next_read_of(&self, key: &ObjectKey) {
        lock(&self.failing_reads).insert(key.as_str().to_owned(), ReadFailure::Refused);
    }

    /// [`Self::refuse_deletes_of`] as the store's answer.
    fn check_deletable(&self, key: &ObjectKey) -> Result<(), StoreError> {
        if lock(&self.undeletable).contains(key.as_str()) {
            return Err(StoreError::Unavailable("delete denied".into()));
        }
        Ok(())
    }
}

/// An entity tag naming `bytes` (like S3's, another tag means other bytes).
fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", &Checksum::of_bytes(bytes).as_str()[..32])
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
            .map(|object| ObjectMeta {
                size: object.bytes.len() as u64,
                etag: Some(object.etag.clone()),
                version_id: None,
            }))
    }

    async fn sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        match lock(&self.failing_reads).remove(key.as_str()) {
            Some(ReadFailure::CutOff) => {
                return Err(StoreError::Unavailable("read cut off".into()));
            }
            Some(ReadFailure::Refused) => return Err(StoreError::Internal("read denied".into())),
            None => {}
        }
        Ok(lock(&self.objects)
            .get(key.as_str())
            .map(|object| Checksum::of_bytes(&object.bytes)))
    }

    async fn recorded_sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        if !self.records_digests {
            return Ok(None);
        }
        self.sha256(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.check_deletable(key)?;
        lock(&self.objects).remove(key.as_str());
        Ok(())
    }

    async fn start_multipart(
        &self,
        key: &ObjectKey,
        part_size: u64,
    ) -> Result<UploadId, StoreError> {
        let id = UploadId::parse(uuid::Uuid::new_v4().simple().to_string())
            .map_err(|e| StoreError::Internal(Box::new(e)))?;
        lock(&self.uploads).insert(
            id.as_str().to_owned(),
            OpenUpload {
                key: key.as_str().to_owned(),
                part_size,
                parts: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    async fn presign_part(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        part: PartNumber,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        let mut url = url("put", key, now, expires_in_seconds);
        url.url.push_str(&format!(
            "&uploadId={}&partNumber={}",
            upload.as_str(),
            part.get()
        ));
        Ok(url)
    }

    async fn list_parts(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
    ) -> Result<Option<Vec<UploadedPart>>, StoreError> {
        let uploads = lock(&self.uploads);
        let Some(open) = uploads
            .get(upload.as_str())
            .filter(|u| u.key == key.as_str())
        else {
            return Ok(None);
        };
        let parts = open
            .parts
            .iter()
            .filter_map(|(&number, (bytes, etag))| {
                Some(UploadedPart {
                    part_number: PartNumber::parse(i64::from(number)).ok()?,
                    size: bytes.len() as u64,
                    etag: Some(etag.clone()),
                })
            })
            .collect();
        Ok(Some(parts))
    }

    /// Every part but the last must hold exactly the upload's part size.
    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        parts: &[CompletedPart],
    ) -> Result<(), CompleteMultipartError> {
        let mut uploads = lock(&self.uploads);
        let Some(open) = uploads
            .get(upload.as_str())
            .filter(|u| u.key == key.as_str())
        else {
            return Err(CompleteMultipartError::UploadNotFound);
        };
        let mut whole = Vec::new();
        let mut tags = String::new();
        for (index, named) in parts.iter().enumerate() {
            let number = named.part_number.get();
            let Some((bytes, etag)) = open.parts.get(&number) else {
                return Err(CompleteMultipartError::PartsRejected(format!(
                    "part {number} was not uploaded"
                )));
            };
            if *etag != named.etag {
                return Err(CompleteMultipartError::PartsRejected(format!(
                    "part {number} has another etag"
                )));
            }
            let last = index + 1 == parts.len();
            if !last && bytes.len() as u64 != open.part_size {
                return Err(CompleteMultipartError::PartsRejected(format!(
                    "part {number} must hold {} bytes",
                    open.part_size
                )));
            }
            whole.extend_from_slice(bytes);
            tags.push_str(etag);
        }
        uploads.remove(upload.as_str());
        // Like S3's: a tag of the parts' tags, and their count.
        let etag = format!(
            "{}-{}\"",
            etag_of(tags.as_bytes()).trim_end_matches('"'),
            parts.len()
        );
        let object = StoredObject { bytes: whole, etag };
        lock(&self.objects).insert(key.as_str().to_owned(), object);
        Ok(())
    }

    async fn abort_multipart(&self, key: &ObjectKey, upload: &UploadId) -> Result<(), StoreError> {
        self.check_deletable(key)?;
        let mut uploads = lock(&self.uploads);
        if uploads
            .get(upload.as_str())
            .is_some_and(|u| u.key == key.as_str())
        {
            uploads.remove(upload.as_str());
        }
        Ok(())
    }
}
