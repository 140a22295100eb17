//! `/live`, `/ready`, `/health`: each answers `HEAD` too (health checkers and load
//! balancers often probe with it), the same status without the body.

use actix_web::{HttpResponse, route, web};

use crate::dto::{ErrorBody, HealthResponse};
use crate::error::ApiError;
use crate::state::AppState;

/// The process is running.
#[utoipa::path(get, path = "/live", tag = "health", responses((status = 200, body = HealthResponse)))]
#[route("/live", method = "GET", method = "HEAD")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok" })
}

/// The database answers.
#[utoipa::path(get, path = "/ready", tag = "health", responses((status = 200, body = HealthResponse), (status = 503, body = ErrorBody)))]
#[route("/ready", method = "GET", method = "HEAD")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    database_health(&state).await
}

/// Same as `/ready`.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = HealthResponse), (status = 503, body = ErrorBody)))]
#[route("/health", method = "GET", method = "HEAD")]
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    database_health(&state).await
}

/// 200 when the database answers; otherwise the contract's error body, 503
/// `service_unavailable` (as every other error), with the cause logged.
async fn database_health(state: &AppState) -> Result<HttpResponse, ApiError> {
    state
        .services
        .health
        .ping()
        .await
        .map_err(|err| ApiError::unavailable(&err))?;
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}
