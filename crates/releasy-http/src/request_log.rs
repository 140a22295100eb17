//! One log line per request: method, route, status, latency and a request id (taken
//! from `x-request-id` when the caller sent a sane one, echoed in the response), and the
//! trace id when there is a trace (`trace_context`); and, when metrics are on, the
//! request counted and timed by route template and status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
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
    let mut response = match next.call(req).instrument(span.clone()).await {
        Ok(response) => response,
        // An error a layer below returned (a handler that panicked): its answer is
        // made here, so it carries the request id and has its log line like any other.
        // (It is not counted in the metrics: their registry travels with the request,
        // which the error no longer has.)
        Err(err) => {
            let mut answer = err.error_response();
            stamp_request_id(answer.headers_mut(), &request_id);
            let status = answer.status().as_u16();
            trace_context::answered(&span, trace, status);
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            span.in_scope(|| tracing::error!(status, latency_ms, "request failed"));
            return Err(InternalError::from_response(err, answer).into());
        }
    };
    stamp_request_id(response.headers_mut(), &request_id);
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

/// Answers with the request's id, as every answer does (it is printable ASCII, a
/// caller's checked when read, so it always makes a header value).
fn stamp_request_id(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
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

#[cfg(test)]
mod tests {
    use actix_web::{App, HttpResponse, middleware, test, web};

    use super::*;

    async fn panics() -> HttpResponse {
        panic!("a handler's bug");
    }

    /// A handler that panics answers 500 in the error shape, with the request id the
    /// caller sent: the one thing an operator needs to find its log line.
    #[actix_web::test]
    async fn a_handler_that_panics_answers_500_with_its_request_id() {
        let app = test::init_service(
            App::new()
                .route("/boom", web::get().to(panics))
                .wrap(middleware::from_fn(
                    crate::run_to_completion::run_to_completion,
                ))
                .wrap(middleware::from_fn(log_requests)),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/boom")
            .insert_header((REQUEST_ID_HEADER, "support-ticket-42"))
            .to_request();
        // The error travels up to the server, which sends the response it carries.
        let response = match test::try_call_service(&app, request).await {
            Ok(response) => response.into_parts().1.map_into_boxed_body(),
            Err(err) => err.error_response(),
        };
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers().get(REQUEST_ID_HEADER).unwrap(),
            "support-ticket-42"
        );
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal_error");
    }
}
