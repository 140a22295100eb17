//! The embedded store end to end: presigned URLs against a real HTTP server on the
//! loopback interface, driven by reqwest and, for broken requests, by raw TCP.

// The helpers below are test code too; a failed step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use releasy_domain::Timestamp;
use releasy_domain::artifact::{Checksum, CompletedPart, ObjectKey, PartNumber, UploadId};
use releasy_domain::memory::FixedClock;
use releasy_domain::ports::{Clock, CompleteMultipartError, DeclaredObject, ObjectStore};
use releasy_storage_fs::{FsObjectStore, SigningKey, configure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SECRET: &str = "test-secret-test-secret-test-secret!";
const NOW: i64 = 1_735_312_000;
const MIB: usize = 1024 * 1024;

struct Harness {
    store: Arc<FsObjectStore>,
    clock: Arc<FixedClock>,
    addr: SocketAddr,
    client: reqwest::Client,
    handle: ServerHandle,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with(|store| store).await
    }

    async fn start_with(adjust: impl FnOnce(FsObjectStore) -> FsObjectStore) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(NOW)));
        let store = FsObjectStore::new(
            dir.path().join("objects"),
            format!("http://{addr}/"),
            SigningKey::from_secret(SECRET.to_owned()).unwrap(),
        )
        .unwrap()
        .with_clock(clock.clone());
        let store = Arc::new(adjust(store));
        let served = Arc::clone(&store);
        let server = HttpServer::new(move || {
            App::new()
                // Like the real application: a small limit for buffered bodies, which
                // the streaming upload route must not be subject to.
                .app_data(web::PayloadConfig::new(64 * 1024))
                .configure(configure(Arc::clone(&served)))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            store,
            clock,
            addr,
            client: reqwest::Client::new(),
            handle,
            _dir: dir,
        }
    }

    async fn put_url(&self, key: &ObjectKey) -> String {
        self.store
            .presign_put(key, self.clock.now(), 900)
            .await
            .unwrap()
            .url
    }

    async fn get_url(&self, key: &ObjectKey) -> String {
        self.store
            .presign_get(key, self.clock.now(), 600)
            .await
            .unwrap()
            .url
    }

    /// `GET url` asking for `range` (a `Range` header value such as `bytes=10-19`).
    async fn get_range(&self, url: &str, range: &str) -> reqwest::Response {
        self.client
            .get(url)
            .header("range", range)
            .send()
            .await
            .unwrap()
    }

    /// `PUT`s `body` to the presigned `url`.
    async fn put(&self, url: &str, body: Vec<u8>) -> reqwest::Response {
        self.client.put(url).body(body).send().await.unwrap()
    }

    async fn upload(&self, key: &ObjectKey, body: Vec<u8>) {
        let response = self
            .client
            .put(self.put_url(key).await)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// Opens an upload in parts of 1 MiB of `key`; its id and the URL of part 1.
    async fn upload_in_parts(&self, key: &ObjectKey) -> (UploadId, String) {
        let upload = self.store.start_multipart(key, MIB as u64).await.unwrap();
        let url = self
            .store
            .presign_part(
                key,
                &upload,
                PartNumber::parse(1).unwrap(),
                self.clock.now(),
                900,
            )
            .await
            .unwrap()
            .url;
        (upload, url)
    }

    fn uploads_left(&self) -> Vec<String> {
        std::fs::read_dir(self.store.uploads_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn new_key(filename: &str) -> ObjectKey {
    ObjectKey::from_stored(format!(
        "releases/app/1.0.0/linux/{}/{filename}",
        uuid::Uuid::new_v4()
    ))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

fn forbidden_body() -> Value {
    json!({"error": {"code": "forbidden", "message": "invalid or expired signature"}})
}

async fn assert_forbidden(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.json::<Value>().await.unwrap(), forbidden_body());
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Sends `request` over a fresh connection and returns the status line and the body.
/// Blocking: run it off the test's runtime, which also drives the server.
fn raw_http(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    if let Err(err) = stream.read_to_end(&mut raw) {
        panic!("{err}; read so far: {:?}", String::from_utf8_lossy(&raw));
    }
    let response = String::from_utf8_lossy(&raw).into_owned();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The signature the store would give, computed independently.
fn signature(method: &str, key: &str, expires: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{method}\n{key}\n{expires}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[actix_web::test]
async fn an_upload_with_content_length_is_stored_and_downloaded_unchanged() {
    let harness = Harness::start().await;
    let key = new_key("app.zip");
    let body = pattern(300 * 1024, 7);

    let put_url = harness.put_url(&key).await;
    assert!(put_url.starts_with(&format!(
        "http://{}/v1/storage/{}?expires={}&signature=",
        harness.addr,
        key.as_str(),
        NOW + 900
    )));
    let response = harness
        .client
        .put(&put_url)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().is_empty());

    let meta = harness.store.head(&key).await.unwrap().unwrap();
    assert_eq!(meta.size, body.len() as u64);

    let response = harness
        .client
        .get(harness.get_url(&key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-length"), body.len().to_string());
    assert_eq!(header(&response, "content-type"), "application/zip");
    assert_eq!(header(&response, "accept-ranges"), "bytes");
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"app.zip\""
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), body.as_slice());
    assert!(harness.uploads_left().is_empty());
    harness.stop().await;
}

#[actix_web::test]
async fn a_chunked_upload_is_stored() {
    let harness = Harness::start().await;
    let key = new_key("payload.unknownext");
    // Enough chunks to cross several write batches.
    let chunks: Vec<Vec<u8>> = (0..40).map(|i| pattern(100 * 1024 + i, i as u8)).collect();
    let expected: Vec<u8> = chunks.concat();
    let stream = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(Ok::<_, std::io::Error>)
            .collect::<Vec<_>>(),
    );
    let response = harness
        .client
        .put(harness.put_url(&key).await)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = harness
        .client
        .get(harness.get_url(&key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "content-type"),
        "application/octet-stream"
    );
    assert_eq!(
        header(&response, "content-length"),
        expected.len().to_string()
    );
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        expected.as_slice()
    );
    harness.stop().await;
}

#[actix_web::test]
async fn an_empty_upload_stores_an_empty_object_that_cannot_be_replaced() {
    let harness = Harness::start().await;
    let key = new_key("empty.bin");
    harness.upload(&key, Vec::new()).await;
    assert_eq!(harness.store.head(&key).await.unwrap().unwrap().size, 0);
    let again = harness
        .client
        .put(harness.put_url(&key).await)
        .body(b"second".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(harness.store.head(&key).await.unwrap().unwrap().size, 0);
    assert!(harness.uploads_left().is_empty());
    harness.stop().await;
}

#[actix_web::test]
async fn of_two_concurrent_uploads_to_one_key_exactly_one_is_stored() {
    let harness = Harness::start().await;
    let key = new_key("race.bin");
    let url = harness.put_url(&key).await;
    let bodies = [pattern(2 * MIB, 1), pattern(2 * MIB, 2)];
    let sends = bodies
        .iter()
        .map(|body| harness.client.put(&url).body(body.clone()).send());
    let statuses: Vec<StatusCode> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|response| response.unwrap().status())
        .collect();
    let stored = statuses.iter().position(|s| *s == StatusCode::OK);
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        1,
        "{statuses:?}"
    );
    let winner = &bodies[stored.expect("one upload stored")];
    let on_disk = std::fs::read(harness.store.object_path(&key).unwrap()).unwrap();
    assert!(
        on_disk == *winner,
        "the stored bytes are one upload's, whole"
    );
    assert_eq!(
        harness.store.sha256(&key).await.unwrap().unwrap().as_str(),
        format!("{:x}", Sha256::digest(winner))
    );
    assert!(harness.uploads_left().is_empty());
    harness.stop().await;
}

#[actix_web::test]
async fn the_sha256_is_recorded_while_receiving_and_recomputed_when_missing() {
    let harness = Harness::start().await;
    let key = new_key("app.tgz");
    let body = pattern(3 * MIB + 17, 9);
    let expected = format!("{:x}", Sha256::digest(&body));
    assert_eq!(harness.store.sha256(&key).await.unwrap(), None);
    harness.upload(&key, body).await;
    let digest_file = harness.store.root().join(".sha256").join(key.as_str());
    let recorded = std::fs::read_to_string(&digest_file).unwrap();
    assert!(recorded.starts_with(&format!("{expected} ")), "{recorded}");
    assert_eq!(
        harness.store.sha256(&key).await.unwrap().unwrap().as_str(),
        expected
    );
    // An object stored without a digest (before digests were recorded) is read through.
    std::fs::remove_file(&digest_file).unwrap();
    assert_eq!(
        harness.store.sha256(&key).await.unwrap().unwrap().as_str(),
        expected
    );
    // So is one whose digest was recorded for another file (left behind by a delete
    // that failed halfway), or recorded without naming its file.
    let fields: Vec<&str> = recorded.split_whitespace().collect();
    let inode: u64 = fields[1].parse().unwrap();
    let another_file = format!(
        "{} {} {} {}\n",
        "0".repeat(64),
        inode + 1,
        fields[2],
        fields[3]
    );
    for stale in [another_file, "0".repeat(64)] {
        std::fs::write(&digest_file, &stale).unwrap();
        assert_eq!(harness.store.recorded_sha256(&key).await.unwrap(), None);
        assert_eq!(
            harness.store.sha256(&key).await.unwrap().unwrap().as_str(),
            expected
        );
    }
    harness.stop().await;
}

#[actix_web::test]
async fn bad_signatures_wrong_methods_and_expired_urls_are_forbidden() {
    let harness = Harness::start().await;
    let key = new_key("app.tgz");
    harness.upload(&key, pattern(64, 1)).await;
    let put_url = harness.put_url(&key).await;
    let get_url = harness.get_url(&key).await;

    // A tampered signature.
    let (rest, sig) = get_url.split_once("signature=").unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{rest}signature={flipped}{}", &sig[1..]);
    assert_forbidden(harness.client.get(&tampered).send().await.unwrap()).await;

    // A tampered key, for an object that exists.
    let other = new_key("other.tgz");
    harness.upload(&other, pattern(64, 2)).await;
    let swapped = get_url.replace(key.as_str(), other.as_str());
    assert_forbidden(harness.client.get(&swapped).send().await.unwrap()).await;

    // A tampered expiry.
    let extended = get_url.replace(
        &format!("expires={}", NOW + 600),
        &format!("expires={}", NOW + 6000),
    );
    assert_forbidden(harness.client.get(&extended).send().await.unwrap()).await;

    // A download URL used to upload, and an upload URL used to download.
    let overwrite = harness
        .client
        .put(&get_url)
        .body("evil")
        .send()
        .await
        .unwrap();
    assert_forbidden(overwrite).await;
    assert_eq!(harness.store.head(&key).await.unwrap().unwrap().size, 64);
    assert_forbidden(harness.client.get(&put_url).send().await.unwrap()).await;

    // No signature at all, or a malformed one.
    let bare = get_url.split_once('?').unwrap().0.to_owned();
    assert_forbidden(harness.client.get(&bare).send().await.unwrap()).await;
    let garbage = format!("{bare}?expires=abc&signature=%%%");
    assert_forbidden(harness.client.get(&garbage).send().await.unwrap()).await;

    // Valid until the expiry second, refused from then on.
    harness.clock.advance(599);
    let response = harness.client.get(&get_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    harness.clock.advance(1);
    assert_forbidden(harness.client.get(&get_url).send().await.unwrap()).await;
    harness.clock.advance(300);
    let late = harness
        .client
        .put(&put_url)
        .body("late")
        .send()
        .await
        .unwrap();
    assert_forbidden(late).await;
    assert_eq!(harness.store.head(&key).await.unwrap().unwrap().size, 64);
    assert!(harness.uploads_left().is_empty());
    harness.stop().await;
}

#[actix_web::test]
async fn a_missing_object_is_not_found_in_the_error_shape() {
    let harness = Harness::start().await;
    let key = new_key("never-uploaded.tgz");
    let response = harness
        .client
        .get(harness.get_url(&key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"error": {"code": "not_found", "message": "object not found"}})
    );
    assert!(harness.store.head(&key).await.unwrap().is_none());
    harness.stop().await;
}

#[actix_web::test]
async fn ranges_are_served_exactly() {
    let harness = Harness::start().await;
    let key = new_key("app.bin");
    let body = pattern(100, 3);
    harness.upload(&key, body.clone()).await;
    let url = harness.get_url(&key).await;

    let response = harness.get_range(&url, "bytes=10-19").await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&response, "content-range"), "bytes 10-19/100");
    // A link dies with its token: nothing may keep serving it from a cache.
    assert_eq!(header(&response, "cache-control"), "private, no-store");
    assert_eq!(header(&response, "content-length"), "10");
    assert_eq!(response.bytes().await.unwrap().as_ref(), &body[10..20]);

    let response = harness.get_range(&url, "bytes=-5").await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&response, "content-range"), "bytes 95-99/100");
    assert_eq!(response.bytes().await.unwrap().as_ref(), &body[95..]);

    let response = harness.get_range(&url, "bytes=90-").await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.bytes().await.unwrap().as_ref(), &body[90..]);

    let response = harness.get_range(&url, "bytes=200-300").await;
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&response, "content-range"), "bytes */100");
    harness.stop().await;
}

