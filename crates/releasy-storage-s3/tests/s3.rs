//! `S3ObjectStore` against real S3-compatible servers: s3s-fs in-process, and moto's
//! server as a second, independent implementation for everything both must agree on.
//! Refusals of bad signatures and expired URLs are checked on s3s-fs only: moto does not
//! check signatures.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use releasy_domain::Timestamp;
use releasy_domain::artifact::{Checksum, ObjectKey};
use releasy_domain::ports::{DeclaredObject, ObjectStore, StoreError};
use releasy_storage_s3::testing::{RunningS3, S3Implementation, TestS3Server};
use releasy_storage_s3::{S3Config, S3ObjectStore};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    Timestamp::from_unix_seconds(i64::try_from(secs).expect("seconds fit i64"))
}

fn object_key(filename: &str) -> ObjectKey {
    ObjectKey::from_stored(format!(
        "releases/app/1.0.0/linux_x86_64/00000000-0000-0000-0000-000000000001/{filename}"
    ))
}

/// s3s-fs, which checks signatures and expiry: the tests of refusals run on it.
async fn setup() -> (TestS3Server, S3ObjectStore) {
    let server = TestS3Server::start().await;
    let store = S3ObjectStore::new(server.config()).expect("store on the test server");
    (server, store)
}

async fn setup_on(implementation: S3Implementation) -> (RunningS3, S3ObjectStore) {
    let running = RunningS3::start(implementation).await;
    let store = S3ObjectStore::new(running.config()).expect("store on the test server");
    (running, store)
}

/// Runs each listed test on s3s-fs and on moto.
macro_rules! on_both_servers {
    ($($test:ident),+ $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3s() {
                    super::$test(super::S3Implementation::S3s).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn moto() {
                    super::$test(super::S3Implementation::Moto).await;
                }
            }
        )+
    };
}

on_both_servers!(
    presigned_put_get_head_delete_round_trip,
    chunked_upload_without_length_is_accepted,
    a_missing_bucket_is_an_error_not_a_missing_object,
    five_mebibyte_object_round_trips_intact,
    a_conditional_put_never_replaces_an_object,
    the_entity_tag_names_the_content,
);

/// `PUT`s `body` to a presigned `PUT` with the headers it asks for.
async fn put_with(upload: &releasy_domain::ports::PresignedPut, body: Vec<u8>) -> StatusCode {
    let mut request = reqwest::Client::new().put(&upload.url.url).body(body);
    for (name, value) in &upload.headers {
        request = request.header(name, value);
    }
    request
        .send()
        .await
        .expect("PUT reaches the server")
        .status()
}

/// With conditional uploads on, the presigned `PUT` signs `If-None-Match: *`: the
/// first upload is stored, a second to the same URL is refused (`412`) and the first
/// bytes stay.
async fn a_conditional_put_never_replaces_an_object(implementation: S3Implementation) {
    let (_server, store) = setup_on(implementation).await;
    let store = store.with_conditional_put(true);
    let key = object_key("conditional.bin");
    let upload = store
        .presign_put_with(&key, now(), 900, DeclaredObject::default())
        .await
        .unwrap();
    assert_eq!(
        upload.headers,
        [("if-none-match".to_owned(), "*".to_owned())],
        "the client is told to send the condition"
    );
    let first = pseudo_random_bytes(2048);
    assert_eq!(put_with(&upload, first.clone()).await, StatusCode::OK);
    let second = pseudo_random_bytes(4096);
    assert_eq!(
        put_with(&upload, second).await,
        StatusCode::PRECONDITION_FAILED,
        "no URL replaces a stored object"
    );
    assert_eq!(
        store.sha256(&key).await.unwrap(),
        Some(Checksum::of_bytes(&first))
    );
    // Without the header the signature does not match, so the condition cannot be
    // dropped (moto does not check presigned signatures: s3s-fs only).
    if matches!(implementation, S3Implementation::S3s) {
        assert_eq!(put(&upload.url.url, first).await, StatusCode::FORBIDDEN);
    }
}

/// `head` reports the entity tag: the same for the same object, another once other
/// bytes are stored under the key.
async fn the_entity_tag_names_the_content(implementation: S3Implementation) {
    let (_server, store) = setup_on(implementation).await;
    let key = object_key("tagged.bin");
    let upload = store.presign_put(&key, now(), 900).await.unwrap();
    assert_eq!(
        put(&upload.url, pseudo_random_bytes(1000)).await,
        StatusCode::OK
    );
    let first = store.head(&key).await.unwrap().expect("stored");
    assert!(first.etag.is_some(), "S3 names every object: {first:?}");
    assert_eq!(store.head(&key).await.unwrap(), Some(first.clone()));
    assert_eq!(
        put(&upload.url, pseudo_random_bytes(999)).await,
        StatusCode::OK
    );
    let second = store.head(&key).await.unwrap().expect("stored");
    assert_ne!(second.etag, first.etag, "other bytes, another tag");
}

