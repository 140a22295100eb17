//! Uploading a file in parts: the parts still missing, several at a time, under one
//! progress bar for the whole file; the parts the server already holds are not sent
//! again.

use futures_util::{StreamExt as _, TryStreamExt as _};

use super::files::LocalFile;
use crate::api::{ApiClient, ApiError};
use crate::dto::{CompletedPart, Multipart};
use crate::error::CliError;
use crate::transfer::{Progress, ProgressMode, put_part};

/// A file's parts once all are on the server.
#[derive(Debug)]
pub struct PartsSent {
    /// Every part, in order, as registration names them.
    pub parts: Vec<CompletedPart>,
    /// Bytes sent now (the rest the server held already).
    pub sent_bytes: u64,
}

/// Sends the parts of `plan` (`held` are on the server already), `parallel` at a time.
///
/// # Errors
/// Transfer and API errors of the first part that fails (the others are dropped; a
/// re-run resumes from what arrived).
pub async fn upload_parts(
    client: &ApiClient,
    file: &LocalFile,
    plan: &Multipart,
    held: Vec<CompletedPart>,
    held_bytes: u64,
    parallel: usize,
    mode: ProgressMode,
) -> Result<PartsSent, CliError> {
    let progress = Progress::start(
        mode,
        format!("upload {}", file.file_name),
        file.size,
        held_bytes,
    );
    let sends = plan.parts.iter().map(|part| {
        let progress = progress.clone();
        async move {
            let offset = u64::from(part.part_number.saturating_sub(1)) * plan.part_size;
            let len = plan.part_size.min(file.size.saturating_sub(offset));
            let etag = put_part(
                client.storage(),
                &part.upload_url,
                &file.path,
                offset,
                len,
                &progress,
            )
            .await?;
            Ok::<_, CliError>((
                CompletedPart {
                    part_number: part.part_number,
                    etag,
                },
                len,
            ))
        }
    });
    let sent: Vec<(CompletedPart, u64)> = futures_util::stream::iter(sends)
        .buffer_unordered(parallel.max(1))
        .try_collect()
        .await
        .inspect_err(|_| progress.abandon())?;
    progress.finish();
    let sent_bytes = sent.iter().map(|(_, len)| len).sum();
    let mut parts: Vec<CompletedPart> = held
        .into_iter()
        .chain(sent.into_iter().map(|(part, _)| part))
        .collect();
    parts.sort_by_key(|p| p.part_number);
    parts.dedup_by_key(|p| p.part_number);
    if parts.len() != plan.part_count as usize {
        return Err(ApiError::Unexpected {
            status: 200,
            detail: format!(
                "the server planned {} parts but offered {} of them",
                plan.part_count,
                parts.len()
            ),
        }
        .into());
    }
    Ok(PartsSent { parts, sent_bytes })
}
