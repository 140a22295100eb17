//! [`FsObjectStore`]: the domain's object-store port on local disk, with URLs signed
//! for the routes in [`crate::routes`].

use std::io::{ErrorKind, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use releasy_domain::Timestamp;
use releasy_domain::artifact::{
    Checksum, CompletedPart, ObjectKey, PartNumber, UploadId, UploadedPart,
};
use releasy_domain::ports::{
    Clock, CompleteMultipartError, DeclaredObject, ObjectMeta, ObjectStore, PresignedPut,
    PresignedUrl, StoreError, SystemClock,
};
use sha2::{Digest as _, Sha256};

use crate::abandoned::{self, AbandonedUploads};
use crate::digest_record::ObjectIdentity;
use crate::error::FsStoreError;
use crate::multipart::{self, Locked, Refusal};
use crate::object_path::{self, DIGESTS_DIR, RELEASES_DIR, UPLOADS_DIR};
use crate::routes::STORAGE_PREFIX;
use crate::signing::{Grant, SigningKey};
use crate::upload::{self, UploadError};

/// Artifacts on local disk under `root`, reached through URLs signed with one
/// [`SigningKey`] that point at `public_base_url`.
#[derive(Debug)]
pub struct FsObjectStore {
    root: PathBuf,
    uploads: PathBuf,
    public_base_url: String,
    signing_key: SigningKey,
    clock: Arc<dyn Clock>,
    max_object_size: Option<u64>,
    joined_digest_max_bytes: u64,
}

impl FsObjectStore {
    /// A store keeping objects under `root` (created if missing, with its `.uploads/`
    /// directory) whose URLs start with `public_base_url` (the server's public address,
    /// e.g. `https://releasy.example.com`; a trailing `/` is ignored). Uploads that a
    /// crash left behind are removed (see [`Self::remove_abandoned_uploads`]). URLs are checked against the
    /// system clock (see [`Self::with_clock`]) and uploads have no size limit (see
    /// [`Self::with_max_object_size`]). This does blocking file I/O; call it at startup.
    ///
    /// # Errors
    /// [`FsStoreError::InvalidBaseUrl`] when `public_base_url` is not `http://` or
    /// `https://`; [`FsStoreError::Io`] when the directories cannot be created.
    pub fn new(
        root: PathBuf,
        public_base_url: String,
        signing_key: SigningKey,
    ) -> Result<Self, FsStoreError> {
        let base = public_base_url.trim_end_matches('/');
        let has_host = ["http://", "https://"].iter().any(|scheme| {
            base.strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty())
        });
        if !has_host {
            return Err(FsStoreError::InvalidBaseUrl(public_base_url));
        }
        let uploads = root.join(UPLOADS_DIR);
        std::fs::create_dir_all(&uploads).map_err(|e| FsStoreError::io("creating", &uploads, e))?;
        let removed = abandoned::remove(&uploads, SystemTime::now());
        if removed.files > 0 {
            tracing::info!(
                files = removed.files,
                bytes = removed.bytes,
                "removed uploads a crash left behind"
            );
        }
        Ok(Self {
            root,
            uploads,
            public_base_url: base.to_owned(),
            signing_key,
            clock: Arc::new(SystemClock),
            max_object_size: None,
            joined_digest_max_bytes: u64::MAX,
        })
    }

    /// The clock that decides whether a URL has expired (the system clock by default).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Refuses uploads larger than `bytes` with `413`.
    #[must_use]
    pub fn with_max_object_size(mut self, bytes: u64) -> Self {
        self.max_object_size = Some(bytes);
        self
    }

    /// Joins uploads in parts larger than `bytes` without reading them through SHA-256
    /// (by default every one is read), so that registration does not hold its request
    /// while a large object is read: with no recorded digest, the domain reads it then or
    /// leaves it to the background verifier, as its
    /// [`VerificationPolicy`](releasy_domain::artifact::VerificationPolicy) says. Give
    /// the policy's inline limit here so the two agree.
    #[must_use]
    pub fn with_joined_digest_max_bytes(mut self, bytes: u64) -> Self {
        self.joined_digest_max_bytes = bytes;
        self
    }

    /// The directory holding the objects.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding uploads in progress.
    pub fn uploads_dir(&self) -> &Path {
        &self.uploads
    }

    /// Removes the temporary files of single-request uploads whose receiving process
    /// died, and the directories of uploads in parts left without their description
    /// (see [`AbandonedUploads`]); the store does this when it is created, and a
    /// server should call it periodically, since a crashed instance sharing the
    /// directory leaves them too. This does blocking file I/O.
    pub fn remove_abandoned_uploads(&self) -> AbandonedUploads {
        abandoned::remove(&self.uploads, SystemTime::now())
    }

    /// The largest upload accepted, if limited.
    pub fn max_object_size(&self) -> Option<u64> {
        self.max_object_size
    }

    /// The file that holds (or would hold) the object `key`.
    ///
    /// # Errors
    /// [`FsStoreError::InvalidKey`] when the key could leave the root or is otherwise
    /// refused (see the crate documentation).
    pub fn object_path(&self, key: &ObjectKey) -> Result<PathBuf, FsStoreError> {
        Ok(object_path::object_path(&self.root, key.as_str())?)
    }

    /// Where the SHA-256 of the object `key` is recorded once it is received.
    ///
    /// # Errors
    /// As [`Self::object_path`].
    pub fn digest_path(&self, key: &ObjectKey) -> Result<PathBuf, FsStoreError> {
        Ok(object_path::digest_path(&self.root, key.as_str())?)
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// `{base}/v1/storage/{key}?expires=..{grant's parameters}&signature=..`, signed
    /// for `grant` until `expires_in_seconds` after `now`.
    fn presign(
        &self,
        grant: Grant<'_>,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, FsStoreError> {
        object_path::validate_key(key.as_str())?;
        let expires_at = now.plus_seconds(expires_in_seconds);
        let expires = expires_at.unix_seconds();
        let signature = self.signing_key.sign(grant, key.as_str(), expires);
        let url = format!(
            "{}{STORAGE_PREFIX}{}?expires={expires}{}&signature={signature}",
            self.public_base_url,
            key.as_str(),
            grant.query_parameters(),
        );
        Ok(PresignedUrl { url, expires_at })
    }

    /// The open upload `upload` of `key`, or `None`.
    async fn open_upload(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
    ) -> Result<Option<multipart::OpenUpload>, FsStoreError> {
        let object = self.object_path(key)?;
        let (uploads, id, key) = (
            self.uploads.clone(),
            upload.as_str().to_owned(),
            key.as_str().to_owned(),
        );
        blocking(move || multipart::open(&uploads, &id, &key, object)).await
    }
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn presign_put(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        Ok(self.presign(Grant::Put { size: None }, key, now, expires_in_seconds)?)
    }

    /// With a declared size, the URL names it, signed in: the store takes no more
    /// bytes through it (`413`), so a leaked URL cannot fill the disk the database may
    /// share. The checksum is not sent along: the store hashes what it receives, and
    /// registration compares.
    async fn presign_put_with(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
        declared: DeclaredObject<'_>,
    ) -> Result<PresignedPut, StoreError> {
        let grant = Grant::Put {
            size: declared.size,
        };
        Ok(PresignedPut {
            url: self.presign(grant, key, now, expires_in_seconds)?,
            headers: Vec::new(),
        })
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        Ok(self.presign(Grant::Get, key, now, expires_in_seconds)?)
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.object_path(key)?;
        let meta = blocking(move || match std::fs::metadata(&path) {
            Ok(md) if md.is_file() => Ok(Some(ObjectMeta::of_size(md.len()))),
            Ok(_) => Ok(None),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(FsStoreError::io("reading metadata of", path, e)),
        })
        .await?;
        Ok(meta)
    }

    /// Reads the object through SHA-256: what is on disk now, whatever was recorded.
    async fn sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        let path = self.object_path(key)?;
        let digest = blocking(move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(FsStoreError::io("opening", path, e)),
            };
            hash_file(&mut file, &path).map(Some)
        })
        .await?;
        Ok(digest)
    }

    /// The digest recorded when the object was received (a whole `PUT` hashes as it
    /// writes, a completed upload in parts as it joins, up to
    /// [`FsObjectStore::with_joined_digest_max_bytes`]), if recorded for this very
    /// file (see `digest_record`). `None` for an object stored without one (larger
    /// than that, or a crash between the two steps), which is then read.
    async fn recorded_sha256(&self, key: &ObjectKey) -> Result<Option<Checksum>, StoreError> {
        let path = self.object_path(key)?;
        let digest_path = self.digest_path(key)?;
        let digest = blocking(move || {
            let object = match std::fs::metadata(&path) {
                Ok(metadata) if metadata.is_file() => ObjectIdentity::of(&metadata),
                Ok(_) => return Ok(None),
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(FsStoreError::io("reading the metadata of", path, e)),
            };
            match std::fs::read_to_string(&digest_path) {
                Ok(text) => Ok(object.recorded_in(&text)),
                Err(e) if is_absent(&e) => Ok(None),
                Err(e) => Err(FsStoreError::io("reading the digest at", digest_path, e)),
            }
        })
        .await?;
        Ok(digest)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let path = self.object_path(key)?;
        let digest_path = self.digest_path(key)?;
        let root = self.root.clone();
        blocking(move || {
            // The digest goes first: an object without its digest is hashed again,
            // and a digest left behind is read for no other file.
            match std::fs::remove_file(&digest_path) {
                Ok(()) => prune_empty_parents(&root.join(DIGESTS_DIR), &digest_path),
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(FsStoreError::io("removing", digest_path, e)),
            }
            match std::fs::remove_file(&path) {
                Ok(()) => prune_empty_parents(&root, &path),
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(FsStoreError::io("removing", path, e)),
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn start_multipart(
        &self,
        key: &ObjectKey,
        part_size: u64,
    ) -> Result<UploadId, StoreError> {
        object_path::validate_key(key.as_str()).map_err(FsStoreError::from)?;
        let (uploads, key) = (self.uploads.clone(), key.as_str().to_owned());
        Ok(blocking(move || multipart::start(&uploads, &key, part_size)).await?)
    }

    /// `{base}/v1/storage/{key}?expires=..&uploadId=..&partNumber=..&signature=..`, the
    /// signature covering the upload and the part as well.
    async fn presign_part(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        part: PartNumber,
        now: Timestamp,
        expires_in_seconds: i64,
    ) -> Result<PresignedUrl, StoreError> {
        let grant = Grant::Part {
            upload: upload.as_str(),
            part: part.get(),
        };
        Ok(self.presign(grant, key, now, expires_in_seconds)?)
    }

    async fn list_parts(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
    ) -> Result<Option<Vec<UploadedPart>>, StoreError> {
        let Some(open) = self.open_upload(key, upload).await? else {
            return Ok(None);
        };
        Ok(Some(blocking(move || multipart::parts(&open)).await?))
    }

    /// Every part but the last must hold exactly the part size (parts sit at fixed
    /// offsets). Reads the assembled object once through SHA-256 (up to
    /// [`FsObjectStore::with_joined_digest_max_bytes`]), then places it as a single
    /// upload is placed: never over a stored object.
    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        parts: &[CompletedPart],
    ) -> Result<(), CompleteMultipartError> {
        let open = self
            .open_upload(key, upload)
            .await
            .map_err(StoreError::from)?
            .ok_or(CompleteMultipartError::UploadNotFound)?;
        let locked = open.clone();
        let _completing = match blocking(move || multipart::lock_completion(&locked))
            .await
            .map_err(StoreError::from)?
        {
            Locked::Held(guard) => guard,
            Locked::Busy => {
                return Err(CompleteMultipartError::PartsRejected(
                    "a part is still being uploaded, or another registration is completing the upload"
                        .to_owned(),
                ));
            }
            Locked::Gone => return Err(CompleteMultipartError::UploadNotFound),
        };
        // An earlier completion placed the object and stopped before it removed the
        // upload: the upload is over, and what it placed is checked as any object is.
        let (placed, leftover) = (open.clone(), open.dir.clone());
        if blocking(move || multipart::data_placed_or_gone(&placed))
            .await
            .map_err(StoreError::from)?
        {
            blocking(move || multipart::remove(&leftover))
                .await
                .map_err(StoreError::from)?;
            return Err(CompleteMultipartError::UploadNotFound);
        }
        let target = self.object_path(key).map_err(StoreError::from)?;
        let digest_target = self.digest_path(key).map_err(StoreError::from)?;
        let (checked, named) = (open.clone(), parts.to_vec());
        let digest_max_bytes = self.joined_digest_max_bytes;
        let sealed = match blocking(move || match multipart::check(&checked, &named) {
            Ok(size) => Ok(Ok(multipart::seal(&checked, size, digest_max_bytes)?)),
            Err(Refusal::Parts(reason)) => Ok(Err(reason)),
            Err(Refusal::Store(err)) => Err(err),
        })
        .await
        {
            Ok(sealed) => sealed,
            // An abort (which takes no lock: it must not wait on a part) removed the
            // upload while it was being joined: the upload is gone, not the store broken.
            Err(_) if removed(&open.dir).await => {
                return Err(CompleteMultipartError::UploadNotFound);
            }
            Err(err) => return Err(StoreError::from(err).into()),
        };
        let (file, digest) = sealed.map_err(CompleteMultipartError::PartsRejected)?;
        let object = match upload::commit(file, open.data_path(), self.root.clone(), target).await {
            Ok(object) => object,
            Err(UploadError::AlreadyStored) => {
                return Err(CompleteMultipartError::PartsRejected(
                    "an object is already stored under this key: its bytes cannot change"
                        .to_owned(),
                ));
            }
            Err(_) if removed(&open.dir).await => {
                return Err(CompleteMultipartError::UploadNotFound);
            }
            Err(UploadError::Store(err)) => return Err(StoreError::from(err).into()),
            Err(other) => return Err(StoreError::Internal(Box::new(other)).into()),
        };
        // The object is stored: without its digest it is only read through sha256 at
        // registration, whereas failing now would leave a completion that cannot be
        // made again.
        if let Some(digest) = digest
            && let Err(err) = upload::record_digest(self, digest, object, digest_target).await
        {
            tracing::warn!(error = %err, "could not record the digest of a joined object; it is read through sha256 at registration");
        }
        blocking(move || multipart::remove(&open.dir))
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &ObjectKey, upload: &UploadId) -> Result<(), StoreError> {
        if let Some(open) = self.open_upload(key, upload).await? {
            blocking(move || multipart::remove(&open.dir)).await?;
        } else if let Some(dir) = multipart::upload_dir(&self.uploads, upload.as_str()) {
            // A directory whose description is gone (a power loss right after the
            // start, which does not sync it) is no other key's upload: it goes too.
            blocking(move || {
                if multipart::is_undescribed(&dir) {
                    multipart::remove(&dir)
                } else {
                    Ok(())
                }
            })
            .await?;
        }
        Ok(())
    }
}

/// Whether `dir` is known to be gone (a failure to look is not taken for it).
async fn removed(dir: &Path) -> bool {
    matches!(tokio::fs::try_exists(dir).await, Ok(false))
}

/// Runs filesystem work on the blocking thread pool.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, FsStoreError>
where
    F: FnOnce() -> Result<T, FsStoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| FsStoreError::Blocking(e.to_string()))?
}