/// Deterministic, incompressible-looking bytes.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        })
        .collect()
}

async fn put(url: &str, body: Vec<u8>) -> StatusCode {
    reqwest::Client::new()
        .put(url)
        .body(body)
        .send()
        .await
        .expect("PUT reaches the server")
        .status()
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("GET reaches the server")
}

async fn presigned_put_get_head_delete_round_trip(implementation: S3Implementation) {
    let (_server, store) = setup_on(implementation).await;
    let key = object_key("app.tgz");
    let bytes = b"hello releasy artifact".to_vec();
    let t0 = now();

    let upload = store.presign_put(&key, t0, 900).await.unwrap();
    assert_eq!(upload.expires_at, t0.plus_seconds(900));
    assert_eq!(put(&upload.url, bytes.clone()).await, StatusCode::OK);

    assert_eq!(
        store.head(&key).await.unwrap().map(|meta| meta.size),
        Some(bytes.len() as u64)
    );

    let download = store.presign_get(&key, t0, 600).await.unwrap();
    assert_eq!(download.expires_at, t0.plus_seconds(600));
    assert!(
        download
            .url
            .contains("response-content-disposition=attachment"),
        "the GET URL asks for an attachment download"
    );
    let response = get(&download.url).await;
    assert_eq!(response.status(), StatusCode::OK);
    // s3s-fs does not apply response-content-disposition, but when a server does, it
    // must be the key's file name.
    if let Some(disposition) = response.headers().get(reqwest::header::CONTENT_DISPOSITION) {
        assert_eq!(disposition, "attachment; filename=\"app.tgz\"");
    }
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    assert_eq!(store.head(&object_key("missing.tgz")).await.unwrap(), None);

    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    // A deleted object is gone for its old URL too. S3 answers 404 when the signer may
    // list the bucket and 403 when not (so as not to reveal which keys exist): s3s-fs
    // says 404, moto 403. Either way the bytes are not served.
    let gone = get(&download.url).await.status();
    assert!(
        [StatusCode::NOT_FOUND, StatusCode::FORBIDDEN].contains(&gone),
        "{gone}"
    );

    // Deleting what is not there succeeds.
    store.delete(&key).await.unwrap();
    store
        .delete(&object_key("never-existed.tgz"))
        .await
        .unwrap();
}

async fn chunked_upload_without_length_is_accepted(implementation: S3Implementation) {
    let (_server, store) = setup_on(implementation).await;
    let key = object_key("streamed.bin");
    let bytes = pseudo_random_bytes(200_000);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));

    let upload = store.presign_put(&key, now(), 900).await.unwrap();
    let request = reqwest::Client::new()
        .put(&upload.url)
        .body(body)
        .build()
        .unwrap();
    assert!(
        request
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .is_none(),
        "the body is streamed without a length"
    );
    let status = reqwest::Client::new()
        .execute(request)
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);

    assert_eq!(
        store.head(&key).await.unwrap().map(|meta| meta.size),
        Some(bytes.len() as u64)
    );
    let download = store.presign_get(&key, now(), 60).await.unwrap();
    let fetched = get(&download.url).await.bytes().await.unwrap();
    assert_eq!(fetched.as_ref(), bytes.as_slice());
}

