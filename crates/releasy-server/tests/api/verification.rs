//! Verification through the API, on both databases and both stores (and moto): every
//! registration answers the artifact's `verification`; a declared checksum is signed
//! into the S3 `PUT` so S3 refuses other bytes; objects above the inline limit are
//! registered `pending`, cannot be downloaded until the background verifier has read
//! them, and fail (their bytes deleted) when they differ; `releasy-server
//! verify-artifacts` checks artifacts after the fact, and a failed one stops resolving;
//! bytes replaced in S3 after registration are never served, and conditional upload
//! URLs cannot replace them at all.

use std::time::{Duration, Instant};

use base64::Engine as _;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_store_diesel::schema::artifacts;
use reqwest::Method;
use serde_json::{Value, json};

use crate::database::{Db, with_conn};
use crate::flow::{artifact_bytes, sha256_hex};
use crate::helpers::{Backend, Storage, TestApp, assert_error, on_every_backend_and_store};
use crate::releases::{create_release, ok_json, publish};

/// A published release of `product` with a customer entitled to it.
struct Shop {
    release_id: String,
    api_key: String,
}

impl Shop {
    async fn open(app: &TestApp, product: &str) -> Self {
        let (customer_id, api_key, _) = app.customer_with_key().await;
        ok_json(
            app.admin(
                Method::POST,
                &format!("/v1/admin/customers/{customer_id}/entitlements"),
            )
            .json(&json!({"product": product, "starts_at": 0}))
            .send()
            .await
            .unwrap(),
        )
        .await;
        let release = create_release(app, product, "1.0.0").await;
        let release_id = release["id"].as_str().unwrap().to_owned();
        publish(app, &release_id).await;
        Self {
            release_id,
            api_key,
        }
    }

    /// Presigns `platform`'s upload, declaring `declared`'s size and checksum when
    /// `declare` says so.
    async fn presign(
        &self,
        app: &TestApp,
        platform: &str,
        declared: &[u8],
        declare: bool,
    ) -> Value {
        let mut body = json!({"filename": "tool.tgz", "platform": platform});
        if declare {
            body["size"] = json!(declared.len());
            body["checksum"] = json!(sha256_hex(declared));
        }
        ok_json(
            app.admin(
                Method::POST,
                &format!("/v1/releases/{}/artifacts/presign", self.release_id),
            )
            .json(&body)
            .send()
            .await
            .unwrap(),
        )
        .await
    }

    /// Registers what was presigned as `declared`.
    async fn register(
        &self,
        app: &TestApp,
        presigned: &Value,
        platform: &str,
        declared: &[u8],
    ) -> reqwest::Response {
        app.admin(
            Method::POST,
            &format!("/v1/releases/{}/artifacts", self.release_id),
        )
        .json(&json!({
            "artifact_id": presigned["artifact_id"],
            "object_key": presigned["object_key"],
            "checksum": sha256_hex(declared),
            "size": declared.len(),
            "platform": platform,
        }))
        .send()
        .await
        .unwrap()
    }

    async fn token(&self, app: &TestApp, artifact_id: &str) -> reqwest::Response {
        app.customer(Method::POST, "/v1/downloads/token", &self.api_key)
            .json(&json!({"artifact_id": artifact_id}))
            .send()
            .await
            .unwrap()
    }

    /// `GET /v1/releases/latest?{query}` as the customer.
    async fn latest(&self, app: &TestApp, query: &str) -> reqwest::Response {
        app.customer(
            Method::GET,
            &format!("/v1/releases/latest?{query}"),
            &self.api_key,
        )
        .send()
        .await
        .unwrap()
    }

    /// Asserts that a token for the artifact is refused: `403 artifact not verified`.
    async fn refuses_download(&self, app: &TestApp, artifact_id: &str) {
        let message = assert_error(self.token(app, artifact_id).await, 403, "forbidden").await;
        assert_eq!(message, "artifact not verified");
    }

    /// The artifact as the release listing shows it.
    async fn listed(&self, app: &TestApp, artifact_id: &str) -> Value {
        app.listed_artifact(&self.release_id, artifact_id).await
    }

