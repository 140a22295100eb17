//! A span for each object-store call.

use releasy_domain::ports::StoreCallObserver;

/// Opens a span (`object_store {operation}`, kind client) for each call of an
/// [`ObservedObjectStore`](releasy_domain::ports::ObservedObjectStore), marked as an
/// error when the store failed.
#[derive(Debug, Clone, Copy)]
pub struct SpanPerCall {
    /// `s3` or `filesystem`.
    store: &'static str,
}

impl SpanPerCall {
    /// Spans for the calls of `store` (`s3`, `filesystem`).
    pub fn new(store: &'static str) -> Self {
        Self { store }
    }
}

impl StoreCallObserver for SpanPerCall {
    type Call = tracing::Span;

    fn started(&self, operation: &'static str) -> tracing::Span {
        tracing::info_span!(
            "object_store",
            otel.name = %format_args!("object_store {operation}"),
            otel.kind = "client",
            releasy.object_store.operation = operation,
            releasy.object_store.kind = self.store,
            otel.status_code = tracing::field::Empty,
        )
    }

    fn finished(&self, span: tracing::Span, ok: bool) {
        if !ok {
            span.record("otel.status_code", "error");
        }
    }
}
