//! A request's place in a distributed trace: joined to the trace its caller sent in a
//! W3C `traceparent` header, and, when traces are exported (`RELEASY_OTLP_ENDPOINT`),
//! named `{method} {route}` as a server span with the HTTP attributes.

use actix_web::http::header::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Status, TraceContextExt, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header of the caller's trace.
const TRACEPARENT: &str = "traceparent";

/// Request headers as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Where a request stands in a trace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestTrace {
    /// Whether its span is exported.
    exported: bool,
    /// The trace its log lines name: its own when exported, else its caller's.
    pub(crate) trace_id: Option<TraceId>,
}

/// Joins `span` (a request's, declaring the empty fields `otel.name` and `otel.kind`)
/// to the caller's trace. Without a `traceparent` and without an exporter, this costs a
/// header lookup and one check for the exporter's layer.
pub(crate) fn join(span: &Span, headers: &HeaderMap, method: &str, route: &str) -> RequestTrace {
    let caller = headers
        .contains_key(TRACEPARENT)
        .then(|| TraceContextPropagator::new().extract(&Headers(headers)));
    let caller_trace = caller
        .as_ref()
        .map(|context| context.span().span_context().clone())
        .filter(|span| span.is_valid())
        .map(|span| span.trace_id());
    // Fails only when no exporter's layer sees the span: then there is nothing to name.
    if span.set_parent(caller.unwrap_or_default()).is_err() {
        return RequestTrace {
            exported: false,
            trace_id: caller_trace,
        };
    }
    // Before the span starts: its name and kind are fixed then.
    span.record("otel.name", format!("{method} {route}"));
    span.record("otel.kind", "server");
    span.set_attribute("http.request.method", method.to_owned());
    span.set_attribute("http.route", route.to_owned());
    let own = span.context().span().span_context().trace_id();
    RequestTrace {
        exported: true,
        trace_id: Some(own).filter(|id| *id != TraceId::INVALID),
    }
}

/// Records the answer's status on an exported span; a 5xx marks it failed (a 4xx is
/// the client's error, not the server's).
pub(crate) fn answered(span: &Span, trace: RequestTrace, status: u16) {
    if !trace.exported {
        return;
    }
    span.set_attribute("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.set_status(Status::error(""));
    }
}
