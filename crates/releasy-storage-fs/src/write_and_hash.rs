//! Writing and hashing an upload's body while the next part of it arrives. Batches are
//! written in order by one blocking task at a time, each while the request receives the
//! next batch; SHA-256 runs in a lane of its own that may fall up to
//! [`HASH_LAG_BATCHES`] batches behind the writes, so a batch that takes longer to hash
//! than to write holds up neither the next write nor the receiving: the hash catches up
//! while the upload waits for the network or the disk, and the body waits for it only
//! when the lane is full and once at the end. A blocking thread is held only while it
//! works on a batch, never while the client is slow to send, so slow uploads cannot use
//! up the blocking pool that SQLite and the rest of the store share.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::FsStoreError;

/// Consecutive chunks of the body, shared by the writer and the hasher.
type Batch = Arc<[Bytes]>;

/// Batches the hash may be behind the writes: at the store's 512 KiB batches, an upload
/// holds at most 4 MiB waiting for its hash, and as much again being hashed.
const HASH_LAG_BATCHES: usize = 8;

/// The writes, in order: between batches the file, while one is in flight its task.
enum Writes {
    Idle(std::fs::File),
    InFlight(JoinHandle<Result<std::fs::File, FsStoreError>>),
    /// A batch failed; its error was returned.
    Failed,
}

/// The hash lane: batches go in through `queue`; `lane` hashes them in order and ends
/// with the digest state once the queue is closed.
struct HashLane {
    queue: mpsc::Sender<Batch>,
    lane: JoinHandle<Result<Sha256, FsStoreError>>,
}

impl HashLane {
    fn start() -> Self {
        let (queue, mut batches) = mpsc::channel::<Batch>(HASH_LAG_BATCHES);
        let lane = tokio::spawn(async move {
            let mut hasher = Sha256::new();
            let mut arrived = Vec::with_capacity(HASH_LAG_BATCHES);
            while batches.recv_many(&mut arrived, HASH_LAG_BATCHES).await > 0 {
                // Whatever queued up is hashed in one blocking task.
                let ready = std::mem::take(&mut arrived);
                hasher = tokio::task::spawn_blocking(move || {
                    for chunk in ready.iter().flat_map(|batch| batch.iter()) {
                        hasher.update(chunk);
                    }
                    hasher
                })
                .await
                .map_err(|e| FsStoreError::Blocking(e.to_string()))?;
            }
            Ok(hasher)
        });
        Self { queue, lane }
    }
}

/// A body's file and SHA-256, fed batch by batch.
pub(crate) struct WriteAndHash {
    path: PathBuf,
    writes: Writes,
    hash: HashLane,
    waited_for_sha256: Duration,
}