/// Reads `file` (at `path`) from where it stands to its end through SHA-256.
pub(crate) fn hash_file(file: &mut std::fs::File, path: &Path) -> Result<Checksum, FsStoreError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 4 * 1024 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => hasher.update(&buffer[..read]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(FsStoreError::io("reading", path, e)),
        }
    }
    Ok(Checksum::from_digest(&hasher.finalize().into()))
}

/// Errors that mean "nothing is stored there".
pub(crate) fn is_absent(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

/// Removes the directories between `path` and `root/releases` (or `root` for keys
/// outside it) that its removal left empty. Stops at the first one that is not empty.
/// (`root` is the objects' root, or the digests' under it.)
fn prune_empty_parents(root: &Path, path: &Path) {
    let releases = root.join(RELEASES_DIR);
    let mut dir = path.parent();
    while let Some(current) = dir {
        if current == releases || current == root || !current.starts_with(root) {
            break;
        }
        match std::fs::remove_dir(current) {
            // Gone already (a concurrent delete): its parent may be empty now.
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            // Still holds something (or cannot be removed): stop here.
            Err(_) => break,
        }
        dir = current.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(root: &Path) -> FsObjectStore {
        FsObjectStore::new(
            root.to_path_buf(),
            "http://127.0.0.1:8080/".to_owned(),
            SigningKey::generate().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn urls_have_the_documented_shape() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let key = ObjectKey::from_stored("releases/app/1.0.0/linux/id/app.tgz".to_owned());
        let base = "http://127.0.0.1:8080/v1/storage/releases/app/1.0.0/linux/id/app.tgz";
        let shapes = [
            (Grant::Get, ""),
            (Grant::Put { size: None }, ""),
            (Grant::Put { size: Some(1000) }, "&size=1000"),
            (
                Grant::Part {
                    upload: "up1",
                    part: 3,
                },
                "&uploadId=up1&partNumber=3",
            ),
        ];
        for (grant, parameters) in shapes {
            let url = store
                .presign(grant, &key, Timestamp::from_unix_seconds(1000), 900)
                .unwrap();
            assert_eq!(url.expires_at, Timestamp::from_unix_seconds(1900));
            let signature = store.signing_key.sign(grant, key.as_str(), 1900);
            assert_eq!(
                url.url,
                format!("{base}?expires=1900{parameters}&signature={signature}")
            );
        }
    }

    #[test]
    fn base_urls_must_be_http() {
        let dir = tempfile::tempdir().unwrap();
        for base in ["", "ftp://x", "http://", "127.0.0.1:8080"] {
            let made = FsObjectStore::new(
                dir.path().to_path_buf(),
                base.to_owned(),
                SigningKey::generate().unwrap(),
            );
            assert!(
                matches!(made, Err(FsStoreError::InvalidBaseUrl(_))),
                "{base}"
            );
        }
    }

    #[test]
    fn delete_prunes_empty_directories_up_to_releases() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let keep = root.join("releases/app/1.0.0/mac/id2");
        std::fs::create_dir_all(&keep).unwrap();
        let gone = root.join("releases/app/1.0.0/linux/id/app.tgz");
        std::fs::create_dir_all(gone.parent().unwrap()).unwrap();
        std::fs::write(&gone, b"x").unwrap();
        std::fs::remove_file(&gone).unwrap();
        prune_empty_parents(root, &gone);
        assert!(!root.join("releases/app/1.0.0/linux").exists());
        assert!(root.join("releases/app/1.0.0/mac/id2").exists());
        std::fs::remove_dir(&keep).unwrap();
        prune_empty_parents(root, &keep.join("f"));
        assert!(!root.join("releases/app").exists());
        assert!(root.join("releases").exists());
    }
}
