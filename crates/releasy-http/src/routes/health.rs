//! `/live`, `/ready`, `/health`.

use actix_web::{HttpResponse, get, web};

use crate::dto::HealthResponse;
use crate::state::AppState;

/// The process is running.
#[utoipa::path(tag = "health", responses((status = 200, body = HealthResponse)))]
#[get("/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok" })
}

/// The database answers.
#[utoipa::path(tag = "health", responses((status = 200, body = HealthResponse), (status = 503, body = HealthResponse)))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    database_health(&state).await
}

/// Same as `/ready`.
#[utoipa::path(tag = "health", responses((status = 200, body = HealthResponse), (status = 503, body = HealthResponse)))]
#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    database_health(&state).await
}

async fn database_health(state: &AppState) -> HttpResponse {
    match state.services.health.ping().await {
        Ok(()) => HttpResponse::Ok().json(HealthResponse { status: "ok" }),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(HealthResponse {
                status: "unavailable",
            })
        }
    }
}