    /// Waits until the server shows the artifact `state`: a command's verdicts reach a
    /// SQLite server's cache within a second (it polls the external-writes counter), a
    /// PostgreSQL server's through the change feed.
    async fn shows(&self, app: &TestApp, artifact_id: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let listed = self.listed(app, artifact_id).await;
            if listed["verification"] == state {
                return;
            }
            assert!(Instant::now() < deadline, "still {listed} after 5 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (up to 30 s) until the artifact's verification is no longer `pending`.
    async fn settled(&self, app: &TestApp, artifact_id: &str) -> String {
        app.settled_verification(&self.release_id, artifact_id)
            .await
    }
}

/// `PUT`s `bytes` to the presigned upload with the headers it asks for; the status.
async fn put(app: &TestApp, presigned: &Value, bytes: &[u8]) -> reqwest::StatusCode {
    let mut request = app
        .client
        .put(presigned["upload_url"].as_str().unwrap())
        .body(bytes.to_vec());
    if let Some(headers) = presigned["upload_headers"].as_object() {
        for (name, value) in headers {
            request = request.header(name, value.as_str().unwrap());
        }
    }
    request.send().await.unwrap().status()
}

/// The same length as `bytes`, other content.
fn other_than(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|b| b ^ 0x5a).collect()
}

async fn registers_verified_and_lists_it(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage(backend, storage).await;
    let shop = Shop::open(&app, "tool").await;
    let bytes = artifact_bytes(4096);
    let presigned = shop.presign(&app, "linux", &bytes, false).await;
    assert!(
        presigned.get("upload_headers").is_none(),
        "without a checksum the presign answer is as before: {presigned}"
    );
    assert!(put(&app, &presigned, &bytes).await.is_success());
    let registered = ok_json(shop.register(&app, &presigned, "linux", &bytes).await).await;
    assert_eq!(registered["verification"], "verified", "{registered}");
    let id = registered["id"].as_str().unwrap();
    assert_eq!(shop.listed(&app, id).await["verification"], "verified");
    let token = shop.token(&app, id).await;
    assert_eq!(token.status(), 200);
}

/// With a declared checksum, S3 is sent a signed `x-amz-checksum-sha256` and refuses
/// other bytes; the embedded store needs no header (it hashes what it receives), and
/// registration refuses other bytes everywhere.
async fn a_declared_checksum_refuses_other_bytes(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage(backend, storage).await;
    let shop = Shop::open(&app, "tool").await;
    let bytes = artifact_bytes(4096);
    let presigned = shop.presign(&app, "linux", &bytes, true).await;
    let digest = sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        &bytes,
    ));
    let expected_header = base64::engine::general_purpose::STANDARD.encode(digest);
    match storage {
        Storage::Embedded => assert!(presigned.get("upload_headers").is_none(), "{presigned}"),
        Storage::S3 | Storage::Moto => assert_eq!(
            presigned["upload_headers"],
            json!({"x-amz-checksum-sha256": expected_header}),
            "{presigned}"
        ),
    }
    let status = put(&app, &presigned, &other_than(&bytes)).await;
    match storage {
        // S3 refuses the body (s3s-fs keeps it nonetheless: registration deletes it).
        Storage::S3 => assert_eq!(status, 400),
        Storage::Embedded | Storage::Moto => assert!(status.is_success(), "{status}"),
    }
    let refused = shop.register(&app, &presigned, "linux", &bytes).await;
    let message = assert_error(refused, 400, "bad_request").await;
    assert_eq!(message, "checksum does not match the stored object");

    let presigned = shop.presign(&app, "macos", &bytes, true).await;
    assert!(put(&app, &presigned, &bytes).await.is_success());
    let registered = ok_json(shop.register(&app, &presigned, "macos", &bytes).await).await;
    assert_eq!(registered["verification"], "verified", "{registered}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_stores_other_bytes_and_registration_refuses_them() {
    a_declared_checksum_refuses_other_bytes(Backend::Sqlite, Storage::Moto).await;
}