#[actix_web::test]
async fn head_gives_the_headers_without_the_body() {
    let harness = Harness::start().await;
    let key = new_key("app.zip");
    harness.upload(&key, pattern(1234, 9)).await;
    let response = harness
        .client
        .head(harness.get_url(&key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-length"), "1234");
    assert_eq!(header(&response, "content-type"), "application/zip");
    assert_eq!(header(&response, "cache-control"), "private, no-store");
    assert!(response.bytes().await.unwrap().is_empty());
    let whole = harness
        .client
        .get(harness.get_url(&key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(header(&whole, "cache-control"), "private, no-store");

    let response = harness
        .client
        .delete(harness.get_url(&key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, "allow"), "GET, HEAD, PUT");
    harness.stop().await;
}

#[actix_web::test]
async fn an_upload_cut_off_midway_leaves_nothing_behind() {
    let harness = Harness::start().await;
    let key = new_key("cut.tgz");
    let url = harness.put_url(&key).await;
    let path_and_query = url
        .split_once(&harness.addr.to_string())
        .unwrap()
        .1
        .to_owned();

    // Past several batches, so that one is being written and hashed when it stops.
    let mut stream = TcpStream::connect(harness.addr).unwrap();
    let head = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        harness.addr,
        4 * MIB
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&pattern(3 * MIB + 1000, 4)).unwrap();
    stream.flush().unwrap();

    // The upload is under way: its temporary file exists.
    let deadline = Instant::now() + Duration::from_secs(5);
    while harness.uploads_left().is_empty() {
        assert!(Instant::now() < deadline, "the upload never started");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stream);

    let deadline = Instant::now() + Duration::from_secs(5);
    while !harness.uploads_left().is_empty() {
        assert!(
            Instant::now() < deadline,
            "temporary files left behind: {:?}",
            harness.uploads_left()
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(harness.store.head(&key).await.unwrap().is_none());
    assert!(!harness.store.object_path(&key).unwrap().exists());
    harness.stop().await;
}

/// A sweep for abandoned uploads while an upload is still being received leaves it
/// alone, however old its temporary file looks (its receiver holds the lock), and the
/// upload completes; once the upload is done there is nothing left to sweep.
#[actix_web::test]
async fn a_live_upload_survives_a_sweep_for_abandoned_ones() {
    let harness = Harness::start().await;
    let key = new_key("live.tgz");
    let url = harness.put_url(&key).await;
    let path_and_query = url
        .split_once(&harness.addr.to_string())
        .unwrap()
        .1
        .to_owned();
    let mut stream = TcpStream::connect(harness.addr).unwrap();
    let head = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000\r\n\r\n",
        harness.addr
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&pattern(500, 7)).unwrap();
    stream.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let partial = loop {
        if let Some(name) = harness.uploads_left().into_iter().next() {
            break harness.store.uploads_dir().join(name);
        }
        assert!(Instant::now() < deadline, "the upload never started");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    // Looks written an hour ago: only its lock says it is alive.
    std::fs::File::options()
        .write(true)
        .open(&partial)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let swept = harness.store.remove_abandoned_uploads();
    assert_eq!(swept.files, 0, "the live upload was left alone");
    assert!(partial.exists());

    stream.write_all(&pattern(500, 8)).unwrap();
    stream.flush().unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    assert_eq!(harness.store.head(&key).await.unwrap().unwrap().size, 1000);
    assert_eq!(harness.store.remove_abandoned_uploads().files, 0);
    assert!(harness.uploads_left().is_empty());
    harness.stop().await;
}

#[actix_web::test]
async fn a_64_mib_object_streams_up_and_down() {
    const CHUNK: usize = MIB;
    const CHUNKS: usize = 64;
    let harness = Harness::start().await;
    let key = new_key("big.tar.gz");

    let chunk = |i: usize| pattern(CHUNK, i as u8);
    let mut expected = Sha256::new();
    for i in 0..CHUNKS {
        expected.update(chunk(i));
    }
    let expected = expected.finalize();

    // Generated as it is sent, with a declared length.
    let body =
        futures_util::stream::iter(0..CHUNKS).map(move |i| Ok::<_, std::io::Error>(chunk(i)));
    let response = harness
        .client
        .put(harness.put_url(&key).await)
        .header("content-length", (CHUNK * CHUNKS).to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        harness.store.head(&key).await.unwrap().unwrap().size,
        (CHUNK * CHUNKS) as u64
    );
    // Hashed on its own thread while receiving, 128 batches through a queue of four.
    assert_eq!(
        harness.store.sha256(&key).await.unwrap().unwrap().as_str(),
        format!("{expected:x}")
    );

    let response = harness
        .client
        .get(harness.get_url(&key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "content-length"),
        (CHUNK * CHUNKS).to_string()
    );
    let mut actual = Sha256::new();
    let mut received = 0usize;
    let mut download = response.bytes_stream();
    while let Some(piece) = download.next().await {
        let piece = piece.unwrap();
        received += piece.len();
        actual.update(&piece);
    }
    assert_eq!(received, CHUNK * CHUNKS);
    assert_eq!(actual.finalize(), expected);
    harness.stop().await;
}

#[actix_web::test]
async fn traversal_keys_are_refused_by_the_store_and_the_routes() {
    let harness = Harness::start().await;
    let now = harness.clock.now();
    for raw in [
        "../x",
        "releases/../../etc/passwd",
        "/etc/passwd",
        "releases/a\\..\\..\\x",
        "releases//x",
        ".uploads/x",
        "",
    ] {
        let key = ObjectKey::from_stored(raw.to_owned());
        assert!(
            harness.store.presign_put(&key, now, 60).await.is_err(),
            "{raw:?}"
        );
        assert!(
            harness.store.presign_get(&key, now, 60).await.is_err(),
            "{raw:?}"
        );
        assert!(harness.store.head(&key).await.is_err(), "{raw:?}");
        assert!(harness.store.delete(&key).await.is_err(), "{raw:?}");
        assert!(harness.store.object_path(&key).is_err(), "{raw:?}");
    }

    // Even with a genuine signature for the traversal key, the routes refuse it.
    let escape = harness.store.root().join("../escaped");
    let expires = NOW + 60;
    for (method, raw_path, signed_key) in [
        ("PUT", "releases/../../escaped", "releases/../../escaped"),
        (
            "PUT",
            "releases/%2e%2e/%2e%2e/escaped",
            "releases/../../escaped",
        ),
        (
            "GET",
            "releases/../../../../etc/passwd",
            "releases/../../../../etc/passwd",
        ),
    ] {
        let request = format!(
            "{method} /v1/storage/{raw_path}?expires={expires}&signature={} HTTP/1.1\r\nHost: {}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nevil",
            signature(method, signed_key, expires),
            harness.addr
        );
        let addr = harness.addr;
        let (status, body) = actix_web::rt::task::spawn_blocking(move || raw_http(addr, &request))
            .await
            .unwrap();
        assert!(status.contains(" 403 "), "{method} {raw_path}: {status}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            forbidden_body()
        );
    }
    assert!(!escape.exists());
    harness.stop().await;
}

#[actix_web::test]
async fn delete_removes_the_object_and_its_empty_directories() {
    let harness = Harness::start().await;
    let key = new_key("app.tgz");
    harness.upload(&key, pattern(10, 5)).await;
    let path = harness.store.object_path(&key).unwrap();
    let digests = harness.store.root().join(".sha256");
    assert!(digests.join(key.as_str()).exists());
    harness.store.delete(&key).await.unwrap();
    assert!(harness.store.head(&key).await.unwrap().is_none());
    assert_eq!(harness.store.sha256(&key).await.unwrap(), None);
    assert!(!path.exists());
    assert!(!harness.store.root().join("releases/app").exists());
    assert!(harness.store.root().join("releases").exists());
    // Its digest went with it, and the digest's empty directories too.
    assert!(!digests.join("releases/app").exists());
    // Deleting what is not there succeeds.
    harness.store.delete(&key).await.unwrap();
    let response = harness
        .client
        .get(harness.get_url(&key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    harness.stop().await;
}

#[actix_web::test]
async fn uploads_above_the_configured_limit_are_refused() {
    let harness = Harness::start_with(|store| store.with_max_object_size(1000)).await;
    let key = new_key("app.tgz");

    let response = harness
        .client
        .put(harness.put_url(&key).await)
        .body(pattern(1001, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );

    // Without a declared length the limit is enforced while streaming; the server may
    // answer before the client has finished sending.
    let chunks = (0..4).map(|i| pattern(400, i)).collect();
    put_streamed_too_large(&harness, &key, chunks).await;
    assert!(harness.store.head(&key).await.unwrap().is_none());
    assert!(harness.uploads_left().is_empty());

    harness.upload(&key, pattern(1000, 1)).await;
    assert_eq!(harness.store.head(&key).await.unwrap().unwrap().size, 1000);
    harness.stop().await;
}

/// A URL presigned for a declared size stores no more than that (a leaked URL cannot
/// fill the disk), with or without a declared length; the size is signed in, so it
/// can be neither raised nor taken off, and a download URL names none.
#[actix_web::test]
async fn a_url_for_a_declared_size_stores_no_more() {
    let harness = Harness::start().await;
    let key = new_key("sized.tgz");
    let put = harness
        .store
        .presign_put_with(
            &key,
            harness.clock.now(),
            900,
            DeclaredObject {
                checksum: None,
                size: Some(1000),
            },
        )
        .await
        .unwrap();
    assert!(put.headers.is_empty());
    let url = put.url.url;
    assert!(url.contains("size=1000"), "{url}");

    let response = harness.put(&url, pattern(1001, 1)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = futures_util::stream::iter((0..3).map(|i| Ok::<_, std::io::Error>(pattern(400, i))));
    let streamed = harness
        .client
        .put(&url)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await;
    if let Ok(response) = streamed {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert!(harness.store.head(&key).await.unwrap().is_none());
    assert!(harness.uploads_left().is_empty());

    for tampered in [
        url.replace("size=1000", "size=2000"),
        url.replace("&size=1000", ""),
    ] {
        let response = harness.put(&tampered, pattern(1001, 1)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{tampered}");
    }
    let as_download = harness.client.get(&url).send().await.unwrap();
    assert_eq!(as_download.status(), StatusCode::FORBIDDEN);

    let response = harness.put(&url, pattern(1000, 1)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(harness.store.head(&key).await.unwrap().unwrap().size, 1000);
    harness.stop().await;
}

/// `PUT`s `chunks` without a declared length to a store they exceed: refused while
/// streaming, and the server may answer (or close) before the client has sent all.
async fn put_streamed_too_large(harness: &Harness, key: &ObjectKey, chunks: Vec<Vec<u8>>) {
    let body = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let sent = harness
        .client
        .put(harness.put_url(key).await)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await;
    if let Ok(response) = sent {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}

#[actix_web::test]
async fn an_upload_found_too_large_after_several_batches_leaves_nothing_behind() {
    let harness = Harness::start_with(|store| store.with_max_object_size(3 * MIB as u64)).await;
    let key = new_key("big.tgz");
    // No declared length: found too large only after six batches were written.
    let chunks = (0..8).map(|i| pattern(MIB / 2, i)).collect();
    put_streamed_too_large(&harness, &key, chunks).await;
    assert!(harness.store.head(&key).await.unwrap().is_none());
    assert!(!harness.store.object_path(&key).unwrap().exists());
    assert!(
        harness.uploads_left().is_empty(),
        "{:?}",
        harness.uploads_left()
    );
    harness.stop().await;
}

#[test]
fn the_signing_key_file_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("storage-signing-key");
    let first = SigningKey::load_or_generate(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let second = SigningKey::load_or_generate(&path).unwrap();

    // Two stores with the two loads honour each other's URLs.
    let objects = dir.path().join("objects");
    let a = FsObjectStore::new(objects.clone(), "http://a".to_owned(), first).unwrap();
    let b = FsObjectStore::new(objects, "http://a".to_owned(), second).unwrap();
    let key = new_key("x.tgz");
    let now = Timestamp::from_unix_seconds(NOW);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (url_a, url_b) = runtime.block_on(async {
        (
            a.presign_get(&key, now, 60).await.unwrap().url,
            b.presign_get(&key, now, 60).await.unwrap().url,
        )
    });
    assert_eq!(url_a, url_b);
}

/// A second store on the first one's directory: another instance sharing the data
/// directory (with no server of its own; its store calls are enough).
fn twin_of(harness: &Harness) -> FsObjectStore {
    FsObjectStore::new(
        harness.store.root().to_path_buf(),
        format!("http://{}/", harness.addr),
        SigningKey::from_secret(SECRET.to_owned()).unwrap(),
    )
    .unwrap()
    .with_clock(harness.clock.clone())
}

/// Starts `PUT url` of `size` bytes and sends the first half: the request is left
/// waiting for the rest.
fn start_slow_put(harness: &Harness, url: &str, size: usize) -> TcpStream {
    let path_and_query = url.split_once(&harness.addr.to_string()).unwrap().1;
    let mut stream = TcpStream::connect(harness.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: {}\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n",
        harness.addr
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&pattern(size / 2, 3)).unwrap();
    stream.flush().unwrap();
    stream
}

/// Sends the rest of a [`start_slow_put`] body; the whole response.
fn finish_slow_put(mut stream: TcpStream, size: usize) -> String {
    stream.write_all(&pattern(size - size / 2, 3)).unwrap();
    stream.flush().unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}

/// Waits until the first half of a [`start_slow_put`] part is written into the
/// upload's data file (which its receiver does only while holding the part's lock),
/// then checks that `twin` sees the part being received: its completion is refused.
/// Watching the file, not polling completions, leaves the lock alone: a completion
/// that held it the moment the part arrived would send the part away busy.
async fn wait_until_receiving(
    harness: &Harness,
    twin: &FsObjectStore,
    key: &ObjectKey,
    upload: &UploadId,
) {
    let data = harness
        .store
        .uploads_dir()
        .join(format!("parts-{}", upload.as_str()))
        .join("data");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&data).map_or(0, |m| m.len()) == 0 {
        assert!(Instant::now() < deadline, "the part never started");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let one = [CompletedPart {
        part_number: PartNumber::parse(1).unwrap(),
        etag: "\"any\"".to_owned(),
    }];
    match twin.complete_multipart(key, upload, &one).await {
        Err(CompleteMultipartError::PartsRejected(reason))
            if reason.contains("still being uploaded") => {}
        other => panic!("completing during the part: {other:?}"),
    }
}

/// Instances sharing the data directory keep out of each other's way: while one
/// receives a part, no instance completes the upload or receives the same part; once
/// the part is in, another instance completes the upload with it.
#[actix_web::test]
async fn a_part_being_received_holds_off_every_instance() {
    let harness = Harness::start().await;
    let twin = twin_of(&harness);
    let key = new_key("shared.img");
    let (upload, url) = harness.upload_in_parts(&key).await;
    let part = PartNumber::parse(1).unwrap();
    let slow = start_slow_put(&harness, &url, MIB);
    wait_until_receiving(&harness, &twin, &key, &upload).await;

    let same_part = harness.put(&url, pattern(10, 1)).await;
    assert_eq!(same_part.status(), StatusCode::CONFLICT);
    assert_eq!(header(&same_part, "retry-after"), "1");
    assert_eq!(
        same_part.json::<Value>().await.unwrap()["error"]["code"],
        "part_busy"
    );

    let response = actix_web::rt::task::spawn_blocking(move || finish_slow_put(slow, MIB))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let etag = response
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("etag: ")
                .map(str::to_owned)
        })
        .unwrap();
    twin.complete_multipart(
        &key,
        &upload,
        &[CompletedPart {
            part_number: part,
            etag,
        }],
    )
    .await
    .unwrap();
    let stored = harness.store.head(&key).await.unwrap().unwrap();
    assert_eq!(stored.size, MIB as u64);
    assert!(
        harness.uploads_left().is_empty(),
        "{:?}",
        harness.uploads_left()
    );
    harness.stop().await;
}

/// An upload whose description is gone (a power loss right after its start) is removed
/// by its abort, though no key can be read from it; an upload of another key is not.
#[actix_web::test]
async fn an_abort_removes_an_upload_whose_description_is_gone() {
    let harness = Harness::start().await;
    let key = new_key("half-started.img");
    let (upload, _) = harness.upload_in_parts(&key).await;
    let dir = harness
        .store
        .uploads_dir()
        .join(format!("parts-{}", upload.as_str()));
    std::fs::remove_file(dir.join("upload")).unwrap();
    harness.store.abort_multipart(&key, &upload).await.unwrap();
    assert!(
        harness.uploads_left().is_empty(),
        "{:?}",
        harness.uploads_left()
    );

    let (kept, _) = harness.upload_in_parts(&key).await;
    harness
        .store
        .abort_multipart(&new_key("another.img"), &kept)
        .await
        .unwrap();
    assert_eq!(
        harness.uploads_left().len(),
        1,
        "another key's abort keeps it"
    );
    harness.stop().await;
}

/// An abort from another instance while a part arrives ends the upload: the part's
/// `PUT` answers `404` in the error shape, and nothing of the upload is left.
#[actix_web::test]
async fn a_part_aborted_while_it_arrives_is_not_found() {
    let harness = Harness::start().await;
    let twin = twin_of(&harness);
    let key = new_key("aborted.img");
    let (upload, url) = harness.upload_in_parts(&key).await;
    let slow = start_slow_put(&harness, &url, MIB);
    wait_until_receiving(&harness, &twin, &key, &upload).await;
    twin.abort_multipart(&key, &upload).await.unwrap();

    let response = actix_web::rt::task::spawn_blocking(move || finish_slow_put(slow, MIB))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("\"not_found\""), "{response}");
    assert!(
        harness.uploads_left().is_empty(),
        "{:?}",
        harness.uploads_left()
    );
    assert!(harness.store.head(&key).await.unwrap().is_none());
    harness.stop().await;
}

/// A completion that placed the object but failed before removing the upload (here:
/// the upload's directory left as such a failure leaves it) is finished by the next
/// registration's completion instead of failing it for ever.
#[actix_web::test]
async fn a_completion_cut_short_after_placing_the_object_is_finished_next_time() {
    let harness = Harness::start().await;
    let key = new_key("placed.img");
    let (upload, url) = harness.upload_in_parts(&key).await;
    let part = PartNumber::parse(1).unwrap();
    let response = harness.put(&url, pattern(1000, 5)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = header(&response, "etag").to_owned();
    let parts = [CompletedPart {
        part_number: part,
        etag,
    }];
    // What a completion does up to its failure: the data linked into place, the data
    // file's name gone, the directory still there.
    let dir = harness
        .store
        .uploads_dir()
        .join(format!("parts-{}", upload.as_str()));
    let target = harness.store.object_path(&key).unwrap();
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::hard_link(dir.join("data"), &target).unwrap();
    std::fs::remove_file(dir.join("data")).unwrap();

    let finished = harness
        .store
        .complete_multipart(&key, &upload, &parts)
        .await;
    assert!(
        matches!(finished, Err(CompleteMultipartError::UploadNotFound)),
        "{finished:?}"
    );
    assert!(!dir.exists(), "the upload's leftovers are removed");
    let stored = harness.store.head(&key).await.unwrap().unwrap();
    assert_eq!(stored.size, 1000);
    assert_eq!(
        harness.store.sha256(&key).await.unwrap().unwrap(),
        releasy_domain::artifact::Checksum::from_digest(&Sha256::digest(pattern(1000, 5)).into())
    );
    harness.stop().await;
}

/// A completion that linked the data file into place and stopped before it removed the
/// upload (a crash, a failed removal) leaves the two names on one file: a part sent
/// then with a still-valid URL is refused (it would write into the stored object), and
/// the next completion finishes the upload, the object as it was.
#[actix_web::test]
async fn a_placed_upload_takes_no_part_and_is_finished_next_time() {
    let harness = Harness::start().await;
    let key = new_key("linked.img");
    let (upload, url) = harness.upload_in_parts(&key).await;
    let sent = harness.put(&url, pattern(1000, 5)).await;
    assert_eq!(sent.status(), StatusCode::OK);
    let dir = harness
        .store
        .uploads_dir()
        .join(format!("parts-{}", upload.as_str()));
    // Another link (a hard-link backup of the data directory) changes nothing.
    let backup = tempfile::tempdir().unwrap();
    std::fs::hard_link(dir.join("data"), backup.path().join("data")).unwrap();
    let resent = harness.put(&url, pattern(1000, 5)).await;
    assert_eq!(resent.status(), StatusCode::OK);
    let parts = [CompletedPart {
        part_number: PartNumber::parse(1).unwrap(),
        etag: header(&resent, "etag").to_owned(),
    }];
    let target = harness.store.object_path(&key).unwrap();
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::hard_link(dir.join("data"), &target).unwrap();

    let again = harness.put(&url, pattern(1000, 9)).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let finished = harness
        .store
        .complete_multipart(&key, &upload, &parts)
        .await;
    assert!(
        matches!(finished, Err(CompleteMultipartError::UploadNotFound)),
        "{finished:?}"
    );
    assert!(!dir.exists(), "the upload's leftovers are removed");
    assert_eq!(
        harness.store.sha256(&key).await.unwrap().unwrap(),
        releasy_domain::artifact::Checksum::from_digest(&Sha256::digest(pattern(1000, 5)).into())
    );
    harness.stop().await;
}

/// The object-store contract, through the store's own routes.
#[actix_web::test]
async fn the_embedded_store_honours_the_object_store_contract() {
    let harness = Harness::start().await;
    releasy_testkit::objects::run_all(releasy_testkit::objects::StoreUnderTest {
        store: harness.store.clone(),
        now: harness.clock.now(),
        leniency: releasy_testkit::objects::Leniency::default(),
    })
    .await;
}

/// An object stored whose digest cannot be recorded (here the digests' directory is a
/// file) is still stored, and answered `200`: registration then reads it through
/// SHA-256. A `500` would have the client retry into "already stored".
#[actix_web::test]
async fn a_digest_that_cannot_be_recorded_does_not_fail_a_stored_upload() {
    let harness = Harness::start().await;
    let digests = harness.store.root().join(".sha256");
    let _ = std::fs::remove_dir_all(&digests);
    std::fs::write(&digests, b"not a directory").unwrap();
    let key = new_key("app.tgz");
    let body = pattern(4096, 5);
    let response = harness
        .put(&harness.put_url(&key).await, body.clone())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(harness.store.recorded_sha256(&key).await.unwrap(), None);
    assert_eq!(
        harness.store.sha256(&key).await.unwrap(),
        Some(Checksum::of_bytes(&body))
    );
    harness.stop().await;
}

/// Parts joined into more than the joined-digest limit are placed without being read
/// through SHA-256 (registration would wait on it): no digest is recorded, and the
/// object reads back whole. At the limit the digest is recorded as the parts join.
#[actix_web::test]
async fn parts_joined_above_the_digest_limit_record_no_digest() {
    let harness = Harness::start_with(|store| store.with_joined_digest_max_bytes(1000)).await;
    for (name, size, recorded) in [("at.img", 1000, true), ("above.img", 1001, false)] {
        let key = new_key(name);
        let (upload, url) = harness.upload_in_parts(&key).await;
        let body = pattern(size, 5);
        let response = harness.put(&url, body.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let parts = [CompletedPart {
            part_number: PartNumber::parse(1).unwrap(),
            etag: header(&response, "etag").to_owned(),
        }];
        harness
            .store
            .complete_multipart(&key, &upload, &parts)
            .await
            .unwrap();
        let digest = Checksum::of_bytes(&body);
        assert_eq!(
            harness.store.recorded_sha256(&key).await.unwrap(),
            recorded.then_some(digest),
            "{name}"
        );
        assert_eq!(harness.store.sha256(&key).await.unwrap(), Some(digest));
    }
    harness.stop().await;
}
