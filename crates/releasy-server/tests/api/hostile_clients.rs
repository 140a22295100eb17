//! Hostile and broken clients: heads sent byte by byte (slowloris), bodies that stop,
//! oversized headers, more connections than allowed. Raw TCP, since a well-behaved
//! HTTP client cannot misbehave on purpose.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_KEY, Backend, TestApp, assert_error};

fn address(app: &TestApp) -> String {
    app.base_url.trim_start_matches("http://").to_owned()
}

/// Reads what the server sends until it closes the connection (or `within` passes).
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut answer = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut answer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

/// 500 connections sending their request heads a header every 500 ms do not stop the
/// server answering others promptly; each is cut off once the head has taken longer
/// than `RELEASY_REQUEST_HEAD_TIMEOUT_MS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_slow_clients_do_not_stop_the_server_answering_others() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("RELEASY_REQUEST_HEAD_TIMEOUT_MS", "2000")],
    )
    .await;
    let addr = address(&app);
    let mut slow = Vec::new();
    for _ in 0..500 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /v1/admin/customers HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    let opened = Instant::now();
    // A header every 500 ms on each; returns when the server had ended them all (a
    // write to a connection the server closed fails by the second try).
    let dribble = tokio::spawn(async move {
        let mut ended = vec![false; slow.len()];
        while opened.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            for (stream, ended) in slow.iter_mut().zip(&mut ended) {
                if !*ended && stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    *ended = true;
                }
            }
            if ended.iter().all(|&e| e) {
                return (slow, Some(opened.elapsed()));
            }
        }
        (slow, None)
    });

    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let response = app
            .admin(Method::GET, "/v1/admin/customers")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        slowest < Duration::from_secs(1),
        "others answered within a second, slowest {slowest:?}"
    );

    let (mut slow, all_ended) = dribble.await.unwrap();
    let all_ended = all_ended.expect("the server ended every slow connection within 10 s");
    // 2 s of limit, then up to two 500 ms rounds to notice, and slack for a busy machine.
    assert!(
        all_ended < Duration::from_secs(5),
        "slow heads were cut off {all_ended:?} after they began, with a 2 s limit"
    );
    for stream in &mut slow {
        let ended = read_to_close(stream, Duration::from_secs(5)).await;
        let answer = ended.expect("the server closed the slow connection");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    eprintln!(
        "500 slow clients: 20 other requests answered, the slowest in {slowest:?}; every slow connection ended {all_ended:?} after it began"
    );
}

/// A request body that stops arriving is cut off after
/// `RELEASY_BODY_IDLE_TIMEOUT_SECONDS` with 408 `request_timeout`, on a JSON endpoint
/// and on an upload to the embedded store (which then stores nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("RELEASY_BODY_IDLE_TIMEOUT_SECONDS", "1")],
    )
    .await;
    let release = crate::releases::create_release(&app, "agent", "1.0.0").await;
    let presigned = crate::artifacts::presign(
        &app,
        release["id"].as_str().unwrap(),
        "agent.tgz",
        "linux-x86_64",
    )
    .await;
    let upload_target = presigned["upload_url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&app.base_url)
        .to_owned();
    let requests = [
        format!(
            "POST /v1/admin/customers HTTP/1.1\r\nHost: x\r\nx-releasy-admin-key: {ADMIN_KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\":"
        ),
        format!(
            "PUT {upload_target} HTTP/1.1\r\nHost: x\r\ncontent-length: 1000000\r\n\r\npartial"
        ),
    ];
    for request in requests {
        let mut stream = TcpStream::connect(address(&app)).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let started = Instant::now();
        let mut answer = vec![0; 4096];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
            .await
            .expect("an answer")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
            "cut off after {waited:?}"
        );
    }
    let stored = app
        .embedded_object_path(presigned["object_key"].as_str().unwrap())
        .unwrap();
    assert!(!stored.exists(), "the stalled upload stored nothing");
    let uploads = stored
        .ancestors()
        .find(|dir| dir.ends_with("objects"))
        .unwrap()
        .join(".uploads");
    let left: Vec<_> = std::fs::read_dir(uploads)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    assert_eq!(
        left,
        Vec::<std::path::PathBuf>::new(),
        "nor a temporary file"
    );
}

/// Request headers over `RELEASY_MAX_HEADER_BYTES` are 431 in the error shape; under
/// it they are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_over_the_limit_are_431() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RELEASY_MAX_HEADER_BYTES", "2048")]).await;
    let within = app
        .admin(Method::GET, "/v1/admin/customers")
        .header("x-padding", "p".repeat(1_000))
        .send()
        .await
        .unwrap();
    assert_eq!(within.status(), 200);
    let over = app
        .admin(Method::GET, "/v1/admin/customers")
        .header("x-padding", "p".repeat(3_000))
        .send()
        .await
        .unwrap();
    let message = assert_error(over, 431, "request_header_fields_too_large").await;
    assert_eq!(message, "request headers are larger than 2048 bytes");
}

/// With `RELEASY_MAX_CONNECTIONS` connections open, a new one waits until one of them
/// ends (here: the idle ones are cut off by the head timeout), then is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait_for_a_free_one() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("RELEASY_MAX_CONNECTIONS", "4"),
            ("RELEASY_REQUEST_HEAD_TIMEOUT_MS", "1500"),
        ],
    )
    .await;
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // The limit is spread over the workers, rounded up.
    let limit = 4_usize.div_ceil(workers) * workers;
    let mut idle = Vec::new();
    for _ in 0..limit {
        idle.push(TcpStream::connect(address(&app)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let waiting = reqwest::Client::new()
        .get(app.url("/live"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(waiting.status(), 200);
    let body: Value = waiting.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert!(
        waited >= Duration::from_millis(1000),
        "served only once an idle connection was cut off, after {waited:?}"
    );
    drop(idle);
}
