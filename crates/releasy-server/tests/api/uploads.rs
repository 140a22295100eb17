//! Uploads in parts through the API, on both databases and both stores (and moto):
//! presign with `size` and `checksum`, parts `PUT` to their own URLs, the state of an
//! unfinished upload and its resumption, registration with `parts`, refusals, abort,
//! and the sweeper of abandoned uploads. Parts are 5 MiB, S3's least.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::database::{Db, with_conn};
use crate::flow::{artifact_bytes, sha256_hex};
use crate::helpers::{Backend, Storage, TestApp, assert_error, on_every_backend_and_store};
use crate::releases::{create_release, ok_json};

const PART: usize = 5 * 1024 * 1024;

/// A server whose part size is 5 MiB (plus `extra` settings).
async fn spawn(backend: Backend, storage: Storage, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5242880")];
    settings.extend_from_slice(extra);
    TestApp::spawn_with_storage_and(backend, storage, &settings).await
}

/// How many uploads the server's database records as unregistered.
async fn upload_records(app: &TestApp) -> i64 {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        records: i64,
    }
    let mut db = Db::connect(app).await;
    let counted: Vec<Count> = with_conn!(&mut db, conn => {
        diesel::sql_query("SELECT COUNT(*) AS records FROM artifact_uploads")
            .load(conn)
            .await
            .unwrap()
    });
    counted[0].records
}

/// What a presign declares of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declare {
    Nothing,
    Size,
    SizeAndChecksum,
}

/// An upload presigned for `bytes` in a fresh release.
struct Upload {
    release_id: String,
    presigned: Value,
}

impl Upload {
    async fn presign(app: &TestApp, bytes: &[u8], declare: Declare) -> Self {
        let release = create_release(app, "app", &format!("1.0.{}", rand_suffix())).await;
        let release_id = release["id"].as_str().unwrap().to_owned();
        let mut body = json!({"filename": "disk.img", "platform": "linux"});
        if declare != Declare::Nothing {
            body["size"] = json!(bytes.len());
        }
        if declare == Declare::SizeAndChecksum {
            body["checksum"] = json!(sha256_hex(bytes));
        }
        let presigned = ok_json(
            app.admin(
                Method::POST,
                &format!("/v1/releases/{release_id}/artifacts/presign"),
            )
            .json(&body)
            .send()
            .await
            .unwrap(),
        )
        .await;
        Self {
            release_id,
            presigned,
        }
    }

    fn artifact_id(&self) -> &str {
        self.presigned["artifact_id"].as_str().unwrap()
    }

    fn upload_path(&self) -> String {
        format!(
            "/v1/releases/{}/artifacts/{}/upload",
            self.release_id,
            self.artifact_id()
        )
    }