/// `url` with one character of its `X-Amz-Signature` value changed.
fn with_tampered_signature(url: &str) -> String {
    let at = url.find("X-Amz-Signature=").expect("a signed URL") + "X-Amz-Signature=".len();
    let mut tampered = url.to_owned();
    let original = &url[at..=at];
    let replacement = if original == "0" { "1" } else { "0" };
    tampered.replace_range(at..=at, replacement);
    assert_ne!(tampered, url);
    tampered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_urls_are_refused() {
    let (_server, store) = setup().await;
    let key = object_key("app.tgz");
    let upload = store.presign_put(&key, now(), 900).await.unwrap();

    // A changed signature.
    assert_eq!(
        put(&with_tampered_signature(&upload.url), b"x".to_vec()).await,
        StatusCode::FORBIDDEN
    );
    // The signature of one key used for another.
    let other_key = upload.url.replace("/app.tgz?", "/evil.tgz?");
    assert_ne!(other_key, upload.url);
    assert_eq!(put(&other_key, b"x".to_vec()).await, StatusCode::FORBIDDEN);
    // A longer validity than was signed.
    let longer = upload
        .url
        .replace("X-Amz-Expires=900", "X-Amz-Expires=604800");
    assert_ne!(longer, upload.url);
    assert_eq!(put(&longer, b"x".to_vec()).await, StatusCode::FORBIDDEN);
    // A PUT URL is not a GET URL.
    assert_eq!(get(&upload.url).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert_eq!(
        store
            .head(&ObjectKey::from_stored(
                "releases/app/1.0.0/linux_x86_64/00000000-0000-0000-0000-000000000001/evil.tgz"
                    .into()
            ))
            .await
            .unwrap(),
        None
    );

    // The genuine URL still works, and so does its GET counterpart, untampered only.
    assert_eq!(put(&upload.url, b"ok".to_vec()).await, StatusCode::OK);
    let download = store.presign_get(&key, now(), 60).await.unwrap();
    assert_eq!(
        get(&with_tampered_signature(&download.url)).await.status(),
        StatusCode::FORBIDDEN
    );
    let other_disposition = download.url.replace("app.tgz%22", "evil.exe%22");
    assert_ne!(other_disposition, download.url);
    assert_eq!(
        get(&other_disposition).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&download.url).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_urls_are_refused() {
    let (_server, store) = setup().await;
    let key = object_key("app.tgz");
    let upload = store.presign_put(&key, now(), 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        put(&upload.url, b"late".to_vec()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(store.head(&key).await.unwrap(), None);

    let fresh = store.presign_put(&key, now(), 60).await.unwrap();
    assert_eq!(put(&fresh.url, b"on time".to_vec()).await, StatusCode::OK);
    let download = store.presign_get(&key, now(), 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(get(&download.url).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused() {
    let (server, _store) = setup().await;
    let wrong = S3ObjectStore::new(S3Config {
        secret_key: "not-the-secret".into(),
        ..server.config()
    })
    .unwrap();
    let key = object_key("app.tgz");

    let upload = wrong.presign_put(&key, now(), 900).await.unwrap();
    assert_eq!(put(&upload.url, b"x".to_vec()).await, StatusCode::FORBIDDEN);

    let err = wrong.head(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    let err = wrong.delete(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    assert!(!format!("{err:?}").contains("not-the-secret"));
}

async fn a_missing_bucket_is_an_error_not_a_missing_object(implementation: S3Implementation) {
    let (server, existing) = setup_on(implementation).await;
    let store = S3ObjectStore::new(S3Config {
        bucket: "no-such-bucket".into(),
        ..server.config()
    })
    .unwrap();
    // As unavailable as a store that does not answer: a bucket being moved, or a
    // configuration to mend, never what a missing object means.
    let err = store.delete(&object_key("app.tgz")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(format!("{err:?}").contains("NoSuchBucket"), "{err:?}");
    // HEAD answers carry no body: a 404 is asked again with a ranged GET, so that a
    // download does not judge every artifact's bytes changed while the bucket is
    // missing. (s3s-fs answers that GET `NoSuchKey`, unlike S3 and moto: there a
    // missing bucket still reads as a missing object; docs/storage.md lists it.)
    let head = store.head(&object_key("app.tgz")).await;
    // A read through SHA-256 (the verifier's) tells the same: a missing object would
    // fail its artifact for good.
    let read = store.sha256(&object_key("app.tgz")).await;
    match implementation {
        S3Implementation::Moto => {
            for err in [head.unwrap_err(), read.unwrap_err()] {
                assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
                assert!(format!("{err:?}").contains("no-such-bucket"), "{err:?}");
            }
        }
        S3Implementation::S3s => {
            assert_eq!(head.unwrap(), None);
            assert_eq!(read.unwrap(), None);
        }
    }
    // While an object merely missing from a bucket that exists is just that.
    assert_eq!(
        existing.head(&object_key("missing.tgz")).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_is_unavailable() {
    let store = store_at("http://127.0.0.1:1".into());
    let key = object_key("app.tgz");

    let err = store.head(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let debug = format!("{err:?}");
    assert!(!debug.contains("very-secret-key"), "{debug}");
    assert!(!debug.contains("127.0.0.1:1/"), "no URL in errors: {debug}");

    let err = store.delete(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    // Presigning needs no connection.
    store.presign_put(&key, now(), 60).await.unwrap();
    store.presign_get(&key, now(), 60).await.unwrap();
}

/// A store at `endpoint` with the tests' bucket and credentials.
fn store_at(endpoint: String) -> S3ObjectStore {
    S3ObjectStore::new(S3Config {
        bucket: "artifacts".into(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint),
        access_key: "ak".into(),
        secret_key: "very-secret-key".into(),
        path_style: true,
    })
    .unwrap()
}

/// A store on loopback that answers every request with `answer` and then sends nothing
/// more, holding the connection open.
async fn stalling_store(answer: &'static str) -> S3ObjectStore {
    store_answering(move |_| answer).await
}

/// A store on loopback that answers each request with what `answer` gives for its
/// start (method and path), then sends nothing more, holding the connection open.
async fn store_answering(
    answer: impl Fn(&str) -> &'static str + Copy + Send + Sync + 'static,
) -> S3ObjectStore {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut request = [0_u8; 4096];
                let read = socket.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..read]);
                let _ = socket.write_all(answer(&request).as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(3_600)).await;
            });
        }
    });
    store_at(format!("http://{address}")).with_read_idle_timeout(Duration::from_secs(1))
}

/// A `HEAD` answered 404 means a missing object only when the `GET` that asks for S3's
/// reason says so: a store failing to answer says nothing about the object (a missing
/// one fails its artifact for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_not_taken_for_a_missing_object() {
    const NOT_FOUND: &str =
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    const NO_SUCH_KEY: &str = concat!(
        "HTTP/1.1 404 Not Found\r\ncontent-length: 37\r\nconnection: close\r\n\r\n",
        "<Error><Code>NoSuchKey</Code></Error>",
    );
    const UNAVAILABLE: &str = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\nconnection: close\r\n\r\nSlowDown!";
    const FORBIDDEN: &str =
        "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let key = object_key("app.tgz");
    let missing = store_answering(|request| {
        if request.starts_with("HEAD") {
            NOT_FOUND
        } else {
            NO_SUCH_KEY
        }
    })
    .await;
    assert_eq!(missing.head(&key).await.unwrap(), None);
    let unavailable = store_answering(|request| {
        if request.starts_with("HEAD") {
            NOT_FOUND
        } else {
            UNAVAILABLE
        }
    })
    .await;
    let err = unavailable.head(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let forbidden = store_answering(|request| {
        if request.starts_with("HEAD") {
            NOT_FOUND
        } else {
            FORBIDDEN
        }
    })
    .await;
    assert!(forbidden.head(&key).await.is_err());
}

/// A read is never cut off while bytes arrive, however long it takes; a store that
/// stops sending midway (or never answers) is given up on after the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_the_store_stops_sending_is_unavailable() {
    let key = object_key("big.bin");
    for answer in [
        "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nthe first bytes",
        "",
    ] {
        let store = stalling_store(answer).await;
        let started = std::time::Instant::now();
        let err = store.sha256(&key).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(30), "{err:?}");
    }
}

/// A store that cuts a read off midway (the connection closed before the body's end),
/// or answers a server error S3 asks clients to retry, is unavailable: a registration
/// then answers `503`, not `500`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_cut_off_or_a_server_error_is_unavailable() {
    let key = object_key("big.bin");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let mut request = [0_u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nthe first bytes")
                .await;
            // Dropped: the body ends 985 bytes early.
        }
    });
    let cut_off = store_at(format!("http://{address}"));
    let err = cut_off.sha256(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    const INTERNAL_ERROR: &str = concat!(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 41\r\n\r\n",
        "<Error><Code>InternalError</Code></Error>",
    );
    // Longer than rust-s3's own retry of a GET (a second later), so that the answer is
    // its 500, not a store that stopped sending.
    let failing = stalling_store(INTERNAL_ERROR)
        .await
        .with_read_idle_timeout(Duration::from_secs(20));
    for err in [
        failing.delete(&key).await.unwrap_err(),
        failing.sha256(&key).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
}

/// `ListParts` answered with a server error is unavailable (as any other request), and
/// a page that says more follow without saying where is an error, not the whole list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parts_answers_are_not_taken_for_more_than_they_say() {
    let key = object_key("big.bin");
    let upload = releasy_domain::artifact::UploadId::parse("upload-1".to_owned()).unwrap();
    let slow_down = stalling_store(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\nconnection: close\r\n\r\nSlowDown!",
    )
    .await;
    let err = slow_down.list_parts(&key, &upload).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let truncated = stalling_store(concat!(
        "HTTP/1.1 200 OK\r\ncontent-length: 141\r\nconnection: close\r\n\r\n",
        "<ListPartsResult><IsTruncated>true</IsTruncated>",
        "<Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag><Size>5242880</Size></Part>",
        "</ListPartsResult>",
    ))
    .await;
    let err = truncated.list_parts(&key, &upload).await.unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
}

/// Throttling (`429`, what R2 and Google Cloud Storage answer under load) is
/// unavailable like a `503`, for any request and for `ListParts`; so is a completion
/// answered `200 OK` with an `InternalError` document, which S3 sends when it fails
/// after its headers went out. Unavailable is a `503` with `Retry-After` to the client,
/// and a short wait for the verifier, not a `500`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_a_completion_failed_after_200_are_unavailable() {
    use releasy_domain::artifact::{CompletedPart, PartNumber, UploadId};
    use releasy_domain::ports::CompleteMultipartError;

    let key = object_key("big.bin");
    let upload = UploadId::parse("upload-1".to_owned()).unwrap();
    let throttled = stalling_store(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )
    .await;
    for err in [
        throttled.delete(&key).await.unwrap_err(),
        throttled.list_parts(&key, &upload).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    let failed_after_200 = stalling_store(concat!(
        "HTTP/1.1 200 OK\r\ncontent-length: 41\r\nconnection: close\r\n\r\n",
        "<Error><Code>InternalError</Code></Error>",
    ))
    .await;
    let parts = [CompletedPart {
        part_number: PartNumber::parse(1).unwrap(),
        etag: "\"a\"".to_owned(),
    }];
    let err = failed_after_200
        .complete_multipart(&key, &upload, &parts)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CompleteMultipartError::Store(StoreError::Unavailable(_))
        ),
        "{err:?}"
    );
}

async fn five_mebibyte_object_round_trips_intact(implementation: S3Implementation) {
    let (_server, store) = setup_on(implementation).await;
    let key = object_key("big.bin");
    let bytes = pseudo_random_bytes(5 * 1024 * 1024);
    let expected = Sha256::digest(&bytes);

    let upload = store.presign_put(&key, now(), 900).await.unwrap();
    assert_eq!(put(&upload.url, bytes.clone()).await, StatusCode::OK);
    assert_eq!(
        store.head(&key).await.unwrap().map(|meta| meta.size),
        Some(5 * 1024 * 1024)
    );

    let download = store.presign_get(&key, now(), 600).await.unwrap();
    let response = get(&download.url).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fetched = response.bytes().await.unwrap();
    assert_eq!(fetched.len(), bytes.len());
    assert_eq!(Sha256::digest(&fetched), expected);

    // The store reads the object through SHA-256 for registration.
    let digest = store.sha256(&key).await.unwrap().expect("stored");
    assert_eq!(digest.as_str(), format!("{expected:x}"));
    assert_eq!(store.sha256(&object_key("never.bin")).await.unwrap(), None);
}

/// The object-store contract on s3s-fs, which completes an upload whatever ETags the
/// parts are named with (and forgets the upload when a completion fails), lists an
/// upload it does not know as empty, refuses to complete or abort one with 403, and
/// keeps a body it refused for a wrong `x-amz-checksum-sha256`: the ETag check runs on
/// moto only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_honours_the_object_store_contract() {
    let (_server, store) = setup_on(S3Implementation::S3s).await;
    releasy_testkit::objects::run_all(releasy_testkit::objects::StoreUnderTest {
        store: std::sync::Arc::new(store),
        now: now(),
        leniency: releasy_testkit::objects::Leniency {
            ignores_part_etags: true,
            lists_unknown_uploads_as_empty: true,
            misreports_unknown_uploads: true,
            accepts_wrong_checksums: false,
            keeps_refused_bodies: true,
        },
    })
    .await;
}

/// The object-store contract on moto, which fails with a server error (500) when asked
/// to complete an upload it does not know, and stores a body whatever its signed
/// `x-amz-checksum-sha256` says: the refusal of a wrong body runs on s3s-fs only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_honours_the_object_store_contract() {
    let (_server, store) = setup_on(S3Implementation::Moto).await;
    releasy_testkit::objects::run_all(releasy_testkit::objects::StoreUnderTest {
        store: std::sync::Arc::new(store),
        now: now(),
        leniency: releasy_testkit::objects::Leniency {
            misreports_unknown_uploads: true,
            accepts_wrong_checksums: true,
            ..Default::default()
        },
    })
    .await;
}
