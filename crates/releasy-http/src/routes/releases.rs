//! `/v1/releases`: create, list, publish, unpublish, yank, unyank, delete.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use releasy_domain::ReleaseId;
use releasy_domain::release::{
    Channel, NewRelease, Product, ReleaseChanges, ReleaseMetadata, ReleaseNotes, ReleaseOrder,
    ReleaseQuery, ReleaseStatus, Version, YankReason,
};

use crate::auth::permissions::{
    CreateRelease, DeleteRelease, ListReleases, PublishRelease, ReleasesRead, UnpublishRelease,
    UnyankRelease, UpdateRelease, YankRelease,
};
use crate::auth::{Authorized, OperatorOrCustomer};
use crate::dto::{
    CreateReleaseRequest, ErrorBody, ReleaseListQuery, ReleaseListResponse, ReleaseResponse,
    UpdateReleaseRequest, YankReleaseRequest, non_empty, page_request, parse_bool, parse_id,
};
use crate::error::ApiError;
use crate::etag::conditional_json;
use crate::extract_errors::after_caller;
use crate::idempotency::idempotent;
use crate::json_body::{Json, ReleaseBody};
use crate::state::AppState;

/// Create a draft release. Supports `Idempotency-Key`.
#[utoipa::path(
    tag = "releases",
    request_body = CreateReleaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 200, body = ReleaseResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "release already exists"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases")]
pub async fn create_release(
    auth: Authorized<CreateRelease>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Result<ReleaseBody<CreateReleaseRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let new = NewRelease {
        product: Product::parse(&body.product)?,
        version: Version::parse(&body.version)?,
        channel: body.channel.as_deref().map(Channel::parse).transpose()?,
        notes: body.notes.as_deref().map(ReleaseNotes::parse).transpose()?,
        metadata: body
            .metadata
            .as_ref()
            .map(ReleaseMetadata::parse)
            .transpose()?,
    };
    let releases = &state.services.releases;
    idempotent(
        &state,
        &req,
        &auth.operator.caller_id(),
        &*body,
        &auth.origin,
        async |origin| {
            let release = releases.create_release(&origin, new).await?;
            Ok(ReleaseResponse::from(release))
        },
        async |origin| {
            let earlier = releases.find(origin.new_id()).await?;
            Ok(earlier.map(ReleaseResponse::from))
        },
    )
    .await
}

/// List releases, newest first (or highest version first with `sort=version`).
/// Operators see every status; a customer key (`releases:read`) sees only published
/// releases of products it is entitled to now, and no yanked ones unless
/// `include_yanked=true`. Sends an `ETag`; `If-None-Match` with it gets 304.
#[utoipa::path(
    tag = "releases",
    params(ReleaseListQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier answer")),
    responses(
        (status = 200, body = ReleaseListResponse),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []), ("api_key" = []))
)]
#[get("/v1/releases")]
pub async fn list_releases(
    auth: OperatorOrCustomer<ListReleases, ReleasesRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Result<web::Query<ReleaseListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let page = page_request(query.limit.as_ref(), query.offset.as_ref())?;
    let include_artifacts =
        parse_bool("include_artifacts", query.include_artifacts.as_ref())?.unwrap_or(false);
    let order = match non_empty(query.sort.as_ref()) {
        None | Some("created") => ReleaseOrder::Newest,
        Some("version") => ReleaseOrder::Version,
        Some(_) => return Err(ApiError::bad_request("sort must be created or version")),
    };
    let release_query = ReleaseQuery {
        product: non_empty(query.product.as_ref())
            .map(Product::parse)
            .transpose()?,
        version: non_empty(query.version.as_ref())
            .map(Version::parse)
            .transpose()?,
        status: non_empty(query.status.as_ref())
            .map(ReleaseStatus::parse)
            .transpose()?,
        include_artifacts,
        channel: non_empty(query.channel.as_ref())
            .map(Channel::parse)
            .transpose()?,
        include_yanked: parse_bool("include_yanked", query.include_yanked.as_ref())?,
        order,
    };
    let releases = state
        .services
        .releases
        .list(auth.release_viewer(), &release_query, page)
        .await?;
    let body = state
        .release_json
        .page(
            releases,
            i64::from(page.limit.get()),
            page.offset.get() as i64,
        )
        .map_err(|err| ApiError::internal(&err))?;
    Ok(conditional_json(&req, body))
}

