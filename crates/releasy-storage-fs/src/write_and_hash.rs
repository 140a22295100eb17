//! Writing and hashing an upload's body while the next part of it arrives: each batch
//! is written and hashed by two blocking tasks at once, while the request receives
//! the next batch. A blocking thread is held only while it works on a batch, never
//! while the client is slow to send, so slow uploads cannot use up the blocking pool
//! that SQLite and the rest of the store share.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use sha2::{Digest as _, Sha256};
use tokio::task::JoinHandle;

use crate::error::FsStoreError;

/// Consecutive chunks of the body, shared by the writer and the hasher.
type Batch = Arc<[Bytes]>;

/// The batch being written and hashed.
struct InFlight {
    write: JoinHandle<Result<std::fs::File, FsStoreError>>,
    hash: JoinHandle<Sha256>,
}

/// Between batches, the file and the hasher; while one is in flight, its two tasks.
enum State {
    Idle(std::fs::File, Sha256),
    InFlight(InFlight),
    /// A batch failed; its error was returned.
    Failed,
}

/// A body's file and SHA-256, fed batch by batch.
pub(crate) struct WriteAndHash {
    path: PathBuf,
    state: State,
    waited_for_sha256: Duration,
}

impl WriteAndHash {
    /// Appends to `file` (at `path`, named in errors).
    pub(crate) fn new(file: std::fs::File, path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            state: State::Idle(file, Sha256::new()),
            waited_for_sha256: Duration::ZERO,
        }
    }

    /// Waits for the batch before (if any), then starts writing and hashing `chunks`
    /// and returns: the caller receives the next batch meanwhile.
    ///
    /// # Errors
    /// The previous batch's, when it could not be written.
    pub(crate) async fn send(&mut self, chunks: Vec<Bytes>) -> Result<(), FsStoreError> {
        let (mut file, mut hasher) = self.settle().await?;
        let batch: Batch = chunks.into();
        let hashed = batch.clone();
        let path = self.path.clone();
        self.state = State::InFlight(InFlight {
            write: tokio::task::spawn_blocking(move || {
                for chunk in batch.iter() {
                    file.write_all(chunk)
                        .map_err(|e| FsStoreError::io("writing", &path, e))?;
                }
                Ok(file)
            }),
            hash: tokio::task::spawn_blocking(move || {
                for chunk in hashed.iter() {
                    hasher.update(chunk);
                }
                hasher
            }),
        });
        Ok(())
    }

    /// Waits for the last batch: the file as written, its SHA-256, and how long the
    /// body waited for hashing (see [`WriteAndHash::settle`]).
    ///
    /// # Errors
    /// The last batch's, when it could not be written.
    pub(crate) async fn finish(
        mut self,
    ) -> Result<(std::fs::File, Sha256, Duration), FsStoreError> {
        let (file, hasher) = self.settle().await?;
        Ok((file, hasher, self.waited_for_sha256))
    }

    /// Waits for the batch in flight, if any, ignoring how it ends: the upload failed
    /// for another reason, and its file is about to be removed.
    pub(crate) async fn abandon(mut self) {
        let _ = self.settle().await;
    }

    /// The file and the hasher once the batch in flight is done. The time spent
    /// waiting for its hash after its write finished (and after the next batch
    /// arrived, which the caller received meanwhile) is the time hashing added.
    async fn settle(&mut self) -> Result<(std::fs::File, Sha256), FsStoreError> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Idle(file, hasher) => Ok((file, hasher)),
            State::Failed => Err(FsStoreError::Blocking(
                "a batch of this upload failed before".into(),
            )),
            State::InFlight(InFlight { write, hash }) => {
                let written = write.await;
                let waiting = Instant::now();
                let hashed = hash.await;
                self.waited_for_sha256 += waiting.elapsed();
                let file = written.map_err(|e| FsStoreError::Blocking(e.to_string()))??;
                let hasher = hashed.map_err(|e| FsStoreError::Blocking(e.to_string()))?;
                Ok((file, hasher))
            }
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
