//! Uploading and registering a release's files, skipping those already registered.

use serde::Serialize;

use super::files::LocalFile;
use super::keys;
use crate::api::{ApiClient, ApiError};
use crate::dto::{Artifact, PresignRequest, PresignResponse, RegisterRequest, Release};
use crate::error::CliError;
use crate::output::now;
use crate::transfer::{Progress, ProgressMode, put_file};

/// A replayed upload URL this close to its expiry is not used.
const EXPIRY_MARGIN_SECONDS: i64 = 60;

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadResult {
    /// Uploaded and registered now.
    Uploaded,
    /// The release already had it (same name, platform and sha256).
    AlreadyRegistered,
}

/// One file's outcome, as `publish --json` and `artifact upload --json` print it.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactOutcome {
    /// The local path.
    pub file: String,
    /// The name stored on the server.
    pub file_name: String,
    /// Platform.
    pub platform: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256.
    pub sha256: String,
    /// The artifact's id.
    pub artifact_id: String,
    /// Its object key.
    pub object_key: String,
    /// What was done.
    pub result: UploadResult,
}

impl ArtifactOutcome {
    fn new(
        file: &LocalFile,
        artifact_id: String,
        object_key: String,
        result: UploadResult,
    ) -> Self {
        Self {
            file: file.path.display().to_string(),
            file_name: file.stored_name(),
            platform: file.platform.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
            artifact_id,
            object_key,
            result,
        }
    }
}

/// Uploads and registers each of `files` to `release` (whose `artifacts` must be
/// listed), in order, skipping files the release already has.
///
/// # Errors
/// [`CliError::Conflict`] when the release holds a file of the same name and platform
/// with another checksum; transfer and API errors.
pub async fn upload_all(
    client: &ApiClient,
    release: &Release,
    files: &[LocalFile],
    mode: ProgressMode,
) -> Result<Vec<ArtifactOutcome>, CliError> {
    let existing = release.artifacts.as_deref().unwrap_or_default();
    let mut outcomes = Vec::with_capacity(files.len());
    for file in files {
        let stored_name = file.stored_name();
        let same_slot: Vec<_> = existing
            .iter()
            .filter(|a| a.platform.trim() == file.platform && a.file_name() == stored_name)
            .collect();
        let outcome = if let Some(found) = same_slot
            .iter()
            .find(|a| a.checksum.eq_ignore_ascii_case(&file.sha256) && a.size == file.size)
        {
            ArtifactOutcome::new(
                file,
                found.id.clone(),
                found.object_key.clone(),
                UploadResult::AlreadyRegistered,
            )
        } else if let Some(other) = same_slot.first() {
            return Err(CliError::Conflict(format!(
                "{} {} already has {stored_name} for {} with sha256 {}, not {}; \
                 publish a new version instead",
                release.product, release.version, file.platform, other.checksum, file.sha256
            )));
        } else {
            upload_one(client, release, file, mode).await?
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn upload_one(
    client: &ApiClient,
    release: &Release,
    file: &LocalFile,
    mode: ProgressMode,
) -> Result<ArtifactOutcome, CliError> {
    let presigned = presign(client, release, file).await?;
    let progress = Progress::start(mode, format!("upload {}", file.file_name), file.size, 0);
    let sent = put_file(
        client.storage(),
        &presigned.upload_url,
        &file.path,
        file.size,
        &progress,
    )
    .await
    .inspect_err(|_| progress.abandon())?;
    progress.finish();
    if sent != file.sha256 {
        return Err(CliError::FileChanged {
            path: file.path.clone(),
        });
    }
    let size = file.size.to_string();
    let key = keys::derive(
        "register",
        &[&release.id, &presigned.artifact_id, &file.sha256, &size],
    );
    let body = RegisterRequest {
        artifact_id: presigned.artifact_id.clone(),
        object_key: presigned.object_key.clone(),
        checksum: file.sha256.clone(),
        size: file.size,
        platform: file.platform.clone(),
    };
    let path = format!("/v1/releases/{}/artifacts", release.id);
    let result = match client.post::<_, Artifact>(&path, &body, Some(&key)).await {
        Ok(answer) if answer.replayed => UploadResult::AlreadyRegistered,
        Ok(_) => UploadResult::Uploaded,
        // Registered by an earlier run whose answer was lost.
        Err(ApiError::Status {
            status: 409, code, ..
        }) if code == "conflict" => UploadResult::AlreadyRegistered,
        Err(e) => return Err(e.into()),
    };
    Ok(ArtifactOutcome::new(
        file,
        presigned.artifact_id,
        presigned.object_key,
        result,
    ))
}

/// A presigned upload for `file`, with an idempotency key derived from the release,
/// platform, name and digest: a re-run gets the same artifact id back, unless that
/// answer's URL has expired, in which case the next key in a chain (the same on every
/// run) gives a fresh one.
async fn presign(
    client: &ApiClient,
    release: &Release,
    file: &LocalFile,
) -> Result<PresignResponse, CliError> {
    let size = file.size.to_string();
    let parts = [
        release.id.as_str(),
        file.platform.as_str(),
        file.file_name.as_str(),
        file.sha256.as_str(),
        size.as_str(),
    ];
    let mut key = keys::derive("presign", &parts);
    let body = PresignRequest {
        filename: file.file_name.clone(),
        platform: file.platform.clone(),
    };
    let path = format!("/v1/releases/{}/artifacts/presign", release.id);
    for _ in 0..50 {
        let answer = client
            .post::<_, PresignResponse>(&path, &body, Some(&key))
            .await?;
        if !answer.replayed || answer.body.expires_at > now() + EXPIRY_MARGIN_SECONDS {
            return Ok(answer.body);
        }
        let mut chained = parts.to_vec();
        chained.extend(["after", answer.body.artifact_id.as_str()]);
        key = keys::derive("presign", &chained);
    }
    Err(ApiError::Unexpected {
        status: 200,
        detail: "every presigned upload URL has already expired".to_owned(),
    }
    .into())
}
