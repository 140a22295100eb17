//! `/v1/admin/customers`: create, list, get, update.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use releasy_domain::CustomerId;
use releasy_domain::customer::{CustomerChanges, CustomerFilter, CustomerName, Plan};
use releasy_domain::pagination::{PageLimit, PageStart};

use crate::auth::Authorized;
use crate::auth::permissions::{CreateCustomer, GetCustomer, ListCustomers, UpdateCustomer};
use crate::dto::{
    CreateCustomerRequest, CustomerListQuery, CustomerListResponse, CustomerResponse, ErrorBody,
    UpdateCustomerRequest, non_empty, parse_id, parse_int,
};
use crate::error::ApiError;
use crate::extract_errors::after_caller;
use crate::idempotency::idempotent;
use crate::json_body::Json;
use crate::state::AppState;

/// Create a customer. Supports `Idempotency-Key`.
#[utoipa::path(
    tag = "customers",
    request_body = CreateCustomerRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 200, body = CustomerResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/admin/customers")]
pub async fn create_customer(
    auth: Authorized<CreateCustomer>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Result<Json<CreateCustomerRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let name = CustomerName::parse(&body.name)?;
    let plan = body
        .plan
        .as_deref()
        .map(Plan::parse_or_none)
        .transpose()?
        .flatten();
    let customers = &state.services.customers;
    idempotent(
        &state,
        &req,
        &auth.operator.caller_id(),
        &*body,
        &auth.origin,
        async |origin| {
            let customer = customers.create(&origin, name, plan).await?;
            Ok(CustomerResponse::from(customer))
        },
        async |origin| {
            let earlier = customers.find(origin.new_id()).await?;
            Ok(earlier.map(CustomerResponse::from))
        },
    )
    .await
}

/// List customers, newest first, by cursor (or offset, for older clients).
#[utoipa::path(
    tag = "customers",
    params(CustomerListQuery),
    responses(
        (status = 200, body = CustomerListResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/customers")]
pub async fn list_customers(
    _auth: Authorized<ListCustomers>,
    state: web::Data<AppState>,
    query: Result<web::Query<CustomerListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let limit = PageLimit::parse(parse_int("limit", query.limit.as_ref())?)?;
    let offset = parse_int("offset", query.offset.as_ref())?;
    let start = PageStart::parse(offset, non_empty(query.cursor.as_ref()))?;
    let filter = CustomerFilter {
        customer_id: non_empty(query.customer_id.as_ref())
            .map(|id| parse_id::<CustomerId>("customer_id", id))
            .transpose()?,
        name_contains: non_empty(query.name.as_ref()).map(str::to_owned),
        plan: non_empty(query.plan.as_ref()).map(str::to_owned),
    };
    let page = state
        .services
        .customers
        .list(&filter, limit, &start)
        .await?;
    Ok(HttpResponse::Ok().json(CustomerListResponse {
        customers: page.items.into_iter().map(Into::into).collect(),
        limit: i64::from(limit.get()),
        offset: match start {
            PageStart::Offset(offset) => offset.get() as i64,
            PageStart::After(_) => 0,
        },
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// Get a customer.
#[utoipa::path(
    tag = "customers",
    params(("customer_id" = String, Path, description = "Customer UUID")),
    responses(
        (status = 200, body = CustomerResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/customers/{customer_id}")]
pub async fn get_customer(
    _auth: Authorized<GetCustomer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<CustomerId>("customer_id", &path)?;
    let customer = state.services.customers.get(id).await?;
    Ok(HttpResponse::Ok().json(CustomerResponse::from(customer)))
}

/// Change a customer's name or plan, or suspend or resume it.
#[utoipa::path(
    tag = "customers",
    params(("customer_id" = String, Path, description = "Customer UUID")),
    request_body = UpdateCustomerRequest,
    responses(
        (status = 200, body = CustomerResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[patch("/v1/admin/customers/{customer_id}")]
pub async fn update_customer(
    auth: Authorized<UpdateCustomer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<Json<UpdateCustomerRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let id = parse_id::<CustomerId>("customer_id", &path)?;
    let body = body.into_inner();
    let changes = CustomerChanges::new(
        body.name.as_deref().map(CustomerName::parse).transpose()?,
        // `null` or a blank plan removes it.
        body.plan
            .map(|plan| {
                plan.as_deref()
                    .map(Plan::parse_or_none)
                    .transpose()
                    .map(Option::flatten)
            })
            .transpose()?,
        body.suspended,
    )?;
    let customer = state
        .services
        .customers
        .update(&auth.origin, id, changes)
        .await?;
    Ok(HttpResponse::Ok().json(CustomerResponse::from(customer)))
}
