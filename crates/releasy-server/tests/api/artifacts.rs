//! `/v1/releases/{id}/artifacts`: presigning an upload (the object-key naming rule,
//! expiry, idempotency) and registering what was uploaded, with every refusal, on the
//! embedded store and on S3.

use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{artifact_bytes, sha256_hex};
use crate::helpers::{Backend, Storage, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, fields, now, ok_json};

/// `POST /v1/releases/{release_id}/artifacts/presign` with the admin key.
pub async fn presign_request(
    app: &TestApp,
    release_id: &str,
    filename: &str,
    platform: &str,
) -> reqwest::Response {
    app.admin(
        Method::POST,
        &format!("/v1/releases/{release_id}/artifacts/presign"),
    )
    .json(&json!({"filename": filename, "platform": platform}))
    .send()
    .await
    .unwrap()
}

/// Presigns an upload; returns `{artifact_id, object_key, upload_url, expires_at}`.
pub async fn presign(app: &TestApp, release_id: &str, filename: &str, platform: &str) -> Value {
    ok_json(presign_request(app, release_id, filename, platform).await).await
}

/// PUTs `bytes` to a presigned upload URL.
pub async fn upload(app: &TestApp, presigned: &Value, bytes: &[u8]) {
    let response = app
        .client
        .put(presigned["upload_url"].as_str().unwrap())
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "upload: {}",
        response.status()
    );
}

/// `POST /v1/releases/{release_id}/artifacts` with `body`.
pub async fn register_request(app: &TestApp, release_id: &str, body: &Value) -> reqwest::Response {
    app.admin(
        Method::POST,
        &format!("/v1/releases/{release_id}/artifacts"),
    )
    .json(body)
    .send()
    .await
    .unwrap()
}

/// The registration body for a presigned upload of `bytes` on `platform`.
pub fn register_body(presigned: &Value, platform: &str, bytes: &[u8]) -> Value {
    json!({
        "artifact_id": presigned["artifact_id"],
        "object_key": presigned["object_key"],
        "checksum": sha256_hex(bytes),
        "size": bytes.len(),
        "platform": platform,
    })
}

/// Presigns, uploads and registers `bytes` as an artifact of the release; returns the
/// registered artifact's JSON.
pub async fn add_artifact(app: &TestApp, release_id: &str, platform: &str, bytes: &[u8]) -> Value {
    let presigned = presign(app, release_id, "app.tar.gz", platform).await;
    upload(app, &presigned, bytes).await;
    ok_json(register_request(app, release_id, &register_body(&presigned, platform, bytes)).await)
        .await
}

