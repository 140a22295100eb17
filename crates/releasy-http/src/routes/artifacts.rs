//! `/v1/releases/{release_id}/artifacts`: presign an upload, register the artifact.

use actix_web::{HttpRequest, HttpResponse, post, web};
use releasy_domain::artifact::{ArtifactSize, Checksum, Filename, Platform, RegisterArtifact};
use releasy_domain::{ArtifactId, ReleaseId};

use crate::auth::Authorized;
use crate::auth::permissions::{PresignArtifact, RegisterArtifact as RegisterArtifactAction};
use crate::dto::{
    ArtifactResponse, ErrorBody, PresignArtifactRequest, PresignArtifactResponse,
    RegisterArtifactRequest, parse_id,
};
use crate::error::ApiError;
use crate::idempotency::idempotent;
use crate::json_body::Json;
use crate::state::AppState;

/// Presign an upload: returns the artifact's id, its object key and a URL to `PUT` the
/// bytes to. Supports `Idempotency-Key`.
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
    body: Json<PresignArtifactRequest>,
) -> Result<HttpResponse, ApiError> {
    let release_id = parse_id::<ReleaseId>("release_id", &path)?;
    let filename = Filename::parse(&body.filename)?;
    let platform = Platform::parse(&body.platform)?;
    idempotent(&state, &req, &auth.operator.caller_id(), &*body, async {
        let upload = state
            .services
            .artifacts
            .presign(release_id, &filename, &platform)
            .await?;
        Ok(PresignArtifactResponse::from(upload))
    })
    .await
}

/// Register an uploaded artifact. The object must exist in storage with the declared
/// size and SHA-256 (`checksum`); an object of another size or digest is deleted, so
/// the upload can start over. Supports `Idempotency-Key`.
#[utoipa::path(
    tag = "artifacts",
    params(
        ("release_id" = String, Path, description = "Release UUID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe"),
    ),
    request_body = RegisterArtifactRequest,
    responses(
        (status = 200, body = ArtifactResponse),
        (status = 400, body = ErrorBody, description = "invalid field, object_key does not match release or platform, object not found in storage, size does not match the stored object, or checksum does not match the stored object"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "release not found"),
        (status = 409, body = ErrorBody, description = "artifact already exists"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases/{release_id}/artifacts")]
pub async fn register_artifact(
    auth: Authorized<RegisterArtifactAction>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<RegisterArtifactRequest>,
) -> Result<HttpResponse, ApiError> {
    let release_id = parse_id::<ReleaseId>("release_id", &path)?;
    let request = RegisterArtifact {
        artifact_id: parse_id::<ArtifactId>("artifact_id", &body.artifact_id)?,
        object_key: body.object_key.clone(),
        checksum: Checksum::parse(&body.checksum)?,
        size: ArtifactSize::parse(body.size)?,
        platform: Platform::parse(&body.platform)?,
    };
    idempotent(&state, &req, &auth.operator.caller_id(), &*body, async {
        let artifact = state
            .services
            .artifacts
            .register(release_id, request)
            .await?;
        Ok(ArtifactResponse::from(artifact))
    })
    .await
}
