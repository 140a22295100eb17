//! `/v1/admin/products`: the product list, and each product's release policy.

use actix_web::{HttpResponse, get, put, web};
use releasy_domain::release::Product;

use crate::auth::Authorized;
use crate::auth::permissions::{ListProducts, ReadProductPolicy, SetProductPolicy};
use crate::dto::{
    ErrorBody, ProductListQuery, ProductListResponse, ProductPolicyRequest, ProductPolicyResponse,
    ProductResponse, page_request,
};
use crate::error::ApiError;
use crate::extract_errors::after_caller;
use crate::json_body::Json;
use crate::state::AppState;

/// List products by name: every product with a release or a policy, with its release
/// counts, its latest stable version and its immutable-releases setting.
#[utoipa::path(
    tag = "products",
    params(ProductListQuery),
    responses(
        (status = 200, body = ProductListResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/products")]
pub async fn list_products(
    _auth: Authorized<ListProducts>,
    state: web::Data<AppState>,
    query: Result<web::Query<ProductListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let page = page_request(query.limit.as_ref(), query.offset.as_ref())?;
    let server_default = state.services.limits.immutable_releases;
    let products = state.services.products.list(page).await?;
    Ok(HttpResponse::Ok().json(ProductListResponse {
        products: products
            .into_iter()
            .map(|summary| ProductResponse::new(summary, server_default))
            .collect(),
        limit: i64::from(page.limit.get()),
        offset: page.offset.get() as i64,
    }))
}

/// A product's release policy: its own setting, the server's, and the result. Any
/// product name answers (a product without a policy has the server's).
#[utoipa::path(
    tag = "products",
    params(("product" = String, Path, description = "Product name (URL-encoded)")),
    responses(
        (status = 200, body = ProductPolicyResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/products/{product}/policy")]
pub async fn get_product_policy(
    _auth: Authorized<ReadProductPolicy>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let product = Product::parse(&path)?;
    let policy = state.services.products.policy(&product).await?;
    Ok(HttpResponse::Ok().json(ProductPolicyResponse::from(policy)))
}

/// Set a product's release policy. With `immutable_releases: true`, its releases are
/// sealed when published (publishing needs an artifact); a sealed release's artifacts
/// and record never change and it is never deleted (409 `release is immutable`), even
/// after it is unpublished or the policy is switched off again. Unpublish and yank stay
/// possible.
#[utoipa::path(
    tag = "products",
    params(("product" = String, Path, description = "Product name (URL-encoded)")),
    request_body = ProductPolicyRequest,
    responses(
        (status = 200, body = ProductPolicyResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[put("/v1/admin/products/{product}/policy")]
pub async fn set_product_policy(
    auth: Authorized<SetProductPolicy>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<Json<ProductPolicyRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let product = Product::parse(&path)?;
    let policy = state
        .services
        .products
        .set_policy(&auth.origin, &product, body.immutable_releases)
        .await?;
    Ok(HttpResponse::Ok().json(ProductPolicyResponse::from(policy)))
}