async fn presign_returns_the_naming_rule_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "My App", "1.0.0-RC1").await;
    let release_id = release["id"].as_str().unwrap();
    let before = now();
    let presigned = presign(&app, release_id, "Setup (x64).EXE", "Linux x86/64").await;
    assert_eq!(
        fields(&presigned),
        ["artifact_id", "expires_at", "object_key", "upload_url"]
    );
    let artifact_id = presigned["artifact_id"].as_str().unwrap();
    uuid::Uuid::parse_str(artifact_id).unwrap();
    assert_eq!(
        presigned["object_key"],
        format!("releases/my_app/1.0.0-rc1/linux_x86_64/{artifact_id}/setup__x64_.exe")
    );
    let expires_at = presigned["expires_at"].as_i64().unwrap();
    assert!(
        (before + 900..=now() + 900).contains(&expires_at),
        "expires_at {expires_at} is now + 900"
    );
    let upload_url = presigned["upload_url"].as_str().unwrap();
    assert!(
        upload_url.starts_with(&app.base_url),
        "the embedded store's links point at the server: {upload_url}"
    );

    // Each presign is a new artifact id.
    let second = presign(&app, release_id, "Setup (x64).EXE", "Linux x86/64").await;
    assert_ne!(second["artifact_id"], presigned["artifact_id"]);
    // Presigning stores nothing: the release lists no artifact yet.
    let listed = ok_json(
        app.admin(Method::GET, "/v1/releases?include_artifacts=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["releases"][0]["artifacts"], json!([]));
}

async fn presign_refusals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown =
        presign_request(&app, &uuid::Uuid::new_v4().to_string(), "app.tgz", "linux").await;
    assert_eq!(
        assert_error(unknown, 404, "not_found").await,
        "release not found"
    );
    let malformed = presign_request(&app, "nope", "app.tgz", "linux").await;
    let message = assert_error(malformed, 400, "bad_request").await;
    assert!(message.starts_with("release_id"), "{message}");

    let release = create_release(&app, "app", "1.0.0").await;
    let release_id = release["id"].as_str().unwrap();
    for (filename, platform, field) in [
        ("", "linux", "filename"),
        ("   ", "linux", "filename"),
        ("app.tgz", "", "platform"),
        ("app.tgz", " ", "platform"),
        ("..", "linux", "filename"),
    ] {
        let response = presign_request(&app, release_id, filename, platform).await;
        let message = assert_error(response, 400, "bad_request").await;
        assert!(
            message.starts_with(field),
            "{filename:?}/{platform:?}: {message}"
        );
    }
    // 200 characters, 400 bytes once lower-cased: no file system names a file so.
    let long = "\u{130}".repeat(200);
    let response = presign_request(&app, release_id, &long, "linux").await;
    assert_eq!(
        assert_error(response, 400, "bad_request").await,
        "filename is longer than 255 bytes once made an object key segment"
    );
    // A segment that would normalise to `..` could leave the release's prefix.
    let dots = create_release(&app, "app", "..").await;
    let response = presign_request(&app, dots["id"].as_str().unwrap(), "app.tgz", "linux").await;
    let message = assert_error(response, 400, "bad_request").await;
    assert!(message.starts_with("version"), "{message}");
    for body in [
        json!({"platform": "linux"}),
        json!({"filename": "app.tgz"}),
        json!({"filename": 1, "platform": "linux"}),
    ] {
        let response = app
            .admin(
                Method::POST,
                &format!("/v1/releases/{release_id}/artifacts/presign"),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "bad_request").await;
    }
}

async fn presign_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let path = format!(
        "/v1/releases/{}/artifacts/presign",
        release["id"].as_str().unwrap()
    );
    let send = |key: &str, body: Value| {
        app.admin(Method::POST, &path)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let body = json!({"filename": "app.tgz", "platform": "linux"});
    let first = ok_json(send("presign-1", body.clone()).await.unwrap()).await;
    let replay = send("presign-1", body.clone()).await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["artifact_id"], first["artifact_id"]);
    assert_eq!(replay, first);

    let other = send(
        "presign-1",
        json!({"filename": "app.tgz", "platform": "mac"}),
    )
    .await
    .unwrap();
    assert_error(other, 409, "idempotency_conflict").await;
    let fresh = ok_json(send("presign-2", body).await.unwrap()).await;
    assert_ne!(fresh["artifact_id"], first["artifact_id"]);

    // The replayed id is one the registration accepts.
    let bytes = artifact_bytes(64);
    upload(&app, &replay, &bytes).await;
    ok_json(
        register_request(
            &app,
            release["id"].as_str().unwrap(),
            &register_body(&replay, "linux", &bytes),
        )
        .await,
    )
    .await;
}

