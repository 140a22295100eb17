//! `GET /metrics`: every metric in the OpenMetrics text format, for Prometheus.
//!
//! Not part of the OpenAPI document: it is an operator's endpoint, off unless
//! configured, and usually served on a listener of its own
//! (`RELEASY_METRICS_BIND_ADDR`) that clients never see.

use std::sync::Arc;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpResponse, web};
use releasy_metrics::Metrics;

/// The path Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";

/// Mounts `GET /metrics` on an app (the public one, or the metrics listener's).
pub fn metrics_routes(metrics: Arc<Metrics>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::from(metrics))
            .route(METRICS_PATH, web::get().to(scrape));
    }
}

async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, releasy_metrics::CONTENT_TYPE))
        .body(metrics.encode())
}
