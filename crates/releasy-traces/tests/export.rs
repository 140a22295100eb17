//! The exporter against a collector on loopback: spans of Releasy's crates arrive as
//! OTLP protobuf at `/v1/traces`, named and marked as the span-makers say; other
//! targets' spans stay out; shutting down sends what is still buffered.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message as _;
use releasy_domain::ArtifactId;
use releasy_domain::artifact::{Filename, ObjectKey, Platform, UploadId};
use releasy_domain::memory::InMemoryObjects;
use releasy_domain::ports::{ObjectStore, ObservedObjectStore};
use releasy_domain::release::{Product, Version};
use releasy_traces::{SpanPerCall, TraceExport};
use tracing_subscriber::layer::SubscriberExt as _;

type Bodies = Arc<Mutex<Vec<(String, web::Bytes)>>>;

/// A collector on loopback storing each export's content type and body.
fn start_collector() -> (String, Bodies) {
    let bodies = Bodies::default();
    let stored = bodies.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        let stored = stored.clone();
        App::new().route(
            "/v1/traces",
            web::post().to(move |req: actix_web::HttpRequest, body: web::Bytes| {
                let stored = stored.clone();
                async move {
                    let content_type = req
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    stored.lock().unwrap().push((content_type, body));
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (format!("http://{addr}"), bodies)
}

fn text(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone()?.value)
        .map(|value| match value {
            AnyValue::StringValue(text) => text,
            other => panic!("{key} is {other:?}"),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_calls_are_exported_as_client_spans_and_failures_are_marked() {
    let (collector, bodies) = start_collector();
    let export = TraceExport::start(&collector, "9.9.9").unwrap();
    let subscriber = tracing_subscriber::registry().with(export.layer());
    let guard = tracing::subscriber::set_default(subscriber);

    let store = ObservedObjectStore::new(
        Arc::new(InMemoryObjects::default()),
        SpanPerCall::new("filesystem"),
    );
    let key = ObjectKey::for_artifact(
        &Product::parse("agent").unwrap(),
        &Version::parse("1.0.0").unwrap(),
        &Platform::parse("linux").unwrap(),
        ArtifactId::generate(),
        &Filename::parse("agent.tgz").unwrap(),
    )
    .unwrap();
    assert!(store.head(&key).await.unwrap().is_none());
    let unknown = UploadId::parse("no-such-upload").unwrap();
    assert!(store.complete_multipart(&key, &unknown, &[]).await.is_err());
    // Not a Releasy target: never exported.
    tracing::info_span!(target: "hyper", "library span").in_scope(|| {});
    drop(guard);
    export.shutdown().await;

    let bodies = bodies.lock().unwrap().clone();
    assert!(!bodies.is_empty(), "shutting down sent the buffered spans");
    assert!(
        bodies
            .iter()
            .all(|(content_type, _)| content_type == "application/x-protobuf")
    );
    let requests: Vec<ExportTraceServiceRequest> = bodies
        .iter()
        .map(|(_, body)| ExportTraceServiceRequest::decode(body.as_ref()).unwrap())
        .collect();
    let resource = requests[0].resource_spans[0].resource.clone().unwrap();
    let resource_text = |key: &str| {
        resource
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone()?.value)
    };
    assert_eq!(
        resource_text("service.version"),
        Some(AnyValue::StringValue("9.9.9".into()))
    );
    let spans: Vec<Span> = requests
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["object_store head", "object_store complete_multipart"],
        "Releasy's spans only"
    );
    let head = &spans[0];
    assert_eq!(
        text(head, "releasy.object_store.kind").as_deref(),
        Some("filesystem")
    );
    assert_eq!(
        text(head, "releasy.object_store.operation").as_deref(),
        Some("head")
    );
    assert_ne!(
        head.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    let failed = &spans[1];
    assert_eq!(
        failed.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32),
        "a failed call is marked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_fails_no_call_and_shutdown_stays_bounded() {
    // Nothing listens there: exports fail in the background, calls go on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let export = TraceExport::start(&format!("http://127.0.0.1:{port}"), "9.9.9").unwrap();
    let subscriber = tracing_subscriber::registry().with(export.layer());
    let guard = tracing::subscriber::set_default(subscriber);
    let store =
        ObservedObjectStore::new(Arc::new(InMemoryObjects::default()), SpanPerCall::new("s3"));
    let key = ObjectKey::for_artifact(
        &Product::parse("agent").unwrap(),
        &Version::parse("1.0.0").unwrap(),
        &Platform::parse("linux").unwrap(),
        ArtifactId::generate(),
        &Filename::parse("agent.tgz").unwrap(),
    )
    .unwrap();
    assert!(store.head(&key).await.unwrap().is_none());
    drop(guard);
    let started = std::time::Instant::now();
    export.shutdown().await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "shutdown gives up within its bound"
    );
}