/// Publish a draft release.
#[utoipa::path(
    tag = "releases",
    params(("release_id" = String, Path, description = "Release UUID")),
    responses(
        (status = 200, body = ReleaseResponse),
        (status = 400, body = ErrorBody, description = "release already published"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "release status changed, retry; or, under the immutable-releases policy, `release has no artifacts` or `release has artifacts that are not verified`"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases/{release_id}/publish")]
pub async fn publish_release(
    auth: Authorized<PublishRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let release = state.services.releases.publish(&auth.origin, id).await?;
    Ok(HttpResponse::Ok().json(ReleaseResponse::from(release)))
}

/// Return a published release to draft.
#[utoipa::path(
    tag = "releases",
    params(("release_id" = String, Path, description = "Release UUID")),
    responses(
        (status = 200, body = ReleaseResponse),
        (status = 400, body = ErrorBody, description = "release already draft"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "release status changed, retry"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases/{release_id}/unpublish")]
pub async fn unpublish_release(
    auth: Authorized<UnpublishRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let release = state.services.releases.unpublish(&auth.origin, id).await?;
    Ok(HttpResponse::Ok().json(ReleaseResponse::from(release)))
}

/// Change a draft's channel, notes or metadata. A published release is not edited
/// (409 `release is not a draft`): unpublish it first.
#[utoipa::path(
    tag = "releases",
    params(("release_id" = String, Path, description = "Release UUID")),
    request_body = UpdateReleaseRequest,
    responses(
        (status = 200, body = ReleaseResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "release is not a draft, or release is immutable"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[patch("/v1/releases/{release_id}")]
pub async fn update_release(
    auth: Authorized<UpdateRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<ReleaseBody<UpdateReleaseRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let body = body.into_inner();
    let changes = ReleaseChanges {
        channel: body.channel.as_deref().map(Channel::parse).transpose()?,
        notes: body
            .notes
            .map(|notes| notes.as_deref().map(ReleaseNotes::parse).transpose())
            .transpose()?,
        metadata: body
            .metadata
            .map(|metadata| metadata.as_ref().map(ReleaseMetadata::parse).transpose())
            .transpose()?,
    };
    if changes.is_empty() {
        return Err(ApiError::bad_request(
            "at least one of channel, notes, metadata is required",
        ));
    }
    let release = state
        .services
        .releases
        .update(&auth.origin, id, &changes)
        .await?;
    Ok(HttpResponse::Ok().json(ReleaseResponse::from(release)))
}

/// Yank a release: `latest` and `upgrade` skip it and customer listings hide it, but
/// its record and files stay, and customers who ask for its artifacts still get
/// download tokens unless `block_downloads` is set.
#[utoipa::path(
    tag = "releases",
    params(("release_id" = String, Path, description = "Release UUID")),
    request_body = YankReleaseRequest,
    responses(
        (status = 200, body = ReleaseResponse),
        (status = 400, body = ErrorBody, description = "release already yanked"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases/{release_id}/yank")]
pub async fn yank_release(
    auth: Authorized<YankRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<Json<YankReleaseRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let reason = YankReason::parse(&body.reason)?;
    let release = state
        .services
        .releases
        .yank(&auth.origin, id, reason, body.block_downloads)
        .await?;
    Ok(HttpResponse::Ok().json(ReleaseResponse::from(release)))
}

/// Lift a release's yank.
#[utoipa::path(
    tag = "releases",
    params(("release_id" = String, Path, description = "Release UUID")),
    responses(
        (status = 200, body = ReleaseResponse),
        (status = 400, body = ErrorBody, description = "release not yanked"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases/{release_id}/unyank")]
pub async fn unyank_release(
    auth: Authorized<UnyankRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let release = state.services.releases.unyank(&auth.origin, id).await?;
    Ok(HttpResponse::Ok().json(ReleaseResponse::from(release)))
}

/// Delete a release with its artifacts and their download tokens; the artifacts'
/// stored objects are removed too.
#[utoipa::path(
    tag = "releases",
    params(("release_id" = String, Path, description = "Release UUID")),
    responses(
        (status = 204, description = "Release deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "release is immutable"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[delete("/v1/releases/{release_id}")]
pub async fn delete_release(
    auth: Authorized<DeleteRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let deleted = state.services.releases.delete(&auth.origin, id).await?;
    for (key, err) in &deleted.orphaned_objects {
        tracing::warn!(object_key = key.as_str(), error = %err, "could not remove a deleted release's object; it is orphaned in storage");
    }
    Ok(HttpResponse::NoContent().finish())
}