impl WriteAndHash {
    /// Appends to `file` (at `path`, named in errors).
    pub(crate) fn new(file: std::fs::File, path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            writes: Writes::Idle(file),
            hash: HashLane::start(),
            waited_for_sha256: Duration::ZERO,
        }
    }

    /// Waits for the write before (if any) and for room in the hash lane, then starts
    /// writing `chunks`, queues them for hashing and returns: the caller receives the
    /// next batch meanwhile.
    ///
    /// # Errors
    /// The previous batch's, when it could not be written, or the hash lane's, when it
    /// failed.
    pub(crate) async fn send(&mut self, chunks: Vec<Bytes>) -> Result<(), FsStoreError> {
        let mut file = self.settle_writes().await?;
        let batch: Batch = chunks.into();
        self.queue_for_hash(batch.clone()).await?;
        let path = self.path.clone();
        self.writes = Writes::InFlight(tokio::task::spawn_blocking(move || {
            for chunk in batch.iter() {
                file.write_all(chunk)
                    .map_err(|e| FsStoreError::io("writing", &path, e))?;
            }
            Ok(file)
        }));
        Ok(())
    }

    /// Waits for the last write and for the hash to catch up: the file as written, its
    /// SHA-256, and how long the body waited for hashing (a full lane, and the catching
    /// up after the last write: what hashing added to the upload's wall time).
    ///
    /// # Errors
    /// The last batch's, when it could not be written, or the hash lane's.
    pub(crate) async fn finish(
        mut self,
    ) -> Result<(std::fs::File, Sha256, Duration), FsStoreError> {
        let file = self.settle_writes().await?;
        let HashLane { queue, lane } = self.hash;
        drop(queue);
        let waiting = Instant::now();
        let hashed = lane.await;
        let waited_for_sha256 = self.waited_for_sha256 + waiting.elapsed();
        let hasher = hashed.map_err(|e| FsStoreError::Blocking(e.to_string()))??;
        Ok((file, hasher, waited_for_sha256))
    }

    /// Waits for the write in flight, if any, ignoring how it ends, and stops the hash:
    /// the upload failed for another reason, and its file is about to be removed.
    pub(crate) async fn abandon(mut self) {
        self.hash.lane.abort();
        let _ = self.settle_writes().await;
    }

    /// Queues `batch` for the hash lane, waiting while the lane is [`HASH_LAG_BATCHES`]
    /// behind (time counted as waited for SHA-256).
    async fn queue_for_hash(&mut self, batch: Batch) -> Result<(), FsStoreError> {
        let lane_ended = || FsStoreError::Blocking("the upload's hash ended early".into());
        match self.hash.queue.try_send(batch) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(lane_ended()),
            Err(mpsc::error::TrySendError::Full(batch)) => {
                let waiting = Instant::now();
                let queued = self.hash.queue.send(batch).await;
                self.waited_for_sha256 += waiting.elapsed();
                queued.map_err(|_| lane_ended())
            }
        }
    }

    /// The file once the write in flight is done.
    async fn settle_writes(&mut self) -> Result<std::fs::File, FsStoreError> {
        match std::mem::replace(&mut self.writes, Writes::Failed) {
            Writes::Idle(file) => Ok(file),
            Writes::Failed => Err(FsStoreError::Blocking(
                "a batch of this upload failed before".into(),
            )),
            Writes::InFlight(write) => write
                .await
                .map_err(|e| FsStoreError::Blocking(e.to_string()))?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_write_failure(err: &FsStoreError) -> bool {
        matches!(
            err,
            FsStoreError::Io {
                action: "writing",
                ..
            }
        )
    }

    fn chunks(parts: &[&'static str]) -> Vec<Bytes> {
        parts
            .iter()
            .map(|part| Bytes::from_static(part.as_bytes()))
            .collect()
    }

    #[tokio::test]
    async fn batches_are_written_and_hashed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body.part");
        let mut body = WriteAndHash::new(std::fs::File::create(&path).unwrap(), &path);
        for batch in [&["ab", "c"][..], &["d"], &["e", "f", "g"]] {
            body.send(chunks(batch)).await.unwrap();
        }
        let (file, hasher, _) = body.finish().await.unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdefg");
        assert_eq!(hasher.finalize(), Sha256::digest(b"abcdefg"));
    }

    #[tokio::test]
    async fn a_body_of_more_batches_than_the_hash_may_lag_is_written_and_hashed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body.part");
        let mut body = WriteAndHash::new(std::fs::File::create(&path).unwrap(), &path);
        let mut expected = Vec::new();
        for n in 0..(HASH_LAG_BATCHES * 5) {
            // Batches of different sizes and chunk counts, each its own bytes.
            let batch: Vec<Bytes> = (0..=n % 3)
                .map(|c| Bytes::from(vec![(n * 7 + c) as u8; 1 + n * 131 % 4096]))
                .collect();
            expected.extend(batch.iter().flat_map(|chunk| chunk.iter().copied()));
            body.send(batch).await.unwrap();
        }
        let (file, hasher, _) = body.finish().await.unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert_eq!(hasher.finalize(), Sha256::digest(&expected));
    }

    #[tokio::test]
    async fn a_batch_that_cannot_be_written_fails_the_next_send_and_the_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body.part");
        std::fs::write(&path, b"").unwrap();
        // Opened for reading only: every write fails.
        let read_only = std::fs::File::open(&path).unwrap();
        let mut body = WriteAndHash::new(read_only, &path);
        body.send(chunks(&["a"])).await.unwrap();
        let err = body.send(chunks(&["b"])).await.unwrap_err();
        assert!(is_write_failure(&err), "{err}");
        let err = body.finish().await.unwrap_err();
        assert!(matches!(err, FsStoreError::Blocking(_)), "{err}");
    }

    #[tokio::test]
    async fn the_last_batch_failing_fails_the_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body.part");
        std::fs::write(&path, b"").unwrap();
        let mut body = WriteAndHash::new(std::fs::File::open(&path).unwrap(), &path);
        body.send(chunks(&["a"])).await.unwrap();
        let err = body.finish().await.unwrap_err();
        assert!(is_write_failure(&err), "{err}");
    }
}