async fn register_refuses_keys_of_another_release_platform_or_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let release_id = release["id"].as_str().unwrap();
    let other = create_release(&app, "app", "2.0.0").await;
    let other_id = other["id"].as_str().unwrap();
    let bytes = artifact_bytes(1000);
    let presigned = presign(&app, release_id, "app.tgz", "linux").await;
    upload(&app, &presigned, &bytes).await;
    let foreign = presign(&app, other_id, "app.tgz", "linux").await;
    upload(&app, &foreign, &bytes).await;
    let good = register_body(&presigned, "linux", &bytes);

    let mut wrong_platform = good.clone();
    wrong_platform["platform"] = json!("windows");
    let mut other_release_key = good.clone();
    other_release_key["artifact_id"] = foreign["artifact_id"].clone();
    other_release_key["object_key"] = foreign["object_key"].clone();
    let mut other_release_key_only = good.clone();
    other_release_key_only["object_key"] = foreign["object_key"].clone();
    let mut other_artifact_id = good.clone();
    other_artifact_id["artifact_id"] = json!(uuid::Uuid::new_v4().to_string());
    let mut renamed_file = good.clone();
    renamed_file["object_key"] = json!(format!(
        "releases/app/1.0.0/linux/{}/Other File.tgz",
        presigned["artifact_id"].as_str().unwrap()
    ));
    let mut escaping = good.clone();
    escaping["object_key"] = json!(format!(
        "releases/app/1.0.0/linux/{}/../x",
        presigned["artifact_id"].as_str().unwrap()
    ));
    let mut arbitrary = good.clone();
    arbitrary["object_key"] = json!("somewhere/else.tgz");
    for (name, body) in [
        ("wrong platform", wrong_platform),
        ("another release's key and id", other_release_key),
        ("another release's key", other_release_key_only),
        ("another artifact id", other_artifact_id),
        ("a file name that is not normalised", renamed_file),
        ("a nested path", escaping),
        ("an arbitrary key", arbitrary),
    ] {
        let response = register_request(&app, release_id, &body).await;
        assert_eq!(
            assert_error(response, 400, "bad_request").await,
            "object_key does not match release or platform",
            "{name}"
        );
    }
    // The foreign upload registers under its own release only.
    ok_json(register_request(&app, other_id, &register_body(&foreign, "linux", &bytes)).await)
        .await;
    ok_json(register_request(&app, release_id, &good).await).await;
}

async fn register_validates_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let release_id = release["id"].as_str().unwrap();
    let bytes = artifact_bytes(1000);
    let presigned = presign(&app, release_id, "app.tgz", "linux").await;
    upload(&app, &presigned, &bytes).await;
    let good = register_body(&presigned, "linux", &bytes);

    for checksum in [
        json!("abc"),
        json!("zz".repeat(32)),
        json!("a".repeat(63)),
        json!("a".repeat(65)),
        json!(""),
    ] {
        let mut body = good.clone();
        body["checksum"] = checksum.clone();
        let message = assert_error(
            register_request(&app, release_id, &body).await,
            400,
            "bad_request",
        )
        .await;
        assert!(message.starts_with("checksum"), "{checksum}: {message}");
        assert_eq!(message, "checksum must be 64 hex characters (sha256)");
    }
    for size in [0, -1] {
        let mut body = good.clone();
        body["size"] = json!(size);
        let message = assert_error(
            register_request(&app, release_id, &body).await,
            400,
            "bad_request",
        )
        .await;
        assert!(message.starts_with("size"), "{size}: {message}");
    }
    for (field, value) in [
        ("artifact_id", json!("not-a-uuid")),
        ("artifact_id", json!(7)),
        ("size", json!("1000")),
        ("platform", json!("")),
    ] {
        let mut body = good.clone();
        body[field] = value.clone();
        let message = assert_error(
            register_request(&app, release_id, &body).await,
            400,
            "bad_request",
        )
        .await;
        assert!(message.contains(field), "{field}={value}: {message}");
    }
    for missing in ["artifact_id", "object_key", "checksum", "size", "platform"] {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(missing);
        let message = assert_error(
            register_request(&app, release_id, &body).await,
            400,
            "bad_request",
        )
        .await;
        assert!(message.contains(missing), "without {missing}: {message}");
    }

    let unknown = register_request(&app, &uuid::Uuid::new_v4().to_string(), &good).await;
    assert_eq!(
        assert_error(unknown, 404, "not_found").await,
        "release not found"
    );
    let malformed = register_request(&app, "release", &good).await;
    let message = assert_error(malformed, 400, "bad_request").await;
    assert!(message.starts_with("release_id"), "{message}");

    // None of that registered anything; the good body still does.
    let mut upper = good.clone();
    upper["checksum"] = json!(sha256_hex(&bytes).to_ascii_uppercase());
    let registered = ok_json(register_request(&app, release_id, &upper).await).await;
    assert_eq!(
        registered["checksum"],
        sha256_hex(&bytes),
        "stored lower-case"
    );
}

