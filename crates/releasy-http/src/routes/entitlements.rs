//! `/v1/admin/customers/{customer_id}/entitlements`: list, grant, change, revoke; and
//! `/v1/admin/customers/{customer_id}/access`: why the customer may or may not have a
//! release.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use releasy_domain::entitlement::{
    EntitlementChanges, EntitlementScope, EntitlementWindow, Metadata, NewEntitlement,
};
use releasy_domain::release::{Product, Version, VersionRequirement};
use releasy_domain::{CustomerId, EntitlementId, Timestamp};

use crate::auth::Authorized;
use crate::auth::permissions::{
    CreateEntitlement, DeleteEntitlement, ExplainAccess, ListEntitlements, UpdateEntitlement,
};
use crate::dto::{
    AccessQuery, AccessResponse, CreateEntitlementRequest, DownloadQuotaBody, EntitlementListQuery,
    EntitlementListResponse, EntitlementResponse, ErrorBody, UpdateEntitlementRequest, non_empty,
    page_request, parse_id,
};
use crate::error::ApiError;
use crate::extract_errors::after_caller;
use crate::idempotency::idempotent;
use crate::json_body::Json;
use crate::state::AppState;

/// List a customer's entitlements, newest first.
#[utoipa::path(
    tag = "entitlements",
    params(("customer_id" = String, Path, description = "Customer UUID"), EntitlementListQuery),
    responses(
        (status = 200, body = EntitlementListResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/customers/{customer_id}/entitlements")]
pub async fn list_entitlements(
    _auth: Authorized<ListEntitlements>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Result<web::Query<EntitlementListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let customer = parse_id::<CustomerId>("customer_id", &path)?;
    let page = page_request(query.limit.as_ref(), query.offset.as_ref())?;
    let product = non_empty(query.product.as_ref());
    let entitlements = state
        .services
        .entitlements
        .list(customer, product, page)
        .await?;
    Ok(HttpResponse::Ok().json(EntitlementListResponse {
        entitlements: entitlements.into_iter().map(Into::into).collect(),
        limit: i64::from(page.limit.get()),
        offset: page.offset.get() as i64,
    }))
}

/// Grant a customer an entitlement to a product. Supports `Idempotency-Key`.
#[utoipa::path(
    tag = "entitlements",
    params(
        ("customer_id" = String, Path, description = "Customer UUID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe"),
    ),
    request_body = CreateEntitlementRequest,
    responses(
        (status = 200, body = EntitlementResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/admin/customers/{customer_id}/entitlements")]
pub async fn create_entitlement(
    auth: Authorized<CreateEntitlement>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Result<Json<CreateEntitlementRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let customer = parse_id::<CustomerId>("customer_id", &path)?;
    let new = NewEntitlement {
        product: Product::parse(&body.product)?,
        window: EntitlementWindow::new(
            Timestamp::from_unix_seconds(body.starts_at),
            body.ends_at.map(Timestamp::from_unix_seconds),
        )?,
        scope: EntitlementScope {
            channels: body
                .channels
                .as_ref()
                .map(EntitlementScope::parse_channels)
                .transpose()?,
            versions: body.versions.as_deref().map(parse_versions).transpose()?,
            perpetual_fallback: body.perpetual_fallback.unwrap_or(false),
        },
        metadata: body.metadata.clone().map(Metadata::parse).transpose()?,
        download_quota: body
            .download_quota
            .as_ref()
            .map(DownloadQuotaBody::parse)
            .transpose()?,
    };
    let entitlements = &state.services.entitlements;
    idempotent(
        &state,
        &req,
        &auth.operator.caller_id(),
        &*body,
        &auth.origin,
        async |origin| {
            let entitlement = entitlements.create(&origin, customer, new).await?;
            Ok(EntitlementResponse::from(entitlement))
        },
        async |origin| {
            let earlier = entitlements.find(customer, origin.new_id()).await?;
            Ok(earlier.map(EntitlementResponse::from))
        },
    )
    .await
}

/// Change an entitlement; `null` clears `ends_at`, `metadata`, `channels`, `versions`
/// or `download_quota`, and the merged result is validated as a whole.
#[utoipa::path(
    tag = "entitlements",
    params(
        ("customer_id" = String, Path, description = "Customer UUID"),
        ("entitlement_id" = String, Path, description = "Entitlement UUID"),
    ),
    request_body = UpdateEntitlementRequest,
    responses(
        (status = 200, body = EntitlementResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody,
            description = "the entitlement changed while the change was applied: try again"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[patch("/v1/admin/customers/{customer_id}/entitlements/{entitlement_id}")]
pub async fn update_entitlement(
    auth: Authorized<UpdateEntitlement>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: Result<Json<UpdateEntitlementRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let customer = parse_id::<CustomerId>("customer_id", &path.0)?;
    let id = parse_id::<EntitlementId>("entitlement_id", &path.1)?;
    let body = body.into_inner();
    let changes = EntitlementChanges {
        product: body.product.as_deref().map(Product::parse).transpose()?,
        starts_at: body.starts_at.map(Timestamp::from_unix_seconds),
        ends_at: body
            .ends_at
            .map(|end| end.map(Timestamp::from_unix_seconds)),
        metadata: body
            .metadata
            .map(|m| m.map(Metadata::parse).transpose())
            .transpose()?,
        channels: body
            .channels
            .map(|cs| cs.map(EntitlementScope::parse_channels).transpose())
            .transpose()?,
        versions: body
            .versions
            .map(|v| v.as_deref().map(parse_versions).transpose())
            .transpose()?,
        perpetual_fallback: body.perpetual_fallback,
        download_quota: body
            .download_quota
            .map(|q| q.as_ref().map(DownloadQuotaBody::parse).transpose())
            .transpose()?,
    };
    let entitlement = state
        .services
        .entitlements
        .update(&auth.origin, customer, id, changes)
        .await?;
    Ok(HttpResponse::Ok().json(EntitlementResponse::from(entitlement)))
}

/// Revoke an entitlement.
#[utoipa::path(
    tag = "entitlements",
    params(
        ("customer_id" = String, Path, description = "Customer UUID"),
        ("entitlement_id" = String, Path, description = "Entitlement UUID"),
    ),
    responses(
        (status = 204, description = "Entitlement deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[delete("/v1/admin/customers/{customer_id}/entitlements/{entitlement_id}")]
pub async fn delete_entitlement(
    auth: Authorized<DeleteEntitlement>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let customer = parse_id::<CustomerId>("customer_id", &path.0)?;
    let id = parse_id::<EntitlementId>("entitlement_id", &path.1)?;
    state
        .services
        .entitlements
        .delete(&auth.origin, customer, id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An entitlement's `versions`: a semver requirement.
fn parse_versions(text: &str) -> Result<VersionRequirement, ApiError> {
    Ok(VersionRequirement::parse("versions", text)?)
}

/// Explain whether a customer may have one release now: `allowed`, and the reasons
/// (the customer's suspension, the release's status, then each entitlement to the
/// product: its window, perpetual fallback, channels and versions).
#[utoipa::path(
    tag = "entitlements",
    params(("customer_id" = String, Path, description = "Customer UUID"), AccessQuery),
    responses(
        (status = 200, body = AccessResponse),
        (status = 400, body = ErrorBody, description = "`product` or `version` missing or invalid"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`customer not found` or `release not found`"),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/customers/{customer_id}/access")]
pub async fn explain_access(
    _auth: Authorized<ExplainAccess>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Result<web::Query<AccessQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let customer = parse_id::<CustomerId>("customer_id", &path)?;
    let product = Product::parse(query.product.as_deref().unwrap_or_default())?;
    let version = Version::parse(query.version.as_deref().unwrap_or_default())?;
    let explanation = state
        .services
        .entitlements
        .explain(customer, &product, &version)
        .await?;
    Ok(HttpResponse::Ok().json(AccessResponse::new(customer.to_string(), explanation)))
}