    /// The URL of part `number` in a presign or state `multipart` object.
    fn part_url(multipart: &Value, number: u64) -> String {
        multipart["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["part_number"] == number)
            .unwrap_or_else(|| panic!("no URL for part {number} in {multipart}"))["upload_url"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `PUT`s part `number` of `bytes` to `url`; returns its ETag.
    async fn put_part(app: &TestApp, url: &str, bytes: &[u8], number: usize) -> String {
        let chunk = &bytes[(number - 1) * PART..(number * PART).min(bytes.len())];
        let response = app
            .client
            .put(url)
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "part {number}");
        response.headers()["etag"].to_str().unwrap().to_owned()
    }

    async fn state(&self, app: &TestApp) -> reqwest::Response {
        app.admin(Method::GET, &self.upload_path())
            .send()
            .await
            .unwrap()
    }

    async fn register(
        &self,
        app: &TestApp,
        bytes: &[u8],
        parts: Option<Vec<(usize, String)>>,
    ) -> reqwest::Response {
        let mut body = json!({
            "artifact_id": self.artifact_id(),
            "object_key": self.presigned["object_key"],
            "checksum": sha256_hex(bytes),
            "size": bytes.len(),
            "platform": "linux",
        });
        if let Some(parts) = parts {
            body["parts"] = parts
                .into_iter()
                .map(|(number, etag)| json!({"part_number": number, "etag": etag}))
                .collect();
        }
        app.admin(
            Method::POST,
            &format!("/v1/releases/{}/artifacts", self.release_id),
        )
        .json(&body)
        .send()
        .await
        .unwrap()
    }
}

fn rand_suffix() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32 % 1_000_000
}

/// A file of three parts: two whole ones and a short last one.
fn three_parts() -> Vec<u8> {
    artifact_bytes(2 * PART + 1000)
}

async fn an_interrupted_upload_in_parts_resumes_and_registers(backend: Backend, storage: Storage) {
    let app = spawn(backend, storage, &[]).await;
    let bytes = three_parts();
    let upload = Upload::presign(&app, &bytes, Declare::SizeAndChecksum).await;
    let presigned = &upload.presigned;
    assert_eq!(presigned["upload_url"], Value::Null, "{presigned}");
    let multipart = &presigned["multipart"];
    assert_eq!(multipart["part_size"], PART);
    assert_eq!(multipart["part_count"], 3);
    assert_eq!(multipart["parts"].as_array().unwrap().len(), 3);

    // Parts 1 and 3 arrive; the client stops.
    let one = Upload::put_part(&app, &Upload::part_url(multipart, 1), &bytes, 1).await;
    let three = Upload::put_part(&app, &Upload::part_url(multipart, 3), &bytes, 3).await;
    let state = ok_json(upload.state(&app).await).await;
    assert_eq!(state["artifact_id"], upload.artifact_id());
    assert_eq!(state["size"], bytes.len());
    let uploaded: Vec<(u64, u64)> = state["uploaded_parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["part_number"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(uploaded, [(1, PART as u64), (3, 1000)], "{state}");
    let offered: Vec<u64> = state["multipart"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["part_number"].as_u64().unwrap())
        .collect();
    let (one, three) = if storage == Storage::S3 {
        // s3s-fs does not report ETags when listing parts (S3, moto and the embedded
        // store do), so the parts it holds cannot be named: they are offered again.
        assert_eq!(state["uploaded_parts"][0]["etag"], Value::Null);
        assert_eq!(offered, [1, 2, 3], "{state}");
        let again = &state["multipart"];
        (
            Upload::put_part(&app, &Upload::part_url(again, 1), &bytes, 1).await,
            Upload::put_part(&app, &Upload::part_url(again, 3), &bytes, 3).await,
        )
    } else {
        assert_eq!(state["uploaded_parts"][0]["etag"], one.as_str());
        assert_eq!(offered, [2], "only the missing part is offered: {state}");
        (one, three)
    };

    // The resumed client sends what is missing and registers.
    let url = Upload::part_url(&state["multipart"], 2);
    let two = Upload::put_part(&app, &url, &bytes, 2).await;
    let registered = ok_json(
        upload
            .register(&app, &bytes, Some(vec![(1, one), (2, two), (3, three)]))
            .await,
    )
    .await;
    assert_eq!(registered["size"], bytes.len());
    assert_eq!(registered["checksum"], sha256_hex(&bytes));
    assert_error(upload.state(&app).await, 404, "not_found").await;
    if let Some(path) = app.embedded_object_path(presigned["object_key"].as_str().unwrap()) {
        assert_eq!(std::fs::read(path).unwrap(), bytes);
    }
    // No part URL can change the registered bytes. (S3 answers 404 NoSuchUpload, the
    // embedded store too; s3s-fs answers 403, moto 500.)
    let late = app
        .client
        .put(Upload::part_url(multipart, 2))
        .body(vec![0_u8; 10])
        .send()
        .await
        .unwrap();
    assert!(
        !late.status().is_success(),
        "a part of a completed upload: {}",
        late.status()
    );
    if let Some(path) = app.embedded_object_path(presigned["object_key"].as_str().unwrap()) {
        assert_eq!(late.status(), 404);
        assert_eq!(
            std::fs::read(path).unwrap(),
            bytes,
            "the object is unchanged"
        );
    }
}

async fn registration_refuses_parts_that_are_not_the_upload(backend: Backend, storage: Storage) {
    let app = spawn(backend, storage, &[]).await;
    let bytes = three_parts();
    let upload = Upload::presign(&app, &bytes, Declare::SizeAndChecksum).await;
    let multipart = upload.presigned["multipart"].clone();
    let mut parts = Vec::new();
    for number in 1..=3 {
        let url = Upload::part_url(&multipart, number as u64);
        parts.push((number, Upload::put_part(&app, &url, &bytes, number).await));
    }

    let without = upload.register(&app, &bytes, None).await;
    let message = assert_error(without, 400, "bad_request").await;
    assert!(message.contains("register it with `parts`"), "{message}");
    let two_of_three = upload
        .register(&app, &bytes, Some(parts[..2].to_vec()))
        .await;
    assert_error(two_of_three, 400, "bad_request").await;
    let mut other = bytes.clone();
    other[7] ^= 1;
    let other_checksum = upload.register(&app, &other, Some(parts.clone())).await;
    let message = assert_error(other_checksum, 400, "bad_request").await;
    assert!(
        message.contains("declared when the upload was presigned"),
        "{message}"
    );
    if storage != Storage::S3 {
        // s3s-fs joins parts whatever ETags they are named with.
        let mut wrong = parts.clone();
        wrong[1].1 = "\"0123456789abcdef0123456789abcdef\"".to_owned();
        let refused = upload.register(&app, &bytes, Some(wrong)).await;
        let message = assert_error(refused, 400, "bad_request").await;
        assert!(
            message.starts_with("the parts do not match the upload"),
            "{message}"
        );
    }
    // A middle part sent again short: refused on every store (not every S3
    // implementation refuses it when joining), and the upload stays open.
    let url = Upload::part_url(&multipart, 2);
    let short = app
        .client
        .put(&url)
        .body(bytes[PART..PART + 1000].to_vec())
        .send()
        .await
        .unwrap();
    assert!(short.status().is_success(), "{}", short.status());
    let mut with_short = parts.clone();
    with_short[1].1 = short.headers()["etag"].to_str().unwrap().to_owned();
    let refused = upload.register(&app, &bytes, Some(with_short)).await;
    let message = assert_error(refused, 400, "bad_request").await;
    assert_eq!(
        message,
        format!("the parts do not match the upload: part 2 must hold {PART} bytes")
    );
    parts[1].1 = Upload::put_part(&app, &url, &bytes, 2).await;
    // Every refusal left the upload open: the right parts register it.
    ok_json(upload.register(&app, &bytes, Some(parts)).await).await;
}

async fn parts_with_other_bytes_are_refused_and_deleted(backend: Backend, storage: Storage) {
    let app = spawn(backend, storage, &[]).await;
    let bytes = three_parts();
    // No checksum at presign: the server finds out after joining the parts.
    let upload = Upload::presign(&app, &bytes, Declare::Size).await;
    let multipart = upload.presigned["multipart"].clone();
    let mut sent = bytes.clone();
    sent[PART + 3] ^= 0xff;
    let mut parts = Vec::new();
    for number in 1..=3 {
        let url = Upload::part_url(&multipart, number as u64);
        parts.push((number, Upload::put_part(&app, &url, &sent, number).await));
    }
    let refused = upload.register(&app, &bytes, Some(parts.clone())).await;
    let message = assert_error(refused, 400, "bad_request").await;
    assert_eq!(message, "checksum does not match the stored object");
    assert_error(upload.state(&app).await, 404, "not_found").await;
    let key = upload.presigned["object_key"].as_str().unwrap();
    assert!(!app.holds_object(key).await, "the joined object is deleted");
    let again = upload.register(&app, &bytes, Some(parts)).await;
    let message = assert_error(again, 409, "conflict").await;
    assert_eq!(
        message,
        "the upload was aborted or has expired: presign it again"
    );
}

/// Sends every part of `bytes` to the upload; the parts to register.
async fn send_every_part(app: &TestApp, upload: &Upload, bytes: &[u8]) -> Vec<(usize, String)> {
    let multipart = &upload.presigned["multipart"];
    let mut parts = Vec::new();
    for number in 1..=bytes.len().div_ceil(PART) {
        let url = Upload::part_url(multipart, number as u64);
        parts.push((number, Upload::put_part(app, &url, bytes, number).await));
    }
    parts
}

/// Joined parts above the inline limit are not read while registration waits, on any
/// store (the embedded store does not hash them as it joins them): registered
/// `pending`, then settled by the background verifier, which deletes other bytes. At
/// the limit, registration reads them at once.
async fn parts_above_the_inline_limit_are_verified_in_the_background(
    backend: Backend,
    storage: Storage,
) {
    let limit = (2 * PART).to_string();
    let app = spawn(
        backend,
        storage,
        &[("RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES", limit.as_str())],
    )
    .await;

    let at_limit = artifact_bytes(2 * PART);
    let upload = Upload::presign(&app, &at_limit, Declare::Size).await;
    let parts = send_every_part(&app, &upload, &at_limit).await;
    let registered = ok_json(upload.register(&app, &at_limit, Some(parts)).await).await;
    assert_eq!(registered["verification"], "verified", "{registered}");

    let bytes = three_parts();
    let good = Upload::presign(&app, &bytes, Declare::Size).await;
    let parts = send_every_part(&app, &good, &bytes).await;
    let registered = ok_json(good.register(&app, &bytes, Some(parts)).await).await;
    assert_eq!(registered["verification"], "pending", "{registered}");

    let mut sent = bytes.clone();
    sent[PART + 3] ^= 0xff;
    let bad = Upload::presign(&app, &bytes, Declare::Size).await;
    let parts = send_every_part(&app, &bad, &sent).await;
    let registered = ok_json(bad.register(&app, &bytes, Some(parts)).await).await;
    assert_eq!(registered["verification"], "pending", "{registered}");

    let settled = app
        .settled_verification(&good.release_id, good.artifact_id())
        .await;
    assert_eq!(settled, "verified");
    let settled = app
        .settled_verification(&bad.release_id, bad.artifact_id())
        .await;
    assert_eq!(settled, "failed");
    let key = bad.presigned["object_key"].as_str().unwrap();
    assert!(
        app.object_gone_soon(key).await,
        "the other bytes are deleted"
    );
    let key = good.presigned["object_key"].as_str().unwrap();
    assert!(app.holds_object(key).await, "the verified bytes stay");
}

async fn an_aborted_upload_is_gone(backend: Backend, storage: Storage) {
    let app = spawn(backend, storage, &[]).await;
    let bytes = three_parts();
    let upload = Upload::presign(&app, &bytes, Declare::SizeAndChecksum).await;
    let multipart = upload.presigned["multipart"].clone();
    let one = Upload::put_part(&app, &Upload::part_url(&multipart, 1), &bytes, 1).await;
    let aborted = app
        .admin(Method::DELETE, &upload.upload_path())
        .send()
        .await
        .unwrap();
    assert_eq!(aborted.status(), 204);
    assert_error(upload.state(&app).await, 404, "not_found").await;
    // Who aborted what is in the audit trail, once.
    let audited = app
        .audit_events("event=artifact_upload.aborted&limit=10")
        .await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["actor"], "admin_key");
    let payload = &audited[0]["payload"];
    assert_eq!(payload["target"]["artifact_id"], upload.artifact_id());
    assert_eq!(payload["target"]["release_id"], upload.release_id.as_str());
    assert_eq!(
        payload["before"]["object_key"],
        upload.presigned["object_key"]
    );
    assert_eq!(payload["before"]["size"], bytes.len());
    assert_eq!(payload["before"]["multipart"], true);
    let again = app
        .admin(Method::DELETE, &upload.upload_path())
        .send()
        .await
        .unwrap();
    assert_error(again, 404, "not_found").await;
    let register = upload.register(&app, &bytes, Some(vec![(1, one)])).await;
    let message = assert_error(register, 409, "conflict").await;
    assert_eq!(
        message,
        "the upload was aborted or has expired: presign it again"
    );
    let late = app
        .client
        .put(Upload::part_url(&multipart, 2))
        .body(vec![0_u8; 10])
        .send()
        .await
        .unwrap();
    assert!(
        !late.status().is_success(),
        "a part of an aborted upload: {}",
        late.status()
    );

    // A single upload's URL cannot be taken back: bytes it stores after the abort are
    // not registered (the sweeper deletes them when the upload's TTL is over).
    let small = artifact_bytes(1000);
    let single = Upload::presign(&app, &small, Declare::SizeAndChecksum).await;
    let aborted = app
        .admin(Method::DELETE, &single.upload_path())
        .send()
        .await
        .unwrap();
    assert_eq!(aborted.status(), 204);
    let mut put = app
        .client
        .put(single.presigned["upload_url"].as_str().unwrap())
        .body(small.clone());
    for (name, value) in single.presigned["upload_headers"]
        .as_object()
        .into_iter()
        .flatten()
    {
        put = put.header(name, value.as_str().unwrap());
    }
    let put = put.send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let register = single.register(&app, &small, None).await;
    let message = assert_error(register, 409, "conflict").await;
    assert_eq!(
        message,
        "the upload was aborted or has expired: presign it again"
    );
}

async fn small_files_and_old_clients_get_one_url(backend: Backend, storage: Storage) {
    let app = spawn(backend, storage, &[]).await;
    for declare in [Declare::SizeAndChecksum, Declare::Nothing] {
        let bytes = artifact_bytes(PART);
        let upload = Upload::presign(&app, &bytes, declare).await;
        assert!(upload.presigned["upload_url"].is_string());
        assert!(
            upload.presigned.get("multipart").is_none(),
            "an old client sees no new field: {}",
            upload.presigned
        );
        // A single upload's state offers its URL again.
        let state = ok_json(upload.state(&app).await).await;
        assert!(state["upload_url"].is_string(), "{state}");
        assert_eq!(state["uploaded_parts"], json!([]));
        // A declared checksum is signed into an S3 PUT, which must then carry it.
        let signs_checksum = declare == Declare::SizeAndChecksum && storage != Storage::Embedded;
        assert_eq!(
            state.get("upload_headers").is_some(),
            signs_checksum,
            "{state}"
        );
        let mut put = app
            .client
            .put(state["upload_url"].as_str().unwrap())
            .body(bytes.clone());
        if let Some(headers) = state["upload_headers"].as_object() {
            for (name, value) in headers {
                put = put.header(name, value.as_str().unwrap());
            }
        }
        let put = put.send().await.unwrap();
        assert!(put.status().is_success(), "{}", put.status());
        ok_json(upload.register(&app, &bytes, None).await).await;
        let parts = upload
            .register(&app, &bytes, Some(vec![(1, "\"e\"".into())]))
            .await;
        assert_error(parts, 409, "conflict").await;
    }
    // A size the store cannot hold, and ids that are not UUIDs.
    let release = create_release(&app, "app", "9.9.9").await;
    let too_big = app
        .admin(
            Method::POST,
            &format!(
                "/v1/releases/{}/artifacts/presign",
                release["id"].as_str().unwrap()
            ),
        )
        .json(&json!({"filename": "x", "platform": "linux", "size": 6_i64 << 40}))
        .send()
        .await
        .unwrap();
    assert_error(too_big, 400, "bad_request").await;
    let bad_id = app
        .admin(
            Method::GET,
            &format!(
                "/v1/releases/{}/artifacts/nope/upload",
                release["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_error(bad_id, 400, "bad_request").await;
}

async fn the_sweeper_removes_abandoned_uploads_and_keeps_live_ones(
    backend: Backend,
    storage: Storage,
) {
    let app = spawn(
        backend,
        storage,
        &[
            // Short, so the test waits little; long enough that a loaded machine
            // (the whole suite on two cores) still sends the first part in time.
            ("RELEASY_ARTIFACT_PRESIGN_EXPIRES_SECONDS", "4"),
            ("RELEASY_ARTIFACT_UPLOAD_TTL_SECONDS", "5"),
        ],
    )
    .await;
    let bytes = three_parts();
    let in_parts = Upload::presign(&app, &bytes, Declare::SizeAndChecksum).await;
    let multipart = in_parts.presigned["multipart"].clone();
    Upload::put_part(&app, &Upload::part_url(&multipart, 1), &bytes, 1).await;
    let small = artifact_bytes(1000);
    let single = Upload::presign(&app, &small, Declare::Nothing).await;
    let put = app
        .client
        .put(single.presigned["upload_url"].as_str().unwrap())
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());

    // Both are swept once older than 5 s (the sweeper runs every second): their
    // records go, which only the sweep does. Past the TTL, before the sweep, their
    // state is already 404: no URL may outlive the TTL.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while upload_records(&app).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "abandoned uploads were not swept"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(in_parts.state(&app).await.status(), 404);
    assert_eq!(single.state(&app).await.status(), 404);
    // Their bytes are gone too.
    let register = single.register(&app, &small, None).await;
    let message = assert_error(register, 400, "bad_request").await;
    assert!(
        message.starts_with("object not found in storage"),
        "{message}"
    );

    // A live upload is kept and registers.
    let live = Upload::presign(&app, &small, Declare::Nothing).await;
    let put = app
        .client
        .put(live.presigned["upload_url"].as_str().unwrap())
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    assert_eq!(live.state(&app).await.status(), 200);
    ok_json(live.register(&app, &small, None).await).await;
}

on_every_backend_and_store!(
    an_interrupted_upload_in_parts_resumes_and_registers,
    registration_refuses_parts_that_are_not_the_upload,
    parts_with_other_bytes_are_refused_and_deleted,
    parts_above_the_inline_limit_are_verified_in_the_background,
    an_aborted_upload_is_gone,
    small_files_and_old_clients_get_one_url,
    the_sweeper_removes_abandoned_uploads_and_keeps_live_ones,
);

/// The second, independent S3 implementation: the resumed upload, and the refusals
/// (which it makes on wrong ETags, unlike s3s-fs).
mod moto {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interrupted_upload_in_parts_resumes_and_registers() {
        super::an_interrupted_upload_in_parts_resumes_and_registers(
            Backend::Postgres,
            Storage::Moto,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registration_refuses_parts_that_are_not_the_upload() {
        super::registration_refuses_parts_that_are_not_the_upload(Backend::Sqlite, Storage::Moto)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_aborted_upload_is_gone() {
        super::an_aborted_upload_is_gone(Backend::Postgres, Storage::Moto).await;
    }
}
