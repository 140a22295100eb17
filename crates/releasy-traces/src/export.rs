//! The exporter: a tracer provider sending batches over OTLP/HTTP, and the layer that
//! feeds it Releasy's spans.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

use crate::http_client::ReqwestOnTokio;

/// How long one export may take before it is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutting down waits for the last batch to be sent.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why traces cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum TraceExportError {
    /// The exporter could not be built (an endpoint that is not a URL, say).
    #[error("cannot build the OTLP trace exporter")]
    Build(#[source] opentelemetry_otlp::ExporterBuildError),
    /// The HTTP client could not be built.
    #[error("cannot build the OTLP HTTP client")]
    Client(#[source] reqwest::Error),
    /// Not called inside a tokio runtime, which sends the batches.
    #[error("traces are exported from inside a tokio runtime")]
    NoRuntime(#[source] tokio::runtime::TryCurrentError),
}

/// Where the spans of `endpoint` go: the OTLP/HTTP path for traces under it, as for
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (an endpoint that already ends in `/v1/traces` is
/// taken as it is).
///
/// ```
/// use releasy_traces::traces_url;
///
/// assert_eq!(traces_url("http://collector:4318"), "http://collector:4318/v1/traces");
/// assert_eq!(traces_url("http://collector:4318/"), "http://collector:4318/v1/traces");
/// assert_eq!(traces_url("https://otel.example.com/v1/traces"), "https://otel.example.com/v1/traces");
/// ```
pub fn traces_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    }
}

/// `endpoint` without the user and password it may carry (`https://user:pass@host`),
/// and those as the `Authorization: Basic` value to send instead: a URL's credentials
/// are not sent by the HTTP client, and the exporter logs the URL of a failed export.
///
/// ```
/// use releasy_traces::split_credentials;
///
/// assert_eq!(
///     split_credentials("https://ci:s%40cret@otel.example.com/"),
///     ("https://otel.example.com/".to_owned(), Some("Basic Y2k6c0BjcmV0".to_owned()))
/// );
/// assert_eq!(split_credentials("http://collector:4318"), ("http://collector:4318".to_owned(), None));
/// ```
pub fn split_credentials(endpoint: &str) -> (String, Option<String>) {
    use base64::Engine as _;

    let Ok(mut url) = reqwest::Url::parse(endpoint) else {
        return (endpoint.to_owned(), None);
    };
    if url.username().is_empty() && url.password().is_none() {
        return (endpoint.to_owned(), None);
    }
    let decoded = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = format!(
        "{}:{}",
        decoded(url.username()),
        decoded(url.password().unwrap_or_default())
    );
    // Both setters refuse only URLs that cannot have a host, which `url` has.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    (url.to_string(), Some(authorization))
}

/// Spans sent, in batches, to an OTLP/HTTP endpoint.
#[derive(Debug)]
pub struct TraceExport {
    provider: SdkTracerProvider,
}

impl TraceExport {
    /// Starts sending to `endpoint` (a collector's OTLP/HTTP base URL, port 4318 by
    /// convention) as the service `releasy-server` (or `OTEL_SERVICE_NAME`) at
    /// `version`. Call it inside the tokio runtime that will send the batches.
    ///
    /// # Errors
    /// [`TraceExportError`] when the exporter or its client cannot be built, or no
    /// tokio runtime runs.
    pub fn start(endpoint: &str, version: &'static str) -> Result<Self, TraceExportError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(TraceExportError::NoRuntime)?;
        let client = ReqwestOnTokio::new(runtime, EXPORT_TIMEOUT)?;
        let (endpoint, authorization) = split_credentials(endpoint);
        let exporter = SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url(&endpoint))
            .with_headers(
                authorization
                    .map(|value| ("authorization".to_owned(), value))
                    .into_iter()
                    .collect(),
            )
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(TraceExportError::Build)?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(version))
            .build();
        Ok(Self { provider })
    }

    /// The layer that turns the spans of Releasy's crates (`releasy*` targets, at `info`
    /// and above) into OpenTelemetry spans for this exporter. The libraries' own spans
    /// stay out, the exporter's HTTP client's above all (it would trace itself).
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("releasy"))
            .with_filter(Targets::new().with_target("releasy", tracing::Level::INFO))
    }

    /// Sends the spans still buffered and stops; waits at most five seconds.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let stopped =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
                .await;
        match stopped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "the last spans could not be exported"),
            Err(err) => tracing::warn!(error = %err, "the trace exporter did not stop cleanly"),
        }
    }
}

/// `service.name` `releasy-server` unless `OTEL_SERVICE_NAME` (or
/// `OTEL_RESOURCE_ATTRIBUTES`) names it, and `service.version`.
fn resource(version: &'static str) -> Resource {
    let named_by_environment = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES")
            .is_ok_and(|attributes| attributes.contains("service.name="));
    let builder = Resource::builder()
        .with_attribute(opentelemetry::KeyValue::new("service.version", version));
    if named_by_environment {
        builder.build()
    } else {
        builder.with_service_name("releasy-server").build()
    }
}
