//! Receiving one part of an upload in parts: the body is streamed into the upload's
//! data file at the part's offset, flushed, and only then recorded with a fresh entity
//! tag. A part sent again is forgotten before its bytes are overwritten, so a record
//! always describes bytes that arrived whole.

use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use actix_web::web::{self, Bytes};
use futures_util::StreamExt;

use crate::error::FsStoreError;
use crate::multipart::{self, OpenUpload, ReceivingPart};
use crate::store::blocking;
use crate::upload::UploadError;

/// Bytes gathered from the network before they are written out in one blocking task.
const WRITE_BATCH_BYTES: usize = 512 * 1024;

/// Stores the body as part `part` of `upload`; returns its entity tag. The part may hold
/// at most the upload's part size. `receiving` is the part's lock
/// ([`crate::multipart::lock_part`]): each blocking write holds it too, so a request
/// dropped while a write runs (its client gone) keeps the part locked until that write
/// has landed, and a second request for the part never has its bytes overwritten by
/// the first one's.
///
/// # Errors
/// [`UploadError`]; the part is then not recorded (and must be sent again).
pub(crate) async fn receive_part(
    upload: OpenUpload,
    part: u32,
    declared_size: Option<u64>,
    receiving: ReceivingPart,
    mut payload: web::Payload,
) -> Result<String, UploadError> {
    let receiving = Arc::new(receiving);
    let limit = upload.part_size;
    if declared_size.is_some_and(|size| size > limit) {
        return Err(UploadError::TooLarge(limit));
    }
    let upload = Arc::new(upload);
    let opened = Arc::clone(&upload);
    let held = Arc::clone(&receiving);
    let file = blocking(move || {
        let _receiving = held;
        let path = opened.data_path();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| FsStoreError::io("opening", &path, e))?;
        if multipart::is_placed(&opened, &file, &path)? {
            return Ok(None);
        }
        multipart::forget_part(&opened, part)?;
        Ok(Some(file))
    })
    .await?
    // A completion placed the data file as the object and stopped before removing
    // the upload: its bytes are a stored object's now.
    .ok_or(UploadError::AlreadyStored)?;
    let file = Arc::new(file);
    let start = upload.offset(part);
    let mut written = 0_u64;
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batched = 0_usize;
    loop {
        let chunk = payload.next().await;
        let end = chunk.is_none();
        if let Some(chunk) = chunk {
            let chunk = chunk.map_err(UploadError::Interrupted)?;
            if written + (batched + chunk.len()) as u64 > limit {
                return Err(UploadError::TooLarge(limit));
            }
            batched += chunk.len();
            batch.push(chunk);
        }
        if batched >= WRITE_BATCH_BYTES || (end && batched > 0) {
            let (file, upload) = (Arc::clone(&file), Arc::clone(&upload));
            let held = Arc::clone(&receiving);
            let at = start + written;
            let bytes = std::mem::take(&mut batch);
            blocking(move || {
                let _receiving = held;
                write_batch(&file, &upload, at, &bytes)
            })
            .await?;
            written += batched as u64;
            batched = 0;
        }
        if end {
            break;
        }
    }
    let etag = format!("\"{}\"", uuid::Uuid::new_v4().simple());
    let recorded = etag.clone();
    blocking(move || {
        let _receiving = receiving;
        file.sync_data()
            .map_err(|e| FsStoreError::io("flushing", upload.data_path(), e))?;
        multipart::record_part(&upload, part, written, &recorded)
    })
    .await?;
    Ok(etag)
}

/// Writes `batch` at `at` in the data file.
fn write_batch(
    file: &std::fs::File,
    upload: &OpenUpload,
    mut at: u64,
    batch: &[Bytes],
) -> Result<(), FsStoreError> {
    for chunk in batch {
        file.write_all_at(chunk, at)
            .map_err(|e| FsStoreError::io("writing", upload.data_path(), e))?;
        at += chunk.len() as u64;
    }
    Ok(())
}
