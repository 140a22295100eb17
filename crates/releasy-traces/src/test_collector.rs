//! An OTLP/HTTP collector on loopback, for tests of what gets exported (feature
//! `test-collector`): `POST /v1/traces` keeps each export's content type and body and
//! answers `200`.

#![allow(
    clippy::expect_used,
    reason = "test support: a collector that cannot start fails the test loudly"
)]

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

/// The OTLP types a test reads the exports with.
pub use opentelemetry_proto::tonic as proto;

/// One export as it arrived.
#[derive(Clone, Debug)]
pub struct ReceivedExport {
    pub content_type: String,
    /// The `Authorization` header, if sent.
    pub authorization: Option<String>,
    pub body: web::Bytes,
}

/// A running collector; [`stop`](Self::stop) it before reading the exports that a
/// shutdown sends last.
pub struct TestCollector {
    url: String,
    received: Arc<Mutex<Vec<ReceivedExport>>>,
    handle: ServerHandle,
}

impl std::fmt::Debug for TestCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCollector")
            .field("url", &self.url)
            .field("exports", &lock(&self.received).len())
            .finish_non_exhaustive()
    }
}

impl TestCollector {
    /// Starts on a free loopback port, on the calling tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    #[must_use]
    pub fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let stored = received.clone();
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let server = HttpServer::new(move || {
            let stored = stored.clone();
            App::new().route(
                "/v1/traces",
                web::post().to(move |request: HttpRequest, body: web::Bytes| {
                    let stored = stored.clone();
                    async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|value| value.to_str().ok())
                                .map(str::to_owned)
                        };
                        let content_type = header("content-type").unwrap_or_default();
                        let authorization = header("authorization");
                        lock(&stored).push(ReceivedExport {
                            content_type,
                            authorization,
                            body,
                        });
                        HttpResponse::Ok()
                            .content_type("application/x-protobuf")
                            .finish()
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("the collector listens")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://{addr}"),
            received,
            handle,
        }
    }

    /// The endpoint to export to (`RELEASY_OTLP_ENDPOINT`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every export received so far.
    #[must_use]
    pub fn exports(&self) -> Vec<ReceivedExport> {
        lock(&self.received).clone()
    }

    /// Every export, decoded.
    ///
    /// # Panics
    /// When an export is not an OTLP protobuf trace export.
    #[must_use]
    pub fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.exports()
            .iter()
            .map(|export| {
                ExportTraceServiceRequest::decode(export.body.as_ref())
                    .expect("an OTLP protobuf trace export")
            })
            .collect()
    }

    /// Every span of every export, in the order they arrived.
    #[must_use]
    pub fn spans(&self) -> Vec<Span> {
        self.requests()
            .into_iter()
            .flat_map(|request| request.resource_spans)
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans)
            .collect()
    }

    /// Every byte received, for searches such as the one for secrets.
    #[must_use]
    pub fn raw(&self) -> Vec<u8> {
        self.exports()
            .iter()
            .flat_map(|export| export.body.iter().copied())
            .collect()
    }

    /// Stops accepting exports; those received stay readable.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// The exports, whether or not a panicking test thread poisoned the lock.
fn lock(received: &Mutex<Vec<ReceivedExport>>) -> std::sync::MutexGuard<'_, Vec<ReceivedExport>> {
    received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
