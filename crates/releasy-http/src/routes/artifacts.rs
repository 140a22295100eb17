//! `/v1/releases/{release_id}/artifacts`: presign an upload, register the artifact, and
//! read or abort an unfinished upload.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use releasy_domain::artifact::{
    ArtifactSize, ArtifactTarget, Checksum, CompletedPart, Filename, PartNumber, Platform,
    PresignUpload, RegisterArtifact, TargetLabel,
};
use releasy_domain::{ArtifactId, ReleaseId, ValidationError};

use crate::auth::Authorized;
use crate::auth::permissions::{PresignArtifact, RegisterArtifact as RegisterArtifactAction};
use crate::dto::{
    ArtifactResponse, CompletedPartDto, ErrorBody, PresignArtifactRequest, PresignArtifactResponse,
    RegisterArtifactRequest, UploadStateResponse, non_empty, parse_id,
};
use crate::error::ApiError;
use crate::idempotency::{idempotent, nothing_to_recover};
use crate::json_body::Json;
use crate::state::AppState;

/// Presign an upload: returns the artifact's id, its object key and a URL to `PUT` the
/// bytes to. With `size` above the part size (`RELEASY_ARTIFACT_PART_SIZE_BYTES`,
/// default 64 MiB) the response has `upload_url: null` and `multipart`: a presigned
/// `PUT` per part, to be named with their `ETag`s at registration. With `checksum`, a
/// store that can refuse other bytes is told to: send the `upload_headers` (on S3,
/// `x-amz-checksum-sha256`) with the `PUT`. Supports `Idempotency-Key`.
#[utoipa::path(
    tag = "artifacts",
    params(
        ("release_id" = String, Path, description = "Release UUID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe"),
    ),
    request_body = PresignArtifactRequest,
    responses(
        (status = 200, body = PresignArtifactResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "release is immutable"),
        (status = 503, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases/{release_id}/artifacts/presign")]
pub async fn presign_artifact(
    auth: Authorized<PresignArtifact>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Result<Json<PresignArtifactRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let release_id = parse_id::<ReleaseId>("release_id", &path)?;
    let request = PresignUpload {
        filename: Filename::parse(&body.filename)?,
        platform: Platform::parse(&body.platform)?,
        size: body.size.map(ArtifactSize::parse).transpose()?,
        checksum: body.checksum.as_deref().map(Checksum::parse).transpose()?,
    };
    // A presign run again hands out another upload; the first one's is swept.
    idempotent(
        &state,
        &req,
        &auth.operator.caller_id(),
        &*body,
        &auth.origin,
        async |_| {
            let upload = state
                .services
                .artifacts
                .presign_upload(release_id, request)
                .await?;
            Ok(PresignArtifactResponse::from(upload))
        },
        nothing_to_recover,
    )
    .await
}

/// Register an uploaded artifact. An upload in parts is completed first from `parts`.
/// The object must exist in storage with the declared size and SHA-256 (`checksum`);
/// an object of another size or digest is deleted and the upload is over, as if
/// aborted (400 `checksum does not match the stored object`; presign again). The digest is the one the store
/// recorded as it received the bytes, else the server reads the object; above
/// `RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES` (default 1 GiB) that read happens in the
/// background: the artifact answers `verification: "pending"` and cannot be downloaded
/// (403 `artifact not verified`) until it is `verified`. Supports `Idempotency-Key`.
#[utoipa::path(
    tag = "artifacts",
    params(
        ("release_id" = String, Path, description = "Release UUID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe"),
    ),
    request_body = RegisterArtifactRequest,
    responses(
        (status = 200, body = ArtifactResponse),
        (status = 400, body = ErrorBody, description = "invalid field, object_key does not match release or platform, size or checksum not the ones declared at presign, parts missing or not matching the upload, object not found in storage, size does not match the stored object, or checksum does not match the stored object"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "release not found"),
        (status = 409, body = ErrorBody, description = "artifact already exists, the upload was aborted, swept, refused earlier or presigned for another release, the stored object kept changing while it was checked (register again), or release is immutable"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases/{release_id}/artifacts")]
pub async fn register_artifact(
    auth: Authorized<RegisterArtifactAction>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Result<Json<RegisterArtifactRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let release_id = parse_id::<ReleaseId>("release_id", &path)?;
    let request = RegisterArtifact {
        artifact_id: parse_id::<ArtifactId>("artifact_id", &body.artifact_id)?,
        object_key: body.object_key.clone(),
        checksum: Checksum::parse(&body.checksum)?,
        size: ArtifactSize::parse(body.size)?,
        platform: Platform::parse(&body.platform)?,
        target: ArtifactTarget {
            os: label("os", body.os.as_ref())?,
            arch: label("arch", body.arch.as_ref())?,
            filetype: label("filetype", body.filetype.as_ref())?,
        },
        parts: body.parts.as_deref().map(completed_parts).transpose()?,
    };
    // The artifact id is the presign's, not derived from the request: a retry of a
    // registration cut off after its commit is answered `409 artifact already exists`
    // (nothing tells the first run's registration from another request's), and
    // `GET` shows the artifact.
    idempotent(
        &state,
        &req,
        &auth.operator.caller_id(),
        &*body,
        &auth.origin,
        async |origin| {
            let artifact = state
                .services
                .artifacts
                .register(&origin, release_id, request)
                .await?;
            Ok(ArtifactResponse::from(artifact))
        },
        nothing_to_recover,
    )
    .await
}

/// The parts named in a registration, checked one by one.
/// An optional `os`, `arch` or `filetype`; an empty one counts as not given.
fn label(
    field: &'static str,
    value: Option<&String>,
) -> Result<Option<TargetLabel>, ValidationError> {
    non_empty(value)
        .map(|v| TargetLabel::parse(field, v))
        .transpose()
}

fn completed_parts(parts: &[CompletedPartDto]) -> Result<Vec<CompletedPart>, ValidationError> {
    parts
        .iter()
        .map(|part| {
            Ok(CompletedPart {
                part_number: PartNumber::parse(part.part_number)?,
                etag: part.etag.clone(),
            })
        })
        .collect()
}

/// The state of an unfinished upload: the parts the store holds, and fresh URLs for the
/// rest (or for the single `PUT`), so an interrupted upload resumes without sending
/// again what arrived. Needs the role that presigns uploads.
#[utoipa::path(
    tag = "artifacts",
    params(
        ("release_id" = String, Path, description = "Release UUID"),
        ("artifact_id" = String, Path, description = "Artifact UUID from the presign step"),
    ),
    responses(
        (status = 200, body = UploadStateResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no unfinished upload for this artifact"),
        (status = 503, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/releases/{release_id}/artifacts/{artifact_id}/upload")]
pub async fn get_upload(
    _auth: Authorized<PresignArtifact>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (release_id, artifact_id) = upload_path(&path)?;
    let upload = state
        .services
        .artifacts
        .upload_state(release_id, artifact_id)
        .await?;
    Ok(HttpResponse::Ok().json(UploadStateResponse::from(upload)))
}

/// Abort an unfinished upload and delete what it stored; registering it afterwards is
/// 409, and bytes a URL of it stores later are deleted by the sweeper at the upload's
/// TTL. Needs the role that presigns uploads.
#[utoipa::path(
    tag = "artifacts",
    params(
        ("release_id" = String, Path, description = "Release UUID"),
        ("artifact_id" = String, Path, description = "Artifact UUID from the presign step"),
    ),
    responses(
        (status = 204, description = "aborted; its bytes are deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no unfinished upload for this artifact"),
        (status = 503, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[delete("/v1/releases/{release_id}/artifacts/{artifact_id}/upload")]
pub async fn abort_upload(
    auth: Authorized<PresignArtifact>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (release_id, artifact_id) = upload_path(&path)?;
    state
        .services
        .artifacts
        .abort_upload(&auth.origin, release_id, artifact_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn upload_path(path: &(String, String)) -> Result<(ReleaseId, ArtifactId), ApiError> {
    Ok((
        parse_id::<ReleaseId>("release_id", &path.0)?,
        parse_id::<ArtifactId>("artifact_id", &path.1)?,
    ))
}
