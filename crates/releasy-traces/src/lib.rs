//! Releasy's OpenTelemetry traces (`RELEASY_OTLP_ENDPOINT`), on
//! [tracing-opentelemetry](https://docs.rs/tracing-opentelemetry) and the OTLP/HTTP
//! exporter of [opentelemetry-otlp](https://docs.rs/opentelemetry-otlp).
//!
//! The spans themselves are `tracing` spans, opened where the work happens:
//!
//! - each request, by the HTTP layer (`releasy-http`), joined to the caller's trace
//!   when it sent a W3C `traceparent`;
//! - each SQL statement, by the database adapter (`releasy_store_diesel::trace_queries`);
//! - each object-store call, by [`SpanPerCall`] (an observer of the domain's
//!   [`ObservedObjectStore`](releasy_domain::ports::ObservedObjectStore)).
//!
//! [`TraceExport`] turns the spans of Releasy's crates into OpenTelemetry spans (its
//! [`layer`](TraceExport::layer)) and sends them in batches, in the OTLP protobuf
//! encoding, to `{endpoint}/v1/traces`. The standard `OTEL_*` variables tune it:
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_TRACES_SAMPLER` (default: follow the caller's sampling decision, sample every
//! root) and `OTEL_BSP_*` for the batches.
//!
//! Feature `test-collector`: `test_collector::TestCollector`, an OTLP/HTTP collector
//! on loopback for tests of what gets exported.

mod export;
mod http_client;
mod object_store;
#[cfg(feature = "test-collector")]
pub mod test_collector;

pub use export::{TraceExport, TraceExportError, split_credentials, traces_url};
pub use object_store::SpanPerCall;
