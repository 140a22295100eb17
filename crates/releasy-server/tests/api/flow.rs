//! The getting-started flow end to end, on both databases and both artifact stores:
//! customer, key, entitlement, release, presigned upload, registration, publication,
//! the customer's listing, a download token, and the download itself.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, Storage, TestApp};

/// Bytes that are not all alike, so a wrong range or offset shows.
pub fn artifact_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// What a published release with one artifact leaves behind.
pub struct Published {
    pub customer_id: String,
    pub api_key: String,
    pub release_id: String,
    pub artifact_id: String,
    pub object_key: String,
    pub bytes: Vec<u8>,
}

async fn json_ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Runs the vendor's side of the flow: a customer entitled to `product`, a release of
/// it with one uploaded, registered artifact, published.
pub async fn publish_one_artifact(app: &TestApp, product: &str, bytes: Vec<u8>) -> Published {
    let (customer_id, api_key, _) = app.customer_with_key().await;
    json_ok(
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
    let release = json_ok(
        app.admin(Method::POST, "/v1/releases")
            .json(&json!({"product": product, "version": "1.2.3"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let release_id = release["id"].as_str().unwrap().to_owned();
    assert_eq!(release["status"], "draft");
    assert_eq!(release["published_at"], Value::Null);

    let presigned = json_ok(
        app.admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts/presign"),
        )
        .json(&json!({"filename": "App Setup.tgz", "platform": "linux-x86_64"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let artifact_id = presigned["artifact_id"].as_str().unwrap().to_owned();
    let object_key = presigned["object_key"].as_str().unwrap().to_owned();
    // The naming rule, for the ASCII names tests use.
    let segment: String = product
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '_',
        })
        .collect();
    assert_eq!(
        object_key,
        format!("releases/{segment}/1.2.3/linux-x86_64/{artifact_id}/app_setup.tgz")
    );
    let upload = app
        .client
        .put(presigned["upload_url"].as_str().unwrap())
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(upload.status().is_success(), "upload: {}", upload.status());

    let registered = json_ok(
        app.admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts"),
        )
        .json(&json!({
            "artifact_id": artifact_id,
            "object_key": object_key,
            "checksum": sha256_hex(&bytes),
            "size": bytes.len(),
            "platform": "linux-x86_64",
        }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(registered["id"], artifact_id.as_str());
    assert_eq!(registered["release_id"], release_id.as_str());

    let published = json_ok(
        app.admin(Method::POST, &format!("/v1/releases/{release_id}/publish"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].as_i64().is_some());

    Published {
        customer_id,
        api_key,
        release_id,
        artifact_id,
        object_key,
        bytes,
    }
}

/// Issues a download token for the artifact; returns the `download_url`.
pub async fn download_url(app: &TestApp, api_key: &str, artifact_id: &str) -> String {
    let token = json_ok(
        app.customer(Method::POST, "/v1/downloads/token", api_key)
            .json(&json!({"artifact_id": artifact_id, "expires_in_seconds": 300}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    token["download_url"].as_str().unwrap().to_owned()
}

/// Issues a download token for the published artifact that resolves at most
/// `max_uses` times; returns the `download_url`.
pub async fn limited_link(app: &TestApp, p: &Published, max_uses: u32) -> String {
    let token = json_ok(
        app.customer(Method::POST, "/v1/downloads/token", &p.api_key)
            .json(&json!({"artifact_id": p.artifact_id, "max_uses": max_uses}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(token["max_uses"], max_uses);
    token["download_url"].as_str().unwrap().to_owned()
}

/// Follows a download link on `app`, whichever instance issued it: the response, its
/// redirect not followed.
pub async fn follow_link(app: &TestApp, url: &str) -> reqwest::Response {
    let path = url.split_once("/v1/").unwrap().1;
    app.client
        .get(app.url(&format!("/v1/{path}")))
        .send()
        .await
        .unwrap()
}

/// Follows a download URL's redirect by hand; returns the presigned location.
pub async fn resolve(app: &TestApp, download_url: &str) -> String {
    let response = app.client.get(download_url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn the_whole_flow_delivers_the_uploaded_bytes(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage(backend, storage).await;
    let published = publish_one_artifact(&app, "releasy-server", artifact_bytes(300_000)).await;

    let listed = json_ok(
        app.customer(
            Method::GET,
            "/v1/releases?product=releasy-server&include_artifacts=true",
            &published.api_key,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let releases = listed["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1);
    let artifact = &releases[0]["artifacts"][0];
    assert_eq!(artifact["id"], published.artifact_id.as_str());
    assert_eq!(artifact["object_key"], published.object_key.as_str());
    assert_eq!(artifact["size"], published.bytes.len());
    assert_eq!(artifact["checksum"], sha256_hex(&published.bytes));

    let url = download_url(&app, &published.api_key, &published.artifact_id).await;
    assert!(
        url.starts_with(&format!("{}/v1/downloads/releasy_dl_", app.base_url)),
        "{url}"
    );
    let location = resolve(&app, &url).await;
    let download = app.client.get(&location).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-length"],
        published.bytes.len().to_string().as_str()
    );
    let body = download.bytes().await.unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&published.bytes));
    assert_eq!(body.as_ref(), published.bytes.as_slice());

    // A ranged GET returns exactly the requested bytes, so a broken download resumes.
    let ranged = app
        .client
        .get(&location)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.bytes().await.unwrap().as_ref(),
        &published.bytes[1000..2000]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_the_embedded_store() {
    the_whole_flow_delivers_the_uploaded_bytes(Backend::Sqlite, Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_the_embedded_store() {
    the_whole_flow_delivers_the_uploaded_bytes(Backend::Postgres, Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_s3() {
    the_whole_flow_delivers_the_uploaded_bytes(Backend::Sqlite, Storage::S3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_s3() {
    the_whole_flow_delivers_the_uploaded_bytes(Backend::Postgres, Storage::S3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_s3_on_moto() {
    the_whole_flow_delivers_the_uploaded_bytes(Backend::Sqlite, Storage::Moto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_s3_on_moto() {
    the_whole_flow_delivers_the_uploaded_bytes(Backend::Postgres, Storage::Moto).await;
}
