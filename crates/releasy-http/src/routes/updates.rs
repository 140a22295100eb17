//! What updaters poll: `GET /v1/releases/latest` and `GET /v1/releases/upgrade`. Both
//! answers carry an `ETag` and answer `If-None-Match` with 304.

use actix_web::{HttpRequest, HttpResponse, get, web};
use releasy_domain::ValidationError;
use releasy_domain::artifact::Platform;
use releasy_domain::release::{Channel, NewestQuery, Product, ReleaseListing, VersionRequirement};

use crate::auth::OperatorOrCustomer;
use crate::auth::permissions::{ListReleases, ReleasesRead};
use crate::dto::{
    ErrorBody, LatestReleaseQuery, ReleaseResponse, UpgradeQuery, UpgradeResponse, non_empty,
};
use crate::error::ApiError;
use crate::etag::conditional_json;
use crate::extract_errors::after_caller;
use crate::state::AppState;

/// The newest release the caller may have on a channel: the highest version among the
/// published, non-yanked releases on `channel` (default `stable`) and the more stable
/// channels, with its artifacts (only those of `platform` when given, and then only
/// releases that have one).
#[utoipa::path(
    tag = "releases",
    params(LatestReleaseQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier answer")),
    responses(
        (status = 200, body = ReleaseResponse),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "release not found"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []), ("api_key" = []))
)]
#[get("/v1/releases/latest")]
pub async fn latest_release(
    auth: OperatorOrCustomer<ListReleases, ReleasesRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Result<web::Query<LatestReleaseQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let newest = NewestQuery {
        channel: channel(query.channel.as_ref())?,
        platform: platform(query.platform.as_ref())?,
        ..NewestQuery::stable(product(query.product.as_ref())?)
    };
    let found = state
        .services
        .releases
        .newest(auth.release_viewer(), &newest)
        .await?
        .ok_or_else(|| ApiError::not_found("release not found"))?;
    Ok(conditional_json(&req, render(&state, found)?))
}

/// Whether there is an upgrade from `current`: 200 with the newest release the caller
/// may have above it (on `channel` and the more stable ones, satisfying `constraint`,
/// with an artifact for `platform` when given), or 204 when `current` is the newest.
#[utoipa::path(
    tag = "releases",
    params(UpgradeQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier answer")),
    responses(
        (status = 200, body = UpgradeResponse),
        (status = 204, description = "No allowed release is above `current`"),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 400, body = ErrorBody, description = "current, constraint, channel or platform does not parse"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []), ("api_key" = []))
)]
#[get("/v1/releases/upgrade")]
pub async fn upgrade_check(
    auth: OperatorOrCustomer<ListReleases, ReleasesRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Result<web::Query<UpgradeQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let product = product(query.product.as_ref())?;
    let current_text = non_empty(query.current.as_ref())
        .ok_or_else(|| ValidationError::new("current", "is required"))?;
    let current = NewestQuery::parse_current(current_text)?;
    let newest = NewestQuery {
        channel: channel(query.channel.as_ref())?,
        platform: platform(query.platform.as_ref())?,
        above: Some(current),
        constraint: non_empty(query.constraint.as_ref())
            .map(|text| VersionRequirement::parse("constraint", text))
            .transpose()?,
        ..NewestQuery::stable(product)
    };
    let Some(found) = state
        .services
        .releases
        .newest(auth.release_viewer(), &newest)
        .await?
    else {
        return Ok(HttpResponse::NoContent().finish());
    };
    // `{"current":..,"release":..}`, the release's rendering reused from the memo.
    let release = render(&state, found)?;
    let current = serde_json::to_vec(current_text).map_err(|err| ApiError::internal(&err))?;
    let mut body = Vec::with_capacity(release.len() + current.len() + 24);
    body.extend_from_slice(b"{\"current\":");
    body.extend_from_slice(&current);
    body.extend_from_slice(b",\"release\":");
    body.extend_from_slice(&release);
    body.push(b'}');
    Ok(conditional_json(&req, body))
}

fn product(value: Option<&String>) -> Result<Product, ValidationError> {
    let name = non_empty(value).ok_or_else(|| ValidationError::new("product", "is required"))?;
    Product::parse(name)
}

fn platform(value: Option<&String>) -> Result<Option<Platform>, ValidationError> {
    non_empty(value)
        .map(NewestQuery::parse_platform)
        .transpose()
}

fn channel(value: Option<&String>) -> Result<Channel, ValidationError> {
    non_empty(value).map_or(Ok(Channel::Stable), Channel::parse)
}

fn render(state: &AppState, listing: ReleaseListing) -> Result<Vec<u8>, ApiError> {
    state
        .release_json
        .one(listing)
        .map_err(|err| ApiError::internal(&err))
}
