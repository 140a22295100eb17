//! `/live`, `/ready`, `/health`.

use actix_web::{HttpResponse, get, web};

use crate::dto::{ErrorBody, HealthResponse};
use crate::error::ApiError;
use crate::state::AppState;

/// The process is running.
#[utoipa::path(tag = "health", responses((status = 200, body = HealthResponse)))]
#[get("/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok" })
}

/// The database answers.
#[utoipa::path(tag = "health", responses((status = 200, body = HealthResponse), (status = 503, body = ErrorBody)))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    database_health(&state).await
}

/// Same as `/ready`.
#[utoipa::path(tag = "health", responses((status = 200, body = HealthResponse), (status = 503, body = ErrorBody)))]
#[get("/health")]
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
