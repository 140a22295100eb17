//! `/v1/releases`: create, list, publish, unpublish, delete.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use releasy_domain::ReleaseId;
use releasy_domain::release::{Product, ReleaseQuery, ReleaseStatus, ReleaseViewer, Version};

use crate::auth::permissions::{
    CreateRelease, DeleteRelease, ListReleases, PublishRelease, ReleasesRead, UnpublishRelease,
};
use crate::auth::{Authorized, Caller, OperatorOrCustomer};
use crate::dto::{
    CreateReleaseRequest, ErrorBody, ReleaseListQuery, ReleaseListResponse, ReleaseResponse,
    non_empty, page_request, parse_id,
};
use crate::error::ApiError;
use crate::idempotency::idempotent;
use crate::json_body::Json;
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
    body: Json<CreateReleaseRequest>,
) -> Result<HttpResponse, ApiError> {
    let product = Product::parse(&body.product)?;
    let version = Version::parse(&body.version)?;
    idempotent(&state, &req, &auth.operator.caller_id(), &*body, async {
        let release = state.services.releases.create(product, version).await?;
        Ok(ReleaseResponse::from(release))
    })
    .await
}

/// List releases, newest first. Operators see every status; a customer key
/// (`releases:read`) sees only published releases of products it is entitled to now.
#[utoipa::path(
    tag = "releases",
    params(ReleaseListQuery),
    responses(
        (status = 200, body = ReleaseListResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []), ("api_key" = []))
)]
#[get("/v1/releases")]
pub async fn list_releases(
    auth: OperatorOrCustomer<ListReleases, ReleasesRead>,
    state: web::Data<AppState>,
    query: web::Query<ReleaseListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.limit.as_ref(), query.offset.as_ref())?;
    let include_artifacts = match non_empty(query.include_artifacts.as_ref()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "include_artifacts must be true or false",
            ));
        }
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
    };
    let viewer = match &auth.caller {
        Caller::Operator(_) => ReleaseViewer::Operator,
        Caller::Customer(key) => ReleaseViewer::Customer(key.customer_id),
    };
    let releases = state
        .services
        .releases
        .list(viewer, &release_query, page)
        .await?;
    let body = state
        .release_json
        .page(
            releases,
            i64::from(page.limit.get()),
            page.offset.get() as i64,
        )
        .map_err(|err| ApiError::internal(&err))?;
    Ok(HttpResponse::Ok()
        .content_type(mime::APPLICATION_JSON)
        .body(body))
}

/// Publish a draft release.
#[utoipa::path(
    tag = "releases",
    params(("release_id" = String, Path, description = "Release UUID")),
    responses(
        (status = 200, body = ReleaseResponse),
        (status = 400, body = ErrorBody, description = "release already published"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "release status changed, retry"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/releases/{release_id}/publish")]
pub async fn publish_release(
    _auth: Authorized<PublishRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let release = state.services.releases.publish(id).await?;
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
    _auth: Authorized<UnpublishRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let release = state.services.releases.unpublish(id).await?;
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
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[delete("/v1/releases/{release_id}")]
pub async fn delete_release(
    _auth: Authorized<DeleteRelease>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<ReleaseId>("release_id", &path)?;
    let deleted = state.services.releases.delete(id).await?;
    for (key, err) in &deleted.orphaned_objects {
        tracing::warn!(object_key = key.as_str(), error = %err, "could not remove a deleted release's object; it is orphaned in storage");
    }
    Ok(HttpResponse::NoContent().finish())
}
