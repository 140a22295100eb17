//! Receiving an upload: the request body is streamed, batch by batch, into a new file in
//! `.uploads/` and through SHA-256 (each batch written and hashed at once while the next
//! arrives: `write_and_hash`), flushed to disk, then linked into place only if no
//! object is there yet, so that an object is either whole or absent and, once stored,
//! never replaced. Its digest is then recorded under `.sha256/`. The body is never held
//! in memory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::web::{self, Bytes};
use futures_util::StreamExt;
use releasy_domain::artifact::Checksum;
use sha2::{Digest, Sha256};

use crate::digest_record::ObjectIdentity;
use crate::error::FsStoreError;
use crate::store::{FsObjectStore, blocking};
use crate::write_and_hash::WriteAndHash;

/// Bytes gathered from the network before they are written and hashed, while the next
/// ones arrive.
const WRITE_BATCH_BYTES: usize = 512 * 1024;

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    /// The body is larger than the store accepts.
    #[error("object is larger than {0} bytes")]
    TooLarge(u64),
    /// The body stopped before its end (the client went away, or sent bad framing).
    #[error("upload interrupted: {0}")]
    Interrupted(#[source] PayloadError),
    /// An object is stored under the key already: its bytes cannot change.
    #[error("an object is already stored under this key")]
    AlreadyStored,
    /// The disk failed.
    #[error(transparent)]
    Store(#[from] FsStoreError),
}

/// Stores the request body `payload` as the file `target`, unless one is there, and
/// records its SHA-256 at `digest_target`; returns its size.
/// `declared_size` is the request's `Content-Length`, when it has one: a body declared
/// larger than `limit` (the store's, or the URL's size) is refused before anything is
/// written, and one that grows past it while arriving when it does.
///
/// # Errors
/// [`UploadError`]; whatever the error (and if this future is dropped midway), the
/// temporary file is removed and `target` is untouched.
pub(crate) async fn receive(
    store: &FsObjectStore,
    target: PathBuf,
    digest_target: PathBuf,
    declared_size: Option<u64>,
    limit: Option<u64>,
    payload: web::Payload,
) -> Result<u64, UploadError> {
    if let (Some(limit), Some(size)) = (limit, declared_size)
        && size > limit
    {
        return Err(UploadError::TooLarge(limit));
    }
    let temp_path = store
        .uploads_dir()
        .join(format!("{}.part", uuid::Uuid::new_v4()));
    let mut guard = TempFileGuard::new(temp_path.clone());
    let outcome = async {
        let create_path = temp_path.clone();
        let file = blocking(move || {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&create_path)
                .map_err(|e| FsStoreError::io("creating", &create_path, e))?;
            // Held until the file is the object or removed: an unlocked temporary file
            // is one a dead process left (see `abandoned`).
            file.lock()
                .map_err(|e| FsStoreError::io("locking", create_path, e))?;
            Ok(file)
        })
        .await?;
        let received = stream_into(file, &temp_path, payload, limit).await?;
        let digest = Checksum::from_digest(&received.hasher.finalize().into());
        let object = commit(
            received.file,
            temp_path.clone(),
            store.root().to_path_buf(),
            target,
        )
        .await?;
        // The object is stored: a digest that cannot be recorded only means it is
        // hashed again when registered (a 500 now would have the client retry into
        // "already stored").
        if let Err(err) = record_digest(store, digest, object, digest_target).await {
            tracing::warn!(error = %err, "could not record the digest of a stored object; it is read through sha256 at registration");
        }
        tracing::info!(
            bytes = received.size,
            sha256_wait_seconds = received.waited_for_sha256.as_secs_f64(),
            "upload stored"
        );
        Ok(received.size)
    }
    .await;
    match outcome {
        Ok(size) => {
            guard.disarm();
            Ok(size)
        }
        Err(err) => {
            guard.discard().await;
            Err(err)
        }
    }
}

/// A body written out in full.
struct Received {
    file: std::fs::File,
    hasher: Sha256,
    size: u64,
    /// How long the upload waited for SHA-256 beyond writing and receiving: what
    /// hashing added to its wall time, as far as waiting shows it (hashing also takes a
    /// core the rest of the upload might have used).
    waited_for_sha256: Duration,
}

