//! Uploading and registering a release's files, skipping those already registered.

use std::collections::BTreeMap;

use serde::Serialize;

use super::files::LocalFile;
use super::keys;
use super::part_urls::{EXPIRY_MARGIN_SECONDS, PartUrls, upload_state, upload_state_path};
use super::parts::upload_parts;
use crate::api::{ApiClient, ApiError};
use crate::dto::{
    Artifact, ArtifactSummary, CompletedPart, PresignRequest, PresignResponse, RegisterRequest,
    Release,
};
use crate::error::CliError;
use crate::output::now;
use crate::transfer::{Progress, ProgressMode, put_file};

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
    /// Bytes sent by this run (less than `size` when an upload in parts resumed).
    pub sent_bytes: u64,
    /// The artifact's verification as the server answered (`verified`, or `pending`
    /// while the server reads a large object back); absent from older servers, and
    /// when registration was replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
}

impl ArtifactOutcome {
    fn new(
        file: &LocalFile,
        artifact_id: String,
        object_key: String,
        result: UploadResult,
        sent_bytes: u64,
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
            sent_bytes,
            verification: None,
        }
    }

    fn verified_as(mut self, verification: Option<String>) -> Self {
        self.verification = verification;
        self
    }
}

/// Uploads and registers each of `files` to `release` (whose `artifacts` must be
/// listed), in order, skipping files the release already has. Files the server wants
/// in parts go up `parallel` parts at a time, resuming an upload an earlier run began.
///
/// # Errors
/// [`CliError::Conflict`] when the release holds a file of the same name and platform
/// with another checksum, or with this one but bytes that failed verification;
/// transfer and API errors.
pub async fn upload_all(
    client: &ApiClient,
    release: &Release,
    files: &[LocalFile],
    mode: ProgressMode,
    parallel: usize,
) -> Result<Vec<ArtifactOutcome>, CliError> {
    let existing = release.artifacts.as_deref().unwrap_or_default();
    let mut outcomes = Vec::with_capacity(files.len());
    for file in files {
        let stored_name = file.stored_name();
        let outcome = match slot_of(existing, file) {
            Slot::Free => upload_one(client, release, file, mode, parallel).await?,
            Slot::Registered(found) => ArtifactOutcome::new(
                file,
                found.id.clone(),
                found.object_key.clone(),
                UploadResult::AlreadyRegistered,
                0,
            )
            .verified_as(found.verification.clone()),
            Slot::Failed(found) => {
                return Err(CliError::Conflict(format!(
                    "{} {} has {stored_name} for {} (artifact {}), but its stored bytes \
                     failed verification and it cannot be downloaded; delete the draft \
                     release and publish again, or publish a new version",
                    release.product, release.version, file.platform, found.id
                )));
            }
            Slot::Taken(other) => {
                return Err(CliError::Conflict(format!(
                    "{} {} already has {stored_name} for {} with sha256 {}, not {}; \
                     publish a new version instead",
                    release.product, release.version, file.platform, other.checksum, file.sha256
                )));
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// What a release holds where `file` would go.
#[derive(Debug)]
enum Slot<'a> {
    /// Nothing of its name for its platform: it is uploaded.
    Free,
    /// This file (same sha256 and size), whose bytes may be downloaded or are still
    /// being checked.
    Registered(&'a ArtifactSummary),
    /// This file, but the bytes stored for it failed verification.
    Failed(&'a ArtifactSummary),
    /// Another file of its name for its platform.
    Taken(&'a ArtifactSummary),
}

/// Where `file` would go among `existing`: the same stored name for the same platform,
/// without regard to the platform's ASCII case (as the server matches platforms, and
/// as object keys store them).
fn slot_of<'a>(existing: &'a [ArtifactSummary], file: &LocalFile) -> Slot<'a> {
    let stored_name = file.stored_name();
    let same_slot: Vec<_> = existing
        .iter()
        .filter(|a| {
            a.platform.trim().eq_ignore_ascii_case(file.platform.trim())
                && a.file_name() == stored_name
        })
        .collect();
    let is_this_file = |a: &&&ArtifactSummary| {
        a.checksum.eq_ignore_ascii_case(&file.sha256) && a.size == file.size
    };
    let failed = |a: &&&ArtifactSummary| a.verification.as_deref() == Some("failed");
    // A copy that can be downloaded wins over one that failed (a release may hold both,
    // registered twice by older clients).
    let same_file = same_slot
        .iter()
        .filter(is_this_file)
        .find(|a| !failed(a))
        .or_else(|| same_slot.iter().find(is_this_file));
    match (same_file, same_slot.first()) {
        (Some(found), _) if found.verification.as_deref() == Some("failed") => Slot::Failed(found),
        (Some(found), _) => Slot::Registered(found),
        (None, Some(other)) => Slot::Taken(other),
        (None, None) => Slot::Free,
    }
}

/// How many uploads of one file a run makes in all when each is ended (aborted, or
/// swept) before it could be registered: the first and two fresh ones.
const UPLOADS_PER_FILE: usize = 3;

/// The server's answer when an upload was aborted or swept before its registration.
const UPLOAD_GONE: &str = "the upload was aborted or has expired: presign it again";

async fn upload_one(
    client: &ApiClient,
    release: &Release,
    file: &LocalFile,
    mode: ProgressMode,
    parallel: usize,
) -> Result<ArtifactOutcome, CliError> {
    // Uploads the server ended under this run: their presign answers are not reused.
    let mut gone: Vec<String> = Vec::new();
    loop {
        match upload_and_register(client, release, file, mode, parallel, &gone).await? {
            Registration::Done(outcome) => return Ok(*outcome),
            Registration::UploadGone(artifact_id) if gone.len() + 1 < UPLOADS_PER_FILE => {
                gone.push(artifact_id);
            }
            Registration::UploadGone(_) => {
                return Err(ApiError::Status {
                    status: 409,
                    code: "conflict".to_owned(),
                    message: UPLOAD_GONE.to_owned(),
                }
                .into());
            }
        }
    }
}

/// What a `409` at registration means: the server answers `conflict` for several
/// refusals, and only one of them is the file being there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegistrationConflict {
    /// `artifact already exists`: an earlier run registered it and lost the answer.
    AlreadyRegistered,
    /// The upload was aborted or swept before it was registered.
    UploadGone,
    /// Anything else (the release became immutable, say): a failure.
    Other,
}

impl RegistrationConflict {
    fn of(message: &str) -> Self {
        match message {
            "artifact already exists" => Self::AlreadyRegistered,
            UPLOAD_GONE => Self::UploadGone,
            _ => Self::Other,
        }
    }
}

/// How registering one upload ended.
enum Registration {
    Done(Box<ArtifactOutcome>),
    /// The upload of this artifact id was ended before it was registered.
    UploadGone(String),
}

/// Aborts the upload at `state_path` when `err` says its file changed while its parts
/// went up: its parts hold other bytes than the ones hashed, so none is worth keeping
/// for a re-run, and the store frees them now rather than at the sweeper's deadline
/// (a day by default). Best effort: the error is the file's either way.
async fn abort_if_changed(client: &ApiClient, state_path: &str, err: CliError) -> CliError {
    if matches!(err, CliError::FileChanged { .. }) {
        // Not reported: the run fails with the file's error, which says what to do.
        let _aborted = client.delete(state_path).await;
    }
    err
}

async fn upload_and_register(
    client: &ApiClient,
    release: &Release,
    file: &LocalFile,
    mode: ProgressMode,
    parallel: usize,
    gone: &[String],
) -> Result<Registration, CliError> {
    let Presigned {
        upload,
        held,
        replayed,
    } = presign(client, release, file, gone).await?;
    let (parts, sent_bytes) = match (&upload.multipart, &upload.upload_url) {
        (Some(plan), _) => {
            let state_path = upload_state_path(&release.id, &upload.artifact_id);
            let urls = PartUrls::new(client, state_path.clone(), plan, upload.expires_at);
            let sent = upload_parts(&urls, client.storage(), file, plan, held, parallel, mode);
            let sent = match sent.await {
                Ok(sent) => sent,
                Err(err) => {
                    let err = file.explain(err).await;
                    return Err(abort_if_changed(client, &state_path, err).await);
                }
            };
            let Some(sent) = sent else {
                return Ok(Registration::UploadGone(upload.artifact_id));
            };
            // Parts are not hashed as they go: a file that changed while they did would
            // be found only by the server's check, in the background for large files
            // (after a release may have been published with it).
            if let Err(err) = file.ensure_unchanged().await {
                return Err(abort_if_changed(client, &state_path, err).await);
            }
            (Some(sent.parts), sent.sent_bytes)
        }
        (None, Some(url)) => {
            // An earlier run was handed this URL, and may have stored the file before it
            // was cut off: registration says (it checks the stored object against the
            // file), which spares the upload, and a store refuses a URL whose object is
            // stored. An object that is not this file is deleted by registration.
            // A stored object that is not the file ends the upload with its refusal
            // (servers before that kept it open): this one starts over with a fresh
            // presign rather than send the file through a URL no registration takes.
            if replayed {
                match register(client, release, file, &upload, None, 0).await? {
                    Registered::Done(registration) => return Ok(registration),
                    Registered::NotStored(refused) if refused_as_other_object(&refused) => {
                        return Ok(Registration::UploadGone(upload.artifact_id));
                    }
                    Registered::NotStored(_) => {}
                }
            }
            // Refused as stored: an earlier run's upload finished while this one asked.
            // Registration checks it; one that is not the file starts over as above, one
            // gone meanwhile is replaced by one more upload, once.
            let mut uploads = 0;
            while put_whole(client, url, &upload.upload_headers, file, mode).await? {
                match register(client, release, file, &upload, None, 0).await? {
                    Registered::Done(registration) => return Ok(registration),
                    Registered::NotStored(refused) if refused_as_other_object(&refused) => {
                        return Ok(Registration::UploadGone(upload.artifact_id));
                    }
                    Registered::NotStored(refused) if uploads > 0 => return Err(refused.into()),
                    Registered::NotStored(_) => uploads += 1,
                }
            }
            (None, file.size)
        }
        (None, None) => {
            return Err(ApiError::Unexpected {
                status: 200,
                detail: "the presign answer has neither an upload URL nor parts".to_owned(),
            }
            .into());
        }
    };
    match register(client, release, file, &upload, parts, sent_bytes).await? {
        Registered::Done(registration) => Ok(registration),
        // The bytes stored are not the file hashed at the start: it changed meanwhile.
        Registered::NotStored(ApiError::Status { message, .. }) if is_other_object(&message) => {
            Err(CliError::FileChanged {
                path: file.path.clone(),
            })
        }
        // Nothing stored, after an upload that succeeded: the server's own words (an
        // instance that does not share the store, an upload in parts a lifecycle rule
        // aborted) say more than a guess.
        Registered::NotStored(refused) => Err(refused.into()),
    }
}

/// What a registration found.
enum Registered {
    /// Registered (now or earlier), or the upload was ended meanwhile.
    Done(Registration),
    /// No object of the file's size and sha256 is stored (none at all, or another,
    /// which registration deleted): the server's answer.
    NotStored(ApiError),
}

/// Registers `upload` of `file` (with its `parts`, for an upload in parts), of which
/// this run sent `sent_bytes`.
async fn register(
    client: &ApiClient,
    release: &Release,
    file: &LocalFile,
    upload: &PresignResponse,
    parts: Option<Vec<CompletedPart>>,
    sent_bytes: u64,
) -> Result<Registered, CliError> {
    let size = file.size.to_string();
    let key = keys::derive(
        "register",
        &[&release.id, &upload.artifact_id, &file.sha256, &size],
    );
    let body = RegisterRequest {
        artifact_id: upload.artifact_id.clone(),
        object_key: upload.object_key.clone(),
        checksum: file.sha256.clone(),
        size: file.size,
        platform: file.platform.clone(),
        parts,
    };
    let path = format!("/v1/releases/{}/artifacts", release.id);
    let answer = client
        .post_within::<_, Artifact>(&path, &body, Some(&key), registration_timeout(file.size))
        .await;
    let (result, verification) = match answer {
        Ok(answer) if answer.replayed => {
            (UploadResult::AlreadyRegistered, answer.body.verification)
        }
        Ok(answer) => (UploadResult::Uploaded, answer.body.verification),
        Err(ApiError::Status {
            status: 409,
            code,
            message,
        }) => match RegistrationConflict::of(&message) {
            // Registered by an earlier run whose answer was lost.
            RegistrationConflict::AlreadyRegistered => (UploadResult::AlreadyRegistered, None),
            // Aborted or swept meanwhile: the file goes up again under a fresh presign.
            RegistrationConflict::UploadGone => {
                return Ok(Registered::Done(Registration::UploadGone(
                    upload.artifact_id.clone(),
                )));
            }
            RegistrationConflict::Other => {
                return Err(ApiError::Status {
                    status: 409,
                    code,
                    message,
                }
                .into());
            }
        },
        Err(refused) if not_stored(&refused) => return Ok(Registered::NotStored(refused)),
        Err(e) => return Err(e.into()),
    };
    Ok(Registered::Done(Registration::Done(Box::new(
        ArtifactOutcome::new(
            file,
            upload.artifact_id.clone(),
            upload.object_key.clone(),
            result,
            sent_bytes,
        )
        .verified_as(verification),
    ))))
}

/// Whether a registration's `400` says no object of the declared size and sha256 is
/// stored: none at all, or another (which registration deleted).
fn not_stored(refused: &ApiError) -> bool {
    matches!(refused, ApiError::Status { status: 400, message, .. }
        if message.starts_with("object not found in storage") || is_other_object(message))
}

/// Whether registration refused (`400`) because the stored object is not the
/// declared one (which it deleted).
fn refused_as_other_object(refused: &ApiError) -> bool {
    matches!(refused, ApiError::Status { status: 400, message, .. } if is_other_object(message))
}

/// Whether a registration's `400` says the stored object is another than the one
/// declared (registration deleted it).
fn is_other_object(message: &str) -> bool {
    message == "checksum does not match the stored object"
        || (message.starts_with("size ") && message.ends_with("bytes)"))
}

/// The slowest rate at which a store is expected to read an object back.
const SLOWEST_VERIFY_BYTES_PER_SECOND: u64 = 20 * 1024 * 1024;

/// How long registering `size` bytes may take: the server reads an object it did not
/// hash while receiving (an upload in parts, anything on S3) through SHA-256, and on
/// S3 joining the parts copies them once more.
fn registration_timeout(size: u64) -> std::time::Duration {
    crate::api::API_TIMEOUT
        + std::time::Duration::from_secs(2 * size / SLOWEST_VERIFY_BYTES_PER_SECOND)
}

/// One streamed `PUT` of the whole file, checking that it is still the file hashed;
/// `true` when the store refused it because an object is stored under the URL already
/// (which registration must then check).
async fn put_whole(
    client: &ApiClient,
    url: &str,
    headers: &BTreeMap<String, String>,
    file: &LocalFile,
    mode: ProgressMode,
) -> Result<bool, CliError> {
    let progress = Progress::start(mode, format!("upload {}", file.file_name), file.size, 0);
    let sent = put_file(
        client.storage(),
        url,
        headers,
        &file.path,
        file.size,
        &progress,
    )
    .await;
    let sent = match sent {
        Ok(sent) => sent,
        // Stored bytes never change: S3 refuses a conditional `PUT`
        // (`If-None-Match: *`) to a stored object with 412, the embedded store any
        // `PUT` to one with 409.
        Err(CliError::Api(ApiError::Status { status: 412, .. })) => {
            progress.finish();
            return Ok(true);
        }
        Err(CliError::Api(ApiError::Status {
            status: 409,
            message,
            ..
        })) if message.starts_with(ALREADY_STORED) => {
            progress.finish();
            return Ok(true);
        }
        Err(err) => {
            progress.abandon();
            // S3 refuses bytes whose sha256 is not the presigned one (`400 BadDigest`),
            // and a file that shrank ends its body short: the file changed.
            return Err(file.explain(err).await);
        }
    };
    progress.finish();
    if sent != file.sha256 {
        return Err(CliError::FileChanged {
            path: file.path.clone(),
        });
    }
    Ok(false)
}

/// How the embedded store's `409` for a `PUT` to a stored object begins (S3 answers
/// `409` to conditional `PUT`s that race, which must not pass for it).
const ALREADY_STORED: &str = "an object is already stored under this key";

/// A presign answer, and for an upload in parts the parts (with their sizes) the
/// server already holds.
struct Presigned {
    upload: PresignResponse,
    held: Vec<(CompletedPart, u64)>,
    /// An earlier run was handed this upload.
    replayed: bool,
}

/// A presigned upload for `file`, with an idempotency key derived from the release,
/// platform, name and digest: a re-run gets the same artifact id back, unless that
/// answer's URL has expired, in which case the next key in a chain (the same on every
/// run) gives a fresh one. A replayed upload in parts is resumed from its state on the
/// server (fresh URLs for the missing parts), or, when it is gone (aborted, swept),
/// replaced by the next key's; so is any upload in `gone` (ended under this run).
async fn presign(
    client: &ApiClient,
    release: &Release,
    file: &LocalFile,
    gone: &[String],
) -> Result<Presigned, CliError> {
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
        size: file.size,
        checksum: file.sha256.clone(),
    };
    let path = format!("/v1/releases/{}/artifacts/presign", release.id);
    for _ in 0..50 {
        let answer = client
            .post::<_, PresignResponse>(&path, &body, Some(&key))
            .await?;
        let upload = answer.body;
        let artifact_id = upload.artifact_id.clone();
        let ended = gone.contains(&artifact_id);
        let usable = !answer.replayed
            || (!ended
                && upload.multipart.is_none()
                && upload.expires_at > now() + EXPIRY_MARGIN_SECONDS);
        if usable {
            return Ok(Presigned {
                upload,
                held: Vec::new(),
                replayed: answer.replayed,
            });
        }
        if !ended
            && upload.multipart.is_some()
            && let Some(resumed) = resume(client, release, upload).await?
        {
            return Ok(resumed);
        }
        let mut chained = parts.to_vec();
        chained.extend(["after", artifact_id.as_str()]);
        key = keys::derive("presign", &chained);
    }
    Err(ApiError::Unexpected {
        status: 200,
        detail: "every presigned upload URL has already expired".to_owned(),
    }
    .into())
}

/// The replayed upload in parts `upload` as the server holds it now: the parts it has
/// (with an ETag to name them by) and fresh URLs for the rest; `None` when it is gone.
async fn resume(
    client: &ApiClient,
    release: &Release,
    mut upload: PresignResponse,
) -> Result<Option<Presigned>, CliError> {
    let path = upload_state_path(&release.id, &upload.artifact_id);
    let Some(state) = upload_state(client, &path).await? else {
        return Ok(None);
    };
    let Some(missing) = state.multipart else {
        return Ok(None);
    };
    let held = state
        .uploaded_parts
        .into_iter()
        .filter(|part| {
            !missing
                .parts
                .iter()
                .any(|m| m.part_number == part.part_number)
        })
        .filter_map(|part| {
            let etag = part.etag?;
            Some((
                CompletedPart {
                    part_number: part.part_number,
                    etag,
                },
                part.size,
            ))
        })
        .collect();
    upload.multipart = Some(missing);
    // No expiry when no part is missing: no URL is needed then.
    upload.expires_at = state.expires_at.unwrap_or(upload.expires_at);
    Ok(Some(Presigned {
        upload,
        held,
        replayed: true,
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The server's registration refusals, as crates/releasy-domain words them: only a
    /// stored object of another size or sha256 means the file changed during its
    /// upload; none at all is the server's to explain.
    #[test]
    fn registration_refusals_tell_another_object_from_none() {
        let refused = |message: &str| ApiError::Status {
            status: 400,
            code: "bad_request".to_owned(),
            message: message.to_owned(),
        };
        let other = [
            "checksum does not match the stored object",
            "size 4096 does not match the stored object (4095 bytes)",
        ];
        for message in other {
            assert!(is_other_object(message), "{message}");
            assert!(not_stored(&refused(message)), "{message}");
        }
        let none = "object not found in storage: upload it to the presigned URL first";
        assert!(!is_other_object(none));
        assert!(not_stored(&refused(none)));
        assert!(!not_stored(&refused("size must be > 0")));
        assert!(!not_stored(&ApiError::Status {
            status: 409,
            code: "conflict".to_owned(),
            message: "checksum does not match the stored object".to_owned(),
        }));
    }

    #[test]
    fn a_file_is_found_by_name_and_platform_in_any_case() {
        let sha = "ab".repeat(32);
        let file = LocalFile {
            path: "dist/Agent.tgz".into(),
            file_name: "Agent.tgz".to_owned(),
            platform: "Linux-x86_64".to_owned(),
            size: 10,
            sha256: sha.clone(),
            modified: None,
        };
        let held = |id: &str, platform: &str, checksum: &str, verification: Option<&str>| {
            ArtifactSummary {
                id: id.to_owned(),
                object_key: format!("releases/agent/1.0.0/linux-x86_64/{id}/agent.tgz"),
                checksum: checksum.to_owned(),
                size: 10,
                platform: platform.to_owned(),
                verification: verification.map(str::to_owned),
                ..ArtifactSummary::default()
            }
        };
        assert!(matches!(slot_of(&[], &file), Slot::Free));
        let same = [held(
            "a",
            "linux-x86_64",
            &sha.to_uppercase(),
            Some("verified"),
        )];
        assert!(matches!(slot_of(&same, &file), Slot::Registered(a) if a.id == "a"));
        let pending = [held("p", "LINUX-X86_64", &sha, Some("pending"))];
        assert!(matches!(slot_of(&pending, &file), Slot::Registered(a) if a.id == "p"));
        let failed = [held("f", "linux-x86_64", &sha, Some("failed"))];
        assert!(matches!(slot_of(&failed, &file), Slot::Failed(a) if a.id == "f"));
        let twice = [
            held("f", "linux-x86_64", &sha, Some("failed")),
            held("v", "Linux-x86_64", &sha, Some("verified")),
        ];
        assert!(matches!(slot_of(&twice, &file), Slot::Registered(a) if a.id == "v"));
        let other = [held("o", "linux-x86_64", &"cd".repeat(32), None)];
        assert!(matches!(slot_of(&other, &file), Slot::Taken(a) if a.id == "o"));
        let elsewhere = [held("w", "windows-x86_64", &sha, None)];
        assert!(matches!(slot_of(&elsewhere, &file), Slot::Free));
    }

    #[test]
    fn registration_waits_longer_for_larger_files() {
        assert_eq!(registration_timeout(0), crate::api::API_TIMEOUT);
        let six_gib = 6 * 1024 * 1024 * 1024;
        assert_eq!(
            registration_timeout(six_gib),
            crate::api::API_TIMEOUT + Duration::from_secs(614)
        );
    }

    #[test]
    fn only_an_existing_artifact_counts_as_registered() {
        assert_eq!(
            RegistrationConflict::of("artifact already exists"),
            RegistrationConflict::AlreadyRegistered
        );
        assert_eq!(
            RegistrationConflict::of("the upload was aborted or has expired: presign it again"),
            RegistrationConflict::UploadGone
        );
        for failure in ["release is immutable", "release status changed, retry", ""] {
            assert_eq!(
                RegistrationConflict::of(failure),
                RegistrationConflict::Other,
                "{failure}"
            );
        }
    }
}