/// Above the inline limit, an object whose digest the store did not record (S3 without
/// a declared checksum) is registered `pending` and cannot be downloaded; the
/// embedded store's recorded digest decides at once, whatever the size.
async fn pending_artifacts_cannot_be_downloaded(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage_and(
        backend,
        storage,
        &[
            ("RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES", "0"),
            // The verifier looks once at startup, then not again during the test.
            ("RELEASY_ARTIFACT_VERIFY_INTERVAL_SECONDS", "3600"),
        ],
    )
    .await;
    let shop = Shop::open(&app, "tool").await;
    let bytes = artifact_bytes(4096);
    let presigned = shop.presign(&app, "linux", &bytes, false).await;
    assert!(put(&app, &presigned, &bytes).await.is_success());
    let registered = ok_json(shop.register(&app, &presigned, "linux", &bytes).await).await;
    let id = registered["id"].as_str().unwrap();
    if storage == Storage::Embedded {
        assert_eq!(registered["verification"], "verified", "{registered}");
        return;
    }
    assert_eq!(registered["verification"], "pending", "{registered}");
    assert_eq!(shop.listed(&app, id).await["verification"], "pending");
    shop.refuses_download(&app, id).await;
    // Updaters are not pointed at it: the release's only file cannot be downloaded.
    for query in ["product=tool", "product=tool&platform=linux"] {
        let latest = shop.latest(&app, query).await;
        assert_error(latest, 404, "not_found").await;
    }
    let upgrade = app
        .customer(
            Method::GET,
            "/v1/releases/upgrade?product=tool&current=0.1.0&platform=linux",
            &shop.api_key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(upgrade.status(), 204);
}

/// The background verifier reads pending artifacts: matching bytes become `verified`
/// and downloadable, other bytes `failed`, deleted, and never downloadable.
async fn the_verifier_settles_pending_artifacts(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage_and(
        backend,
        storage,
        &[("RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES", "0")],
    )
    .await;
    let shop = Shop::open(&app, "tool").await;
    let bytes = artifact_bytes(4096);

    let good = shop.presign(&app, "linux", &bytes, false).await;
    assert!(put(&app, &good, &bytes).await.is_success());
    let good_id = ok_json(shop.register(&app, &good, "linux", &bytes).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bad = shop.presign(&app, "macos", &bytes, false).await;
    assert!(put(&app, &bad, &other_than(&bytes)).await.is_success());
    let registered = shop.register(&app, &bad, "macos", &bytes).await;
    let bad_id = match storage {
        // The embedded store knows the digest at once: refused inline.
        Storage::Embedded => {
            assert_error(registered, 400, "bad_request").await;
            None
        }
        Storage::S3 | Storage::Moto => {
            Some(ok_json(registered).await["id"].as_str().unwrap().to_owned())
        }
    };

    assert_eq!(shop.settled(&app, &good_id).await, "verified");
    let latest = ok_json(shop.latest(&app, "product=tool").await).await;
    let listed: Vec<&Value> = latest["artifacts"].as_array().unwrap().iter().collect();
    assert_eq!(
        listed.len(),
        1,
        "only the downloadable file is offered: {latest}"
    );
    assert_eq!(listed[0]["id"], good_id.as_str());
    let token = ok_json(shop.token(&app, &good_id).await).await;
    let resolved = app
        .client
        .get(token["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resolved.status(), 302);

    if let Some(bad_id) = bad_id {
        assert_eq!(shop.settled(&app, &bad_id).await, "failed");
        shop.refuses_download(&app, &bad_id).await;
        let latest = shop.latest(&app, "product=tool&platform=macos").await;
        assert_error(latest, 404, "not_found").await;
        // Its bytes are gone from the store.
        let (code, out) = verify_artifacts(&app, &["--all"]);
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains(&format!("FAILED    {bad_id}")) && out.contains("no object is stored"),
            "{out}"
        );
    }
}

/// `releasy-server verify-artifacts` checks artifacts registered before checks
/// (`unverified`), and with `--all` every one: bytes changed in the store since
/// registration fail, and the artifact's download tokens stop resolving.
async fn verify_artifacts_finds_changed_bytes(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage(backend, storage).await;
    let shop = Shop::open(&app, "tool").await;
    let bytes = artifact_bytes(4096);
    let mut ids = Vec::new();
    let mut uploads = Vec::new();
    for platform in ["linux", "macos"] {
        let presigned = shop.presign(&app, platform, &bytes, false).await;
        assert!(put(&app, &presigned, &bytes).await.is_success());
        let registered = ok_json(shop.register(&app, &presigned, platform, &bytes).await).await;
        ids.push(registered["id"].as_str().unwrap().to_owned());
        uploads.push(presigned);
    }
    // The first artifact predates checks, as a row an older server stored reads.
    let mut db = Db::connect(&app).await;
    let query = diesel::update(artifacts::table.find(ids[0].clone()))
        .set(artifacts::verification.eq("unverified"));
    assert_eq!(
        with_conn!(&mut db, conn => query.execute(conn).await.unwrap()),
        1
    );
    assert_eq!(
        shop.listed(&app, &ids[0]).await["verification"],
        "unverified"
    );
    let old_token = ok_json(shop.token(&app, &ids[0]).await).await;

    if storage == Storage::Embedded {
        // Run with another data directory than the server's: refused before it
        // touches an artifact (an empty store would fail every one).
        let cwd = tempfile::tempdir().unwrap();
        let output = verify_command(&app, cwd.path(), &["--all"])
            .env("RELEASY_DATA_DIR", cwd.path().join("not-the-servers"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains("no embedded artifact store at"), "{err}");
        assert!(!cwd.path().join("not-the-servers").exists());
        for id in &ids[1..] {
            shop.shows(&app, id, "verified").await;
        }
    }
    let (code, out) = verify_artifacts(&app, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("verified  {}", ids[0])), "{out}");
    assert!(
        out.contains("checked 1 artifacts: 1 verified, 0 failed"),
        "{out}"
    );
    shop.shows(&app, &ids[0], "verified").await;

    // Someone with access to the store replaces the second artifact's bytes.
    let tampered = other_than(&bytes);
    match app.embedded_object_path(uploads[1]["object_key"].as_str().unwrap()) {
        Some(path) => std::fs::write(path, &tampered).unwrap(),
        // On S3 the upload URL is still valid (refusing it is issue 13's item 5).
        None => assert!(put(&app, &uploads[1], &tampered).await.is_success()),
    }
    let token = ok_json(shop.token(&app, &ids[1]).await).await;
    let (code, out) = verify_artifacts(&app, &["--all"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("FAILED    {}", ids[1]))
            && out.contains("the stored bytes' sha256 is not the registered one"),
        "{out}"
    );
    assert!(
        out.contains("checked 2 artifacts: 1 verified, 1 failed"),
        "{out}"
    );
    shop.shows(&app, &ids[1], "failed").await;
    let resolve = |url: &Value| app.client.get(url.as_str().unwrap()).send();
    let refused = resolve(&token["download_url"]).await.unwrap();
    let message = assert_error(refused, 403, "forbidden").await;
    assert_eq!(message, "artifact not verified");
    assert_eq!(
        resolve(&old_token["download_url"]).await.unwrap().status(),
        302
    );
}

/// Bytes replaced under a registered artifact's key are never handed out: the embedded
/// store refuses the second `PUT`; on S3 a still-valid plain upload URL replaces them,
/// and the next resolve finds another entity tag, refuses (`403 artifact not
/// verified`), sets the artifact `failed` and records `artifact.changed`.
async fn replaced_bytes_are_never_served(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage(backend, storage).await;
    let shop = Shop::open(&app, "tool").await;
    let bytes = artifact_bytes(4096);
    let presigned = shop.presign(&app, "linux", &bytes, false).await;
    assert!(put(&app, &presigned, &bytes).await.is_success());
    let registered = ok_json(shop.register(&app, &presigned, "linux", &bytes).await).await;
    let id = registered["id"].as_str().unwrap();
    let token = ok_json(shop.token(&app, id).await).await;
    let resolve = || {
        app.client
            .get(token["download_url"].as_str().unwrap())
            .send()
    };
    assert_eq!(resolve().await.unwrap().status(), 302);

    let replaced = put(&app, &presigned, &other_than(&bytes)).await;
    if storage == Storage::Embedded {
        assert_eq!(replaced, 409, "the embedded store never replaces an object");
        assert_eq!(resolve().await.unwrap().status(), 302);
        return;
    }
    assert!(
        replaced.is_success(),
        "a plain S3 upload URL still writes: {replaced}"
    );
    let message = assert_error(resolve().await.unwrap(), 403, "forbidden").await;
    assert_eq!(message, "artifact not verified");
    assert_eq!(shop.listed(&app, id).await["verification"], "failed");
    let events = ok_json(
        app.admin(Method::GET, "/v1/admin/audit-events?event=artifact.changed")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let event = &events["events"][0];
    assert_eq!(event["actor"], "system", "{events}");
    assert_eq!(event["payload"]["artifact_id"], id, "{events}");
    assert_eq!(event["payload"]["object_key"], presigned["object_key"]);
    assert_ne!(
        event["payload"]["stored_etag"],
        event["payload"]["registered_etag"]
    );
    // Refused from now on without looking at the store.
    shop.refuses_download(&app, id).await;
}

/// With `RELEASY_ARTIFACT_CONDITIONAL_PUT`, S3 upload URLs carry `If-None-Match: *`
/// (in `upload_headers`): once registered, the object cannot be replaced through its
/// URL (`412`), and downloads go on.
async fn a_conditional_upload_url_cannot_replace_the_object(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage_and(
        backend,
        storage,
        &[("RELEASY_ARTIFACT_CONDITIONAL_PUT", "true")],
    )
    .await;
    let shop = Shop::open(&app, "tool").await;
    let bytes = artifact_bytes(4096);
    let presigned = shop.presign(&app, "linux", &bytes, false).await;
    let expected_headers = match storage {
        Storage::Embedded => Value::Null,
        Storage::S3 | Storage::Moto => json!({"if-none-match": "*"}),
    };
    assert_eq!(
        presigned
            .get("upload_headers")
            .cloned()
            .unwrap_or(Value::Null),
        expected_headers
    );
    assert!(put(&app, &presigned, &bytes).await.is_success());
    let registered = ok_json(shop.register(&app, &presigned, "linux", &bytes).await).await;
    let id = registered["id"].as_str().unwrap();
    let replaced = put(&app, &presigned, &other_than(&bytes)).await;
    let refused = match storage {
        Storage::Embedded => 409,
        Storage::S3 | Storage::Moto => 412,
    };
    assert_eq!(replaced, refused);
    let token = ok_json(shop.token(&app, id).await).await;
    let resolved = app
        .client
        .get(token["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resolved.status(), 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_never_serves_replaced_bytes() {
    replaced_bytes_are_never_served(Backend::Postgres, Storage::Moto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_refuses_a_conditional_upload_over_an_object() {
    a_conditional_upload_url_cannot_replace_the_object(Backend::Sqlite, Storage::Moto).await;
}

/// A verdict reaches a running SQLite server (whose cache learns of other processes'
/// writes from a counter) as soon as it is stored, even when the command stops right
/// after, before its report is written: here its output is a pipe closed at once, as
/// `verify-artifacts --all | head -0` would leave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_reaches_the_server_when_the_command_stops_before_reporting_it() {
    let app = TestApp::spawn_with_storage(Backend::Sqlite, Storage::Embedded).await;
    let shop = Shop::open(&app, "tool").await;
    let bytes = artifact_bytes(4096);
    let presigned = shop.presign(&app, "linux", &bytes, false).await;
    assert!(put(&app, &presigned, &bytes).await.is_success());
    let registered = ok_json(shop.register(&app, &presigned, "linux", &bytes).await).await;
    let id = registered["id"].as_str().unwrap().to_owned();
    // Cached as verified, then changed under the server.
    shop.shows(&app, &id, "verified").await;
    let path = app
        .embedded_object_path(presigned["object_key"].as_str().unwrap())
        .unwrap();
    std::fs::write(path, other_than(&bytes)).unwrap();

    let cwd = tempfile::tempdir().unwrap();
    let mut child = verify_command(&app, cwd.path(), &["--all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "its report could not be written: {status}"
    );
    shop.shows(&app, &id, "failed").await;
    shop.refuses_download(&app, &id).await;
}

/// `releasy-server verify-artifacts ARGS` run in `cwd` against `app`'s database and
/// store.
fn verify_command(app: &TestApp, cwd: &std::path::Path, args: &[&str]) -> std::process::Command {
    let command: Vec<&str> = std::iter::once("verify-artifacts")
        .chain(args.iter().copied())
        .collect();
    let vars: Vec<(&str, String)> = app
        .server_env()
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    crate::process::server_command(cwd, &command, &vars)
}

/// Runs `releasy-server verify-artifacts` with the server's settings; its exit code
/// and standard output.
fn verify_artifacts(app: &TestApp, args: &[&str]) -> (Option<i32>, String) {
    let cwd = tempfile::tempdir().unwrap();
    let output = verify_command(app, cwd.path(), args).output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr);
    (
        output.status.code(),
        format!("{out}\n--- stderr ---\n{err}"),
    )
}

on_every_backend_and_store!(
    registers_verified_and_lists_it,
    a_declared_checksum_refuses_other_bytes,
    pending_artifacts_cannot_be_downloaded,
    the_verifier_settles_pending_artifacts,
    verify_artifacts_finds_changed_bytes,
    replaced_bytes_are_never_served,
    a_conditional_upload_url_cannot_replace_the_object,
);