/// Appends the whole body to `file` and hashes it, each batch written and hashed while
/// the next one is received.
async fn stream_into(
    file: std::fs::File,
    path: &Path,
    mut payload: web::Payload,
    limit: Option<u64>,
) -> Result<Received, UploadError> {
    let mut body = WriteAndHash::new(file, path);
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batched = 0usize;
    let mut total = 0u64;
    while let Some(chunk) = payload.next().await {
        let refused = match chunk {
            Err(err) => Some(UploadError::Interrupted(err)),
            Ok(chunk) => {
                total = total.saturating_add(chunk.len() as u64);
                batched += chunk.len();
                batch.push(chunk);
                limit
                    .filter(|&limit| total > limit)
                    .map(UploadError::TooLarge)
            }
        };
        if let Some(err) = refused {
            // Nothing of the file is kept; the batch being written ends first.
            body.abandon().await;
            return Err(err);
        }
        if batched >= WRITE_BATCH_BYTES {
            batched = 0;
            body.send(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        body.send(batch).await?;
    }
    let (file, hasher, waited_for_sha256) = body.finish().await?;
    Ok(Received {
        file,
        hasher,
        size: total,
        waited_for_sha256,
    })
}

/// Flushes `file` to disk and links it to `target` (creating the directories) unless
/// something is there already; the link and every directory from `target`'s up to
/// `root` are flushed too (another upload may have made them and not flushed them
/// yet), and only then is the temporary name removed: a crash at any point leaves the
/// bytes under one name or the other (for an upload in parts, its `data` is gone only
/// once the object is durably in place). Returns the placed object's identity, which
/// its recorded digest names.
pub(crate) async fn commit(
    file: std::fs::File,
    temp_path: PathBuf,
    root: PathBuf,
    target: PathBuf,
) -> Result<ObjectIdentity, UploadError> {
    let placed = blocking(move || {
        file.sync_all()
            .map_err(|e| FsStoreError::io("flushing", &temp_path, e))?;
        // Taken before the link, which keeps the inode, size and last write.
        let object = file
            .metadata()
            .map(|metadata| ObjectIdentity::of(&metadata))
            .map_err(|e| FsStoreError::io("reading the metadata of", &temp_path, e))?;
        let parent = target.parent().ok_or_else(|| {
            FsStoreError::io("placing", &target, std::io::ErrorKind::InvalidInput.into())
        })?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            std::fs::create_dir_all(parent).map_err(|e| FsStoreError::io("creating", parent, e))?;
            // A link, unlike a rename, never replaces what is there: of two uploads to
            // one key, exactly one is stored.
            match std::fs::hard_link(&temp_path, &target) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
                // A concurrent delete may prune the fresh directory before the link.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => {}
                Err(e) => return Err(FsStoreError::io("linking into", &target, e)),
            }
        }
        sync_directories(parent, &root);
        remove_quietly(&temp_path);
        // Closed (and unlocked) only now that the temporary name is gone, so no sweep
        // can take it for abandoned while it is being linked.
        drop(file);
        Ok(Some(object))
    })
    .await?;
    placed.ok_or(UploadError::AlreadyStored)
}

/// Flushes `dir` and each directory above it up to `root`, deepest first (an entry is
/// durable before the one that leads to it). A flush that fails is logged, not
/// answered: the object is in place, and a retry would be refused as already stored.
/// A file system that cannot flush a directory at all (`EINVAL` on some network and
/// FUSE ones) is logged at `debug`, not on every upload.
fn sync_directories(dir: &Path, root: &Path) {
    if !cfg!(unix) {
        return;
    }
    for dir in dir.ancestors().take_while(|d| d.starts_with(root)) {
        match std::fs::File::open(dir).and_then(|dir| dir.sync_all()) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => {
                tracing::debug!(dir = %dir.display(), error = %err, "this file system does not flush directories");
            }
            Err(err) => {
                tracing::warn!(dir = %dir.display(), error = %err, "could not flush a directory of a stored object; a power loss may lose the object");
            }
        }
    }
}

/// Records `digest` of `object` at `target`: written beside the uploads, then renamed
/// into place, so a reader finds a whole digest or none (and then hashes the object
/// itself).
pub(crate) async fn record_digest(
    store: &FsObjectStore,
    digest: Checksum,
    object: ObjectIdentity,
    target: PathBuf,
) -> Result<(), FsStoreError> {
    let temp_path = store
        .uploads_dir()
        .join(format!("{}.sha256", uuid::Uuid::new_v4()));
    blocking(move || {
        std::fs::write(&temp_path, object.record(&digest))
            .map_err(|e| FsStoreError::io("writing", &temp_path, e))?;
        let parent = target.parent().ok_or_else(|| {
            FsStoreError::io("placing", &target, std::io::ErrorKind::InvalidInput.into())
        })?;
        // A concurrent delete may prune the fresh directory before the rename.
        let mut attempts = 0;
        let placed = loop {
            attempts += 1;
            match std::fs::create_dir_all(parent)
                .and_then(|()| std::fs::rename(&temp_path, &target))
            {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => {}
                placed => break placed,
            }
        }
        .map_err(|e| FsStoreError::io("recording the digest at", &target, e));
        if placed.is_err() {
            remove_quietly(&temp_path);
        }
        placed
    })
    .await
}

/// Removes the temporary file when dropped, unless the upload was committed.
#[derive(Debug)]
struct TempFileGuard {
    path: PathBuf,
    armed: bool,
}

impl TempFileGuard {
    fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    /// The file became the object: leave it.
    fn disarm(&mut self) {
        self.armed = false;
    }

    /// Removes the file now (off the executor) and waits for it.
    async fn discard(mut self) {
        self.armed = false;
        let path = self.path.clone();
        let _ = blocking(move || {
            remove_quietly(&path);
            Ok(())
        })
        .await;
    }
}

impl Drop for TempFileGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Dropped midway (the request was abandoned): remove the file on the blocking
        // pool when there is a runtime, else right here.
        let path = std::mem::take(&mut self.path);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || remove_quietly(&path));
            }
            Err(_) => remove_quietly(&path),
        }
    }
}

fn remove_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "could not remove an abandoned upload");
        }
    }
}