/// The store is asked: a missing object, a size that differs, the happy path, and a
/// second registration of the same artifact.
async fn register_checks_the_stored_object(app: TestApp) {
    let release = create_release(&app, "app", "1.0.0").await;
    let release_id = release["id"].as_str().unwrap();
    let bytes = artifact_bytes(4096);

    let never_uploaded = presign(&app, release_id, "missing.tgz", "linux").await;
    let response = register_request(
        &app,
        release_id,
        &register_body(&never_uploaded, "linux", &bytes),
    )
    .await;
    let message = assert_error(response, 400, "bad_request").await;
    assert!(
        message.starts_with("object not found in storage"),
        "{message}"
    );

    // A refusal deletes the stored object and ends the upload, as an abort would.
    let object_is_gone = |presigned: Value, correct: Value| {
        let app = &app;
        async move {
            let key = presigned["object_key"].as_str().unwrap();
            assert!(!app.holds_object(key).await, "{key} is still stored");
            let again = register_request(app, release_id, &correct).await;
            let message = assert_error(again, 409, "conflict").await;
            assert_eq!(
                message,
                "the upload was aborted or has expired: presign it again"
            );
        }
    };
    // Another size than stored: refused, and the stored object deleted.
    for size in [4095, 4097, 1] {
        let presigned = presign(&app, release_id, "App.tgz", "linux").await;
        let correct = register_body(&presigned, "linux", &bytes);
        upload(&app, &presigned, &bytes).await;
        let mut body = correct.clone();
        body["size"] = json!(size);
        let message = assert_error(
            register_request(&app, release_id, &body).await,
            400,
            "bad_request",
        )
        .await;
        assert!(
            message.contains("does not match the stored object"),
            "{size}: {message}"
        );
        object_is_gone(presigned, correct).await;
    }
    // The right size but another sha256 than declared, either way round: refused, and
    // the stored object deleted.
    let mut corrupted = bytes.clone();
    corrupted[100] ^= 1;
    for declares_other_bytes in [true, false] {
        let presigned = presign(&app, release_id, "App.tgz", "linux").await;
        let correct = register_body(&presigned, "linux", &bytes);
        let mut body = correct.clone();
        if declares_other_bytes {
            body["checksum"] = json!(sha256_hex(b"other bytes"));
            upload(&app, &presigned, &bytes).await;
        } else {
            upload(&app, &presigned, &corrupted).await;
        }
        let refused = register_request(&app, release_id, &body).await;
        assert_eq!(
            assert_error(refused, 400, "bad_request").await,
            "checksum does not match the stored object"
        );
        object_is_gone(presigned, correct).await;
    }

    let presigned = presign(&app, release_id, "App.tgz", "linux").await;
    upload(&app, &presigned, &bytes).await;
    let before = now();
    let registered = ok_json(
        register_request(
            &app,
            release_id,
            &register_body(&presigned, "linux", &bytes),
        )
        .await,
    )
    .await;
    assert_eq!(
        fields(&registered),
        [
            "checksum",
            "created_at",
            "filetype", // the release model (#14): derived from the file name
            "id",
            "object_key",
            "os", // and from the platform, `linux`
            "platform",
            "release_id",
            "size",
            "verification"
        ]
    );
    assert_eq!(registered["verification"], "verified");
    assert_eq!(registered["id"], presigned["artifact_id"]);
    assert_eq!(registered["release_id"], release_id);
    assert_eq!(registered["object_key"], presigned["object_key"]);
    assert_eq!(registered["checksum"], sha256_hex(&bytes));
    assert_eq!(registered["size"], 4096);
    assert_eq!(registered["platform"], "linux");
    let created_at = registered["created_at"].as_i64().unwrap();
    assert!((before..=now()).contains(&created_at), "{created_at}");

    let twice = register_request(
        &app,
        release_id,
        &register_body(&presigned, "linux", &bytes),
    )
    .await;
    assert_eq!(
        assert_error(twice, 409, "conflict").await,
        "artifact already exists"
    );
    // A registration declaring other bytes for a registered artifact leaves its object.
    let mut other_checksum = register_body(&presigned, "linux", &bytes);
    other_checksum["checksum"] = json!(sha256_hex(b"other bytes"));
    let refused = register_request(&app, release_id, &other_checksum).await;
    assert_error(refused, 409, "conflict").await;
    // Another size too: the id is known before the stored object is looked at.
    let mut other_size = register_body(&presigned, "linux", &bytes);
    other_size["size"] = json!(4097);
    let refused = register_request(&app, release_id, &other_size).await;
    assert_eq!(
        assert_error(refused, 409, "conflict").await,
        "artifact already exists"
    );

    let object_key = presigned["object_key"].as_str().unwrap();
    if let Some(path) = app.embedded_object_path(object_key) {
        // The embedded store never replaces a stored object, even through a valid URL.
        let replaced = app
            .client
            .put(presigned["upload_url"].as_str().unwrap())
            .body(corrupted.clone())
            .send()
            .await
            .unwrap();
        let message = assert_error(replaced, 409, "conflict").await;
        assert!(message.contains("cannot change"), "{message}");
        assert_eq!(std::fs::read(path).unwrap(), bytes);
    }

    let listed = ok_json(
        app.admin(Method::GET, "/v1/releases?include_artifacts=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let artifacts = listed["releases"][0]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "registered once");
    assert_eq!(artifacts[0]["id"], registered["id"]);
    assert_eq!(artifacts[0]["created_at"], registered["created_at"]);
}

async fn register_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let path = format!("/v1/releases/{}/artifacts", release["id"].as_str().unwrap());
    let bytes = artifact_bytes(2048);
    let presigned = presign(&app, release["id"].as_str().unwrap(), "app.tgz", "linux").await;
    upload(&app, &presigned, &bytes).await;
    let body = register_body(&presigned, "linux", &bytes);
    let send = |key: &str, body: &Value| {
        app.admin(Method::POST, &path)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
    };
    let first = ok_json(send("register-1", &body).await.unwrap()).await;
    // A retry with the same key gets the original answer, not `artifact already exists`.
    let replay = send("register-1", &body).await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    let mut changed = body.clone();
    changed["checksum"] = json!("00".repeat(32));
    let conflict = send("register-1", &changed).await.unwrap();
    assert_error(conflict, 409, "idempotency_conflict").await;
    // Without the key, the retry is a second registration.
    let twice = register_request(&app, release["id"].as_str().unwrap(), &body).await;
    assert_eq!(
        assert_error(twice, 409, "conflict").await,
        "artifact already exists"
    );
}

async fn register_checks_the_embedded_store(backend: Backend) {
    register_checks_the_stored_object(TestApp::spawn(backend).await).await;
}

async fn register_checks_s3(backend: Backend) {
    register_checks_the_stored_object(TestApp::spawn_with_storage(backend, Storage::S3).await)
        .await;
}

async fn register_checks_s3_on_moto(backend: Backend) {
    register_checks_the_stored_object(TestApp::spawn_with_storage(backend, Storage::Moto).await)
        .await;
}

on_both_backends!(
    presign_returns_the_naming_rule_key,
    presign_refusals,
    presign_is_idempotent,
    register_refuses_keys_of_another_release_platform_or_id,
    register_validates_fields,
    register_is_idempotent,
    register_checks_the_embedded_store,
    register_checks_s3,
    register_checks_s3_on_moto,
);
