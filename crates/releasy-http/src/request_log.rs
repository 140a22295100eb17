//! One log line per request: method, route, status, latency and a request id (taken
//! from `x-request-id` when the caller sent a sane one, echoed in the response), and the
//! trace id when there is a trace (`trace_context`); and, when metrics are on, the
//! request counted and timed by route template and status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use crate::AppState;
use crate::trace_context;

/// The request-id header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The middleware function (wrap it with `actix_web::middleware::from_fn`).
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    // The route pattern, not the path: paths can carry secrets (download tokens).
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let method = method_name(req.method());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        trace_id = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
    );
    let trace = trace_context::join(&span, req.headers(), method, &route);
    if let Some(trace_id) = trace.trace_id {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    // Handlers record it with the changes they make (`crate::origin`).
    req.extensions_mut()
        .insert(crate::origin::RequestId(request_id.clone()));
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let status = response.status().as_u16();
    let took = started.elapsed();
    trace_context::answered(&span, trace, status);
    // Borrowed from the request the response carries: no shared reference count is
    // touched per request.
    if let Some(metrics) = response
        .request()
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.metrics.as_deref())
    {
        metrics.http().request(method, route, status, took);
    }
    let latency_ms = took.as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, latency_ms, "request completed"));
    Ok(response)
}

/// The request's method as logs, traces and metrics record it: one the API answers, or
/// `_OTHER` (as OpenTelemetry names the rest). Any token is a valid method, and each
/// distinct one would be a metric series kept for the process's life.
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "_OTHER",
    }
}
