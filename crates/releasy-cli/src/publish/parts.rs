//! Uploading a file in parts: the parts still missing, several at a time, under one
//! progress bar for the whole file; the parts the server already holds are not sent
//! again.

use std::time::Duration;

use futures_util::{StreamExt as _, TryStreamExt as _};

use super::files::LocalFile;
use super::part_urls::{PartFailure, PartTarget, PartUrls};
use crate::api::ApiError;
use crate::dto::{CompletedPart, Multipart};
use crate::error::CliError;
use crate::transfer::{Progress, ProgressMode, put_part};

/// How many times one part is sent before its failure ends the upload (the parts in
/// flight with it are dropped; a re-run resumes from what arrived).
const PART_ATTEMPTS: u32 = 4;

/// Whether a part's failure may pass if it is sent again, after a pause of 1, 2, then
/// 4 seconds: the connection broke, or the store is busy or failed on its side (S3's
/// `500 InternalError` and `503 SlowDown`, a proxy's `502`/`504`, the embedded store
/// still writing the part for an earlier request). Sending a part again replaces what
/// arrived of it.
fn worth_sending_again(err: &CliError) -> bool {
    match err {
        CliError::Api(api) => {
            api.is_transient()
                || api.status() == Some(500)
                // The connection stalled: the embedded store's `408`, S3's `400
                // RequestTimeout` (which S3's own SDKs send again).
                || api.status() == Some(408)
                || api.code() == "RequestTimeout"
                || api.code() == PART_BUSY
                || (api.status() == Some(409)
                    && api
                        .server_message()
                        .is_some_and(|m| m.starts_with(PART_BUSY_BEFORE_ITS_CODE)))
        }
        _ => false,
    }
}

/// The embedded store's `409` code while it still writes an earlier request for the
/// part (one whose connection broke while its bytes went to a slow disk): the part is
/// free once that write has landed.
const PART_BUSY: &str = "part_busy";

/// How servers older than the `part_busy` code began the same `409` (`conflict`).
const PART_BUSY_BEFORE_ITS_CODE: &str = "this part is being uploaded by another request";

/// A file's parts once all are on the server.
#[derive(Debug)]
pub struct PartsSent {
    /// Every part, in order, as registration names them.
    pub parts: Vec<CompletedPart>,
    /// Bytes sent now (the rest the server held already).
    pub sent_bytes: u64,
}

/// Sends the parts of `plan` (`held` are on the server already, with their sizes),
/// `parallel` at a time,
/// each to a URL from `urls` (renewed when the plan's have expired); `None` when the
/// upload was aborted or swept meanwhile.
///
/// # Errors
/// Transfer and API errors of the first part that fails for good (see
/// [`PART_ATTEMPTS`]; the others are dropped, and a re-run resumes from what arrived).
pub async fn upload_parts(
    urls: &PartUrls<'_>,
    storage: &reqwest::Client,
    file: &LocalFile,
    plan: &Multipart,
    held: Vec<(CompletedPart, u64)>,
    parallel: usize,
    mode: ProgressMode,
) -> Result<Option<PartsSent>, CliError> {
    let held_bytes = held.iter().map(|(_, size)| size).sum();
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
            let mut attempt = 1;
            loop {
                let sent = match urls.for_part(part.part_number, len).await {
                    Ok(PartTarget::Send(url)) => {
                        put_part(storage, &url, &file.path, offset, len, &progress)
                            .await
                            .map_err(PartFailure::Failed)
                    }
                    Ok(PartTarget::Held(etag)) => {
                        progress.advance(len);
                        Ok(etag)
                    }
                    Err(failure) => Err(failure),
                };
                let err = match sent {
                    Ok(etag) => {
                        let part = CompletedPart {
                            part_number: part.part_number,
                            etag,
                        };
                        return Ok::<_, PartFailure>((part, len));
                    }
                    Err(PartFailure::Failed(err)) => err,
                    Err(gone) => return Err(gone),
                };
                // The store no longer knows the upload (S3's `NoSuchUpload`; a `404`, the
                // embedded store's, when the server's state says so too) when it was swept
                // or aborted meanwhile: a fresh one takes its place, as when a renewal
                // finds it gone.
                if let CliError::Api(api) = &err
                    && (api.code() == "NoSuchUpload"
                        || (api.status() == Some(404)
                            && matches!(urls.upload_is_gone().await, Ok(true))))
                {
                    return Err(PartFailure::UploadGone);
                }
                // A file that changed is not sent again: the run tells it changed.
                if attempt >= PART_ATTEMPTS
                    || !worth_sending_again(&err)
                    || file.changed_since_hashed().await
                {
                    return Err(PartFailure::Failed(err));
                }
                progress.note(&format!(
                    "part {} failed ({err}); sending it again",
                    part.part_number
                ));
                tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                attempt += 1;
            }
        }
    });
    let sent: Vec<(CompletedPart, u64)> = match futures_util::stream::iter(sends)
        .buffer_unordered(parallel.max(1))
        .try_collect()
        .await
    {
        Ok(sent) => sent,
        Err(failure) => {
            progress.abandon();
            return match failure {
                PartFailure::UploadGone => Ok(None),
                PartFailure::Failed(err) => Err(err),
            };
        }
    };
    progress.finish();
    let sent_bytes = sent.iter().map(|(_, len)| len).sum();
    let mut parts: Vec<CompletedPart> =
        held.into_iter().chain(sent).map(|(part, _)| part).collect();
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
    Ok(Some(PartsSent { parts, sent_bytes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_busy_and_failing_stores_are_worth_another_try() {
        let status = |status: u16, code: &str| {
            CliError::Api(ApiError::Status {
                status,
                code: code.to_owned(),
                message: "m".to_owned(),
            })
        };
        let network = CliError::Api(ApiError::Network {
            host: "store".to_owned(),
            detail: "connection reset".to_owned(),
        });
        assert!(worth_sending_again(&network));
        for code in [500, 502, 503, 504] {
            assert!(worth_sending_again(&status(code, "")), "{code}");
        }
        assert!(worth_sending_again(&status(409, "part_busy")));
        let older_server = CliError::Api(ApiError::Status {
            status: 409,
            code: "conflict".to_owned(),
            message: "this part is being uploaded by another request, or the upload is completing"
                .to_owned(),
        });
        assert!(worth_sending_again(&older_server));
        // A stalled connection: the embedded store's 408, S3's RequestTimeout.
        assert!(worth_sending_again(&status(408, "request_timeout")));
        assert!(worth_sending_again(&status(400, "RequestTimeout")));
        assert!(!worth_sending_again(&status(400, "BadDigest")));
        assert!(!worth_sending_again(&status(409, "conflict")));
        assert!(!worth_sending_again(&status(403, "forbidden")));
        assert!(!worth_sending_again(&status(404, "not_found")));
        assert!(!worth_sending_again(&CliError::Usage("x".to_owned())));
    }
}
