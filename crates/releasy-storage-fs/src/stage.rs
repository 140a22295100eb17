//! A step of an upload that runs on a blocking thread of its own, fed batches of the
//! body through a short queue: the request keeps receiving while earlier batches are
//! written and hashed, and only the queue's few batches wait in memory.

use std::sync::Arc;

use actix_web::web::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::FsStoreError;

/// Consecutive chunks of the body, shared by every stage they are sent to.
pub(crate) type Batch = Arc<[Bytes]>;

/// Batches queued for one stage: at 512 KiB each, 2 MiB per stage and upload.
const QUEUED_BATCHES: usize = 4;

/// A blocking thread consuming the batches it is sent, and what it ends with.
#[derive(Debug)]
pub(crate) struct Stage<T> {
    queue: mpsc::Sender<Batch>,
    done: JoinHandle<Result<T, FsStoreError>>,
}

impl<T: Send + 'static> Stage<T> {
    /// Starts `work` on the blocking pool; it receives batches until the queue closes.
    pub(crate) fn start(
        work: impl FnOnce(&mut mpsc::Receiver<Batch>) -> Result<T, FsStoreError> + Send + 'static,
    ) -> Self {
        let (queue, mut batches) = mpsc::channel(QUEUED_BATCHES);
        let done = tokio::task::spawn_blocking(move || work(&mut batches));
        Self { queue, done }
    }

    /// Queues `batch`, waiting while the queue is full; `false` when the stage has
    /// stopped early (its error comes from [`Stage::finish`]).
    pub(crate) async fn send(&self, batch: Batch) -> bool {
        self.queue.send(batch).await.is_ok()
    }

    /// Closes the queue and waits for the stage to finish what it was sent.
    pub(crate) async fn finish(self) -> Result<T, FsStoreError> {
        drop(self.queue);
        self.done
            .await
            .map_err(|e| FsStoreError::Blocking(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(text: &'static str) -> Batch {
        vec![Bytes::from_static(text.as_bytes())].into()
    }

    #[tokio::test]
    async fn a_stage_gets_every_batch_in_order() {
        let stage = Stage::start(|batches| {
            let mut seen = Vec::new();
            while let Some(batch) = batches.blocking_recv() {
                seen.extend(batch.iter().flat_map(|chunk| chunk.to_vec()));
            }
            Ok(seen)
        });
        for text in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            assert!(stage.send(batch(text)).await);
        }
        assert_eq!(stage.finish().await.unwrap(), b"abcdefgh");
    }

    #[tokio::test]
    async fn a_stage_that_fails_refuses_more_batches_and_returns_its_error() {
        let stage = Stage::start(|batches| -> Result<(), FsStoreError> {
            batches.blocking_recv();
            Err(FsStoreError::io(
                "writing",
                "/uploads/x.part",
                std::io::Error::other("the disk is full"),
            ))
        });
        let mut refused = false;
        // The queue holds a few batches; past them a stopped stage refuses.
        for _ in 0..QUEUED_BATCHES + 2 {
            if !stage.send(batch("x")).await {
                refused = true;
                break;
            }
        }
        assert!(refused, "a stopped stage took every batch");
        let err = stage.finish().await.unwrap_err();
        assert_eq!(err.to_string(), "writing /uploads/x.part: the disk is full");
    }
}
