//! The exporter against a collector on loopback: spans of Releasy's crates arrive as
//! OTLP protobuf at `/v1/traces`, named and marked as the span-makers say; other
//! targets' spans stay out; shutting down sends what is still buffered.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::net::TcpListener;
use std::sync::Arc;

use releasy_domain::ArtifactId;
use releasy_domain::artifact::{Filename, ObjectKey, Platform, UploadId};
use releasy_domain::memory::InMemoryObjects;
use releasy_domain::ports::{ObjectStore, ObservedObjectStore};
use releasy_domain::release::{Product, Version};
use releasy_traces::test_collector::TestCollector;
use releasy_traces::test_collector::proto::common::v1::any_value::Value as AnyValue;
use releasy_traces::test_collector::proto::trace::v1::Span;
use releasy_traces::test_collector::proto::trace::v1::status::StatusCode;
use releasy_traces::{SpanPerCall, TraceExport};
use tracing_subscriber::layer::SubscriberExt as _;

/// The key of an artifact that was never uploaded.
fn artifact_key() -> ObjectKey {
    ObjectKey::for_artifact(
        &Product::parse("agent").unwrap(),
        &Version::parse("1.0.0").unwrap(),
        &Platform::parse("linux").unwrap(),
        ArtifactId::generate(),
        &Filename::parse("agent.tgz").unwrap(),
    )
    .unwrap()
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
    let collector = TestCollector::start();
    let export = TraceExport::start(collector.url(), "9.9.9").unwrap();
    let subscriber = tracing_subscriber::registry().with(export.layer());
    let guard = tracing::subscriber::set_default(subscriber);

    let store = ObservedObjectStore::new(
        Arc::new(InMemoryObjects::default()),
        SpanPerCall::new("filesystem"),
    );
    let key = artifact_key();
    assert!(store.head(&key).await.unwrap().is_none());
    let unknown = UploadId::parse("no-such-upload").unwrap();
    assert!(store.complete_multipart(&key, &unknown, &[]).await.is_err());
    // Not a Releasy target: never exported.
    tracing::info_span!(target: "hyper", "library span").in_scope(|| {});
    drop(guard);
    export.shutdown().await;

    collector.stop().await;
    let exports = collector.exports();
    assert!(!exports.is_empty(), "shutting down sent the buffered spans");
    assert!(
        exports
            .iter()
            .all(|export| export.content_type == "application/x-protobuf")
    );
    let requests = collector.requests();
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
    let spans = collector.spans();
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
    let key = artifact_key();
    assert!(store.head(&key).await.unwrap().is_none());
    drop(guard);
    let started = std::time::Instant::now();
    export.shutdown().await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "shutdown gives up within its bound"
    );
}

/// A user and password in the endpoint reach the collector as `Authorization: Basic`
/// (an HTTP client sends no credentials from a URL), and the URL it is sent to has
/// none, so a failed export's log cannot show them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_endpoint_are_sent_as_basic_authorization() {
    let collector = TestCollector::start();
    let endpoint = collector
        .url()
        .replacen("http://", "http://ci:s%40cret@", 1);
    let export = TraceExport::start(&endpoint, "9.9.9").unwrap();
    let subscriber = tracing_subscriber::registry().with(export.layer());
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::info_span!(target: "releasy_traces", "one span").in_scope(|| {});
    drop(guard);
    export.shutdown().await;

    collector.stop().await;
    let exports = collector.exports();
    assert!(!exports.is_empty(), "the span was sent");
    for export in exports {
        // base64 of `ci:s@cret`
        assert_eq!(export.authorization.as_deref(), Some("Basic Y2k6c0BjcmV0"));
    }
}
