//! `GET /v1/admin/audit-events`.

use actix_web::{HttpResponse, get, web};
use releasy_domain::audit::AuditFilter;
use releasy_domain::{CustomerId, Timestamp};

use crate::auth::Authorized;
use crate::auth::permissions::ReadAuditEvents;
use crate::dto::{
    AuditEventListQuery, AuditEventListResponse, ErrorBody, non_empty, page_request, parse_id,
    parse_int,
};
use crate::error::ApiError;
use crate::extract_errors::after_caller;
use crate::state::AppState;

/// List audit events, newest first; time bounds are inclusive. Every change (customers,
/// keys, entitlements, releases, artifacts, download tokens) is an event, written with
/// the change; `releasy-server audit verify` checks the hash chain linking them.
#[utoipa::path(
    tag = "audit",
    params(AuditEventListQuery),
    responses(
        (status = 200, body = AuditEventListResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/audit-events")]
pub async fn list_audit_events(
    _auth: Authorized<ReadAuditEvents>,
    state: web::Data<AppState>,
    query: Result<web::Query<AuditEventListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let page = page_request(query.limit.as_ref(), query.offset.as_ref())?;
    let filter = AuditFilter {
        customer_id: non_empty(query.customer_id.as_ref())
            .map(|id| parse_id::<CustomerId>("customer_id", id))
            .transpose()?,
        actor: non_empty(query.actor.as_ref()).map(str::to_owned),
        event: non_empty(query.event.as_ref()).map(str::to_owned),
        created_from: parse_int("created_from", query.created_from.as_ref())?
            .map(|seconds| Timestamp::from_client("created_from", seconds))
            .transpose()?,
        created_to: parse_int("created_to", query.created_to.as_ref())?
            .map(|seconds| Timestamp::from_client("created_to", seconds))
            .transpose()?,
    };
    let events = state.services.audit.list(&filter, page).await?;
    Ok(HttpResponse::Ok().json(AuditEventListResponse {
        events: events.into_iter().map(Into::into).collect(),
        limit: i64::from(page.limit.get()),
        offset: page.offset.get() as i64,
    }))
}
