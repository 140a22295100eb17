//! Traces (`RELEASY_OTLP_ENDPOINT`), as a collector sees them: the server process
//! sends its spans over OTLP/HTTP to a receiver in the test, which decodes them. A
//! request that carries a W3C `traceparent` joins the caller's trace; its database
//! statements and object-store calls are its children; the JSON log lines name the
//! request and its trace; no secret reaches a span. On SQLite and on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod process;

use std::collections::HashMap;
use std::path::Path;

use process::{Api, ok_json};
use releasy_testkit::{TestCa, TestPostgres, TlsPostgres};
use releasy_traces::test_collector::TestCollector;
use releasy_traces::test_collector::proto::common::v1::any_value::Value as AnyValue;
use releasy_traces::test_collector::proto::trace::v1::Span;
use releasy_traces::test_collector::proto::trace::v1::span::SpanKind;
use releasy_traces::test_collector::proto::trace::v1::status::StatusCode as SpanStatus;
use reqwest::{Client, Method};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ADMIN_KEY: &str = "admin-key-that-must-never-be-exported-0123456";
const PEPPER: &str = "pepper-that-must-never-be-exported-0123456789";

/// The caller's trace and span, as a W3C `traceparent` carries them.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn attribute(span: &Span, key: &str) -> Option<AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|value| value.value)
}

fn text_attribute(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key)? {
        AnyValue::StringValue(text) => Some(text),
        other => panic!("{key} is {other:?}, not text"),
    }
}

/// `span` and its ancestors' names, up to the root, through `by_id`.
fn ancestry<'a>(span: &'a Span, by_id: &HashMap<Vec<u8>, &'a Span>) -> Vec<&'a str> {
    let mut names = vec![span.name.as_str()];
    let mut parent = &span.parent_span_id;
    while let Some(up) = by_id.get(parent) {
        names.push(up.name.as_str());
        parent = &up.parent_span_id;
    }
    names
}

/// The server on `database_url` (the embedded SQLite file when `None`) and the
/// embedded store, exporting to `collector` when given; JSON logs.
fn server_vars(
    cwd: &Path,
    port: u16,
    database_url: Option<&str>,
    collector: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
        (
            "RELEASY_PUBLIC_BASE_URL",
            format!("http://127.0.0.1:{port}"),
        ),
        ("RELEASY_DATA_DIR", cwd.join("data").display().to_string()),
        ("RELEASY_ADMIN_API_KEY", ADMIN_KEY.to_owned()),
        ("RELEASY_API_KEY_PEPPER", PEPPER.to_owned()),
        ("RELEASY_LOG_FORMAT", "json".to_owned()),
    ];
    if let Some(url) = database_url {
        vars.push(("RELEASY_DATABASE_URL", url.to_owned()));
    }
    if let Some(collector) = collector {
        vars.push(("RELEASY_OTLP_ENDPOINT", collector.to_owned()));
        // One span per export at most a second late, so a short test sees batches.
        vars.push(("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()));
    }
    vars
}

/// The JSON log lines of requests, by request id.
fn request_lines(output: &str) -> HashMap<String, Value> {
    output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "request completed")
        .map(|line| {
            (
                line["span"]["request_id"].as_str().unwrap().to_owned(),
                line,
            )
        })
        .collect()
}

