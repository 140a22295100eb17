//! What happens to tokens, listings and stored objects when things change after a
//! download token was issued: suspension, unpublication, entitlement end, deletion.

use std::io::Write;

use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{artifact_bytes, download_url, publish_one_artifact, resolve};
use crate::helpers::{Backend, Storage, TestApp, assert_error};
use crate::on_both_backends;

async fn resolves_to_404(app: &TestApp, url: &str, message: &str) {
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(assert_error(response, 404, "not_found").await, message);
}

async fn a_token_stops_when_the_customer_is_suspended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(1000)).await;
    let url = download_url(&app, &p.api_key, &p.artifact_id).await;
    resolve(&app, &url).await;
    app.patch_customer(&p.customer_id, json!({"suspended": true}))
        .await;
    resolves_to_404(&app, &url, "download token not found").await;
    app.patch_customer(&p.customer_id, json!({"suspended": false}))
        .await;
    resolve(&app, &url).await;
}

async fn a_token_stops_when_the_release_is_unpublished(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(1000)).await;
    let url = download_url(&app, &p.api_key, &p.artifact_id).await;
    let unpublish = app
        .admin(
            Method::POST,
            &format!("/v1/releases/{}/unpublish", p.release_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unpublish.status(), 200);
    resolves_to_404(&app, &url, "release not available").await;
}

async fn a_token_stops_when_the_entitlement_ends(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(1000)).await;
    let url = download_url(&app, &p.api_key, &p.artifact_id).await;
    let entitlements: Value = app
        .admin(
            Method::GET,
            &format!("/v1/admin/customers/{}/entitlements", p.customer_id),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entitlement_id = entitlements["entitlements"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // An end in the past (but after the start) ends it now.
    let ended = app
        .admin(
            Method::PATCH,
            &format!(
                "/v1/admin/customers/{}/entitlements/{entitlement_id}",
                p.customer_id
            ),
        )
        .json(&json!({"ends_at": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 200);
    resolves_to_404(&app, &url, "release not available").await;
    let listed: Value = app
        .customer(Method::GET, "/v1/releases", &p.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["releases"],
        json!([]),
        "nothing is visible without an active entitlement"
    );
}

async fn an_expired_token_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(1000)).await;
    let token: Value = app
        .customer(Method::POST, "/v1/downloads/token", &p.api_key)
        .json(&json!({"artifact_id": p.artifact_id, "expires_in_seconds": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = token["download_url"].as_str().unwrap().to_owned();
    let expires_at = token["expires_at"].as_i64().unwrap();
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        <= expires_at
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    resolves_to_404(&app, &url, "download token expired").await;
    resolves_to_404(
        &app,
        &format!("{}/v1/downloads/releasy_dl_unknown", app.base_url),
        "download token not found",
    )
    .await;
}

/// Deleting a release removes its artifacts' rows, their tokens and the stored objects.
async fn deleting_a_release_removes_artifacts_tokens_and_objects(app: TestApp) {
    let p = publish_one_artifact(&app, "app", artifact_bytes(5000)).await;
    let url = download_url(&app, &p.api_key, &p.artifact_id).await;
    let location = resolve(&app, &url).await;
    assert_eq!(
        app.client.get(&location).send().await.unwrap().status(),
        200
    );

    let deleted = app
        .admin(Method::DELETE, &format!("/v1/releases/{}", p.release_id))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    resolves_to_404(&app, &url, "download token not found").await;
    let listed: Value = app
        .admin(Method::GET, "/v1/releases")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["releases"], json!([]));
    let token = app
        .customer(Method::POST, "/v1/downloads/token", &p.api_key)
        .json(&json!({"artifact_id": p.artifact_id}))
        .send()
        .await
        .unwrap();
    assert_error(token, 404, "not_found").await;
    // The stored bytes are gone too: the presigned GET issued before finds nothing.
    let gone = app.client.get(&location).send().await.unwrap();
    assert_eq!(gone.status(), 404, "the stored object was removed");
    let again = app
        .admin(Method::DELETE, &format!("/v1/releases/{}", p.release_id))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(again, 404, "not_found").await,
        "release not found"
    );
    if let Some(path) = app.embedded_object_path(&p.object_key) {
        assert!(!path.exists(), "{} was removed", path.display());
    }
}

async fn deleting_a_release_on_the_embedded_store(backend: Backend) {
    deleting_a_release_removes_artifacts_tokens_and_objects(TestApp::spawn(backend).await).await;
}

async fn deleting_a_release_on_s3(backend: Backend) {
    deleting_a_release_removes_artifacts_tokens_and_objects(
        TestApp::spawn_with_storage(backend, Storage::S3).await,
    )
    .await;
}

/// An upload cut off halfway leaves no object, and registering it fails.
async fn an_interrupted_upload_leaves_nothing_to_register(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release: Value = app
        .admin(Method::POST, "/v1/releases")
        .json(&json!({"product": "app", "version": "9.9.9"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let release_id = release["id"].as_str().unwrap();
    let presigned: Value = app
        .admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts/presign"),
        )
        .json(&json!({"filename": "big.bin", "platform": "linux"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload_url = url::Url::parse(presigned["upload_url"].as_str().unwrap()).unwrap();
    let target = format!("{}?{}", upload_url.path(), upload_url.query().unwrap());
    let address = format!(
        "{}:{}",
        upload_url.host_str().unwrap(),
        upload_url.port().unwrap()
    );
    {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "PUT {target} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 100000\r\n\r\n"
        )
        .unwrap();
        stream.write_all(&artifact_bytes(50_000)).unwrap();
        stream.flush().unwrap();
        // Dropping the stream cuts the upload off halfway.
    }
    let register = |size: usize| {
        app.admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts"),
        )
        .json(&json!({
            "artifact_id": presigned["artifact_id"],
            "object_key": presigned["object_key"],
            "checksum": "ab".repeat(32),
            "size": size,
            "platform": "linux",
        }))
        .send()
    };
    // The server notices the disconnect asynchronously; the object never appears.
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        for size in [50_000, 100_000] {
            let response = register(size).await.unwrap();
            let message = assert_error(response, 400, "bad_request").await;
            assert!(
                message.starts_with("object not found in storage"),
                "{message}"
            );
        }
    }
    let key = presigned["object_key"].as_str().unwrap();
    assert!(!app.embedded_object_path(key).unwrap().exists());
}

on_both_backends!(
    a_token_stops_when_the_customer_is_suspended,
    a_token_stops_when_the_release_is_unpublished,
    a_token_stops_when_the_entitlement_ends,
    an_expired_token_is_refused,
    deleting_a_release_on_the_embedded_store,
    deleting_a_release_on_s3,
    an_interrupted_upload_leaves_nothing_to_register,
);