/// The whole flow with a collector; what the spans and the log lines must show.
async fn a_request_and_its_statements_and_store_calls_form_one_trace(database_url: Option<&str>) {
    let collector = TestCollector::start();
    let cwd = tempfile::tempdir().unwrap();
    let port = process::free_port();
    let api = Api::new(format!("http://127.0.0.1:{port}"), ADMIN_KEY);
    let mut child = process::spawn(
        cwd.path(),
        &server_vars(cwd.path(), port, database_url, Some(collector.url())),
    );
    process::wait_until_live(&api.base, &mut child).await;

    let customer = ok_json(
        api.admin(Method::POST, "/v1/admin/customers")
            .json(&json!({"name": "Acme"})),
    )
    .await;
    let key = ok_json(
        api.admin(Method::POST, "/v1/admin/keys")
            .json(&json!({"customer_id": customer["id"]})),
    )
    .await;
    let api_key = key["api_key"].as_str().unwrap().to_owned();
    let release = ok_json(
        api.admin(Method::POST, "/v1/releases")
            .json(&json!({"product": "app", "version": "1.0.0"})),
    )
    .await;
    let release_id = release["id"].as_str().unwrap();
    let presigned = ok_json(
        api.admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts/presign"),
        )
        .json(&json!({"filename": "app.tgz", "platform": "linux"})),
    )
    .await;
    let upload_url = presigned["upload_url"].as_str().unwrap().to_owned();
    let bytes = b"traced bytes".repeat(100);
    let uploaded = api.http.put(&upload_url).body(bytes.clone()).send().await;
    assert!(uploaded.unwrap().status().is_success());

    // The registration, inside the caller's trace: it reads the stored object back.
    let registered = api
        .admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts"),
        )
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("x-request-id", "registration-1")
        .json(&json!({
            "artifact_id": presigned["artifact_id"],
            "object_key": presigned["object_key"],
            "checksum": hex::encode(Sha256::digest(&bytes)),
            "size": bytes.len(),
            "platform": "linux",
        }))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success(), "{}", registered.status());
    // A request of its own trace, and one the caller chose not to sample.
    let missing = api
        .admin(Method::GET, "/v1/admin/customers/not-a-uuid")
        .header("x-request-id", "own-trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let unsampled = api
        .admin(Method::GET, "/v1/admin/customers")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        )
        .header("x-request-id", "unsampled-1")
        .send()
        .await
        .unwrap();
    assert_eq!(unsampled.status(), 200);

    // A graceful stop sends the spans still buffered.
    let (stopped, output) = process::terminate(&mut child);
    assert!(stopped.success(), "{output}");
    collector.stop().await;

    let spans = collector.spans();
    let by_id: HashMap<Vec<u8>, &Span> = spans.iter().map(|s| (s.span_id.clone(), s)).collect();

    // Statements belong to requests: none outside one (migrations, background
    // sweeps) is a trace of its own, and the unsampled request's are not exported.
    for span in &spans {
        if text_attribute(span, "db.query.text").is_some() {
            assert!(
                by_id.contains_key(&span.parent_span_id),
                "{} is exported without its request",
                span.name
            );
        }
    }

    // The registration's span: a server span named by its route, in the caller's trace.
    let route = "POST /v1/releases/{release_id}/artifacts";
    let request = spans
        .iter()
        .find(|span| span.name == route)
        .unwrap_or_else(|| {
            let names: Vec<_> = spans.iter().map(|s| &s.name).collect();
            panic!("no {route} span among {names:?}")
        });
    assert_eq!(hex::encode(&request.trace_id), CALLER_TRACE);
    assert_eq!(hex::encode(&request.parent_span_id), CALLER_SPAN);
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(
        text_attribute(request, "http.route").as_deref(),
        Some("/v1/releases/{release_id}/artifacts")
    );
    assert_eq!(
        text_attribute(request, "http.request.method").as_deref(),
        Some("POST")
    );
    assert!(matches!(
        attribute(request, "http.response.status_code"),
        Some(AnyValue::IntValue(200 | 201))
    ));
    assert_eq!(
        text_attribute(request, "request_id").as_deref(),
        Some("registration-1")
    );

    // Its statements and its store calls are its descendants, in its trace.
    let in_registration: Vec<&Span> = spans
        .iter()
        .filter(|span| ancestry(span, &by_id).contains(&route) && span.name != route)
        .collect();
    let statements: Vec<&&Span> = in_registration
        .iter()
        .filter(|span| text_attribute(span, "db.query.text").is_some())
        .collect();
    let system = if database_url.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    assert!(
        statements
            .iter()
            .any(|span| span.name == "INSERT artifacts"),
        "the artifact's row is written: {:?}",
        statements.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for statement in &statements {
        assert_eq!(hex::encode(&statement.trace_id), CALLER_TRACE);
        assert_eq!(statement.kind, SpanKind::Client as i32);
        assert_eq!(
            text_attribute(statement, "db.system.name").as_deref(),
            Some(system)
        );
        let text = text_attribute(statement, "db.query.text").unwrap();
        assert!(!text.contains("binds"), "no bound values: {text}");
    }
    let store_calls: Vec<&&Span> = in_registration
        .iter()
        .filter(|span| span.name.starts_with("object_store "))
        .collect();
    assert!(
        !store_calls.is_empty(),
        "the stored object is read back: {:?}",
        in_registration.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for call in &store_calls {
        assert_eq!(hex::encode(&call.trace_id), CALLER_TRACE);
        assert_eq!(call.kind, SpanKind::Client as i32);
        assert_eq!(
            text_attribute(call, "releasy.object_store.kind").as_deref(),
            Some("filesystem")
        );
    }

    // A request without a traceparent starts its own trace; a 4xx is no server error.
    let own = spans
        .iter()
        .find(|span| text_attribute(span, "request_id").as_deref() == Some("own-trace-1"))
        .expect("the span of a request without traceparent");
    assert!(own.parent_span_id.is_empty(), "a root span");
    assert_ne!(hex::encode(&own.trace_id), CALLER_TRACE);
    assert_ne!(
        own.status.as_ref().map(|s| s.code),
        Some(SpanStatus::Error as i32)
    );
    // The caller's decision not to sample is honoured.
    assert!(
        spans
            .iter()
            .all(|span| text_attribute(span, "request_id").as_deref() != Some("unsampled-1")),
        "an unsampled caller's request is not exported"
    );

    // The log lines name each request and its trace.
    let lines = request_lines(&output);
    assert_eq!(lines["registration-1"]["span"]["trace_id"], CALLER_TRACE);
    assert_eq!(
        lines["own-trace-1"]["span"]["trace_id"],
        hex::encode(&own.trace_id)
    );
    assert_eq!(
        lines["unsampled-1"]["span"]["trace_id"], "0af7651916cd43dd8448eb211c80319c",
        "the caller's trace, though not sampled"
    );

    // Nothing secret was exported.
    let raw = String::from_utf8_lossy(&collector.raw()).into_owned();
    for secret in [ADMIN_KEY, PEPPER, api_key.as_str()] {
        assert!(!raw.contains(secret), "a secret was exported");
    }
    let signature = upload_url.split("signature=").nth(1).unwrap_or("");
    assert!(
        signature.is_empty() || !raw.contains(signature),
        "an upload URL's signature was exported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_requests_statements_and_store_calls_form_one_trace() {
    a_request_and_its_statements_and_store_calls_form_one_trace(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_requests_statements_and_store_calls_form_one_trace() {
    let postgres = TestPostgres::create().await;
    a_request_and_its_statements_and_store_calls_form_one_trace(Some(postgres.url())).await;
}

/// A connection made over TLS is built from the driver's, and diesel is not told it
/// was made: its statements are PostgreSQL's all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_statements_are_postgresql_statements() {
    let postgres = TestPostgres::create().await;
    let ca = TestCa::new("Releasy test database CA");
    let front = TlsPostgres::start(
        postgres.server_addr().await,
        &ca.server(&["localhost"]),
        None,
    )
    .await;
    let url = postgres.url_through_as(front.addr(), "127.0.0.1", "sslmode=require");
    a_request_and_its_statements_and_store_calls_form_one_trace(Some(&url)).await;
    assert!(front.counts().negotiated() >= 2, "{:?}", front.counts());
}

/// Without an exporter, nothing is traced, but a caller's trace id still reaches the
/// log lines, so that they can be found from the caller's trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_the_log_lines_still_name_the_callers_trace() {
    let cwd = tempfile::tempdir().unwrap();
    let port = process::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = process::spawn(cwd.path(), &server_vars(cwd.path(), port, None, None));
    process::wait_until_live(&base, &mut child).await;
    let client = Client::new();
    for (request_id, traceparent) in [
        (
            "joined-1",
            Some(format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01")),
        ),
        ("alone-1", None),
        ("malformed-1", Some("00-not-a-trace-01".to_owned())),
    ] {
        let mut request = client
            .get(format!("{base}/v1/admin/customers"))
            .header("x-releasy-admin-key", ADMIN_KEY)
            .header("x-request-id", request_id);
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
    let (stopped, output) = process::terminate(&mut child);
    assert!(stopped.success(), "{output}");
    let lines = request_lines(&output);
    assert_eq!(lines["joined-1"]["span"]["trace_id"], CALLER_TRACE);
    assert!(lines["alone-1"]["span"].get("trace_id").is_none());
    assert!(
        lines["malformed-1"]["span"].get("trace_id").is_none(),
        "a malformed traceparent is ignored"
    );
    assert!(lines["alone-1"]["span"].get("otel.name").is_none());
}
