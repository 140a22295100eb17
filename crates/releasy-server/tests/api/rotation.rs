//! Rotating secrets with a grace period: `RELEASY_ADMIN_API_KEY_PREVIOUS`,
//! `RELEASY_STORAGE_SIGNING_SECRET_PREVIOUS` and `RELEASY_API_KEY_PEPPER_PREVIOUS` keep
//! what the old secret granted working until the operator removes them.

use reqwest::Method;
use serde_json::json;

use crate::artifacts::presign;
use crate::flow::{artifact_bytes, publish_one_artifact};
use crate::helpers::{ADMIN_KEY, Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, ok_json};

const OLD_SECRET: &str = "old-signing-secret-old-signing-secret-0";
const NEW_SECRET: &str = "new-signing-secret-new-signing-secret-1";

/// An upload URL signed with the old secret, pointed at `app`.
async fn url_signed_with_the_old_secret(app: &TestApp) -> String {
    let old = TestApp::spawn_with(
        Backend::Sqlite,
        &[("RELEASY_STORAGE_SIGNING_SECRET", OLD_SECRET)],
    )
    .await;
    let release = create_release(&old, "agent", "1.0.0").await;
    let presigned = presign(&old, release["id"].as_str().unwrap(), "a.tgz", "linux").await;
    // The signature covers the method, the key and the expiry, not the host.
    presigned["upload_url"]
        .as_str()
        .unwrap()
        .replace(&old.base_url, &app.base_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_the_previous_signing_secret_signed_work_until_it_is_removed() {
    let rotated = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("RELEASY_STORAGE_SIGNING_SECRET", NEW_SECRET),
            ("RELEASY_STORAGE_SIGNING_SECRET_PREVIOUS", OLD_SECRET),
        ],
    )
    .await;
    let issued_before = url_signed_with_the_old_secret(&rotated).await;
    let stored = rotated
        .client
        .put(&issued_before)
        .body("bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200, "honoured during the rotation");

    let done = TestApp::spawn_with(
        Backend::Sqlite,
        &[("RELEASY_STORAGE_SIGNING_SECRET", NEW_SECRET)],
    )
    .await;
    let issued_before = url_signed_with_the_old_secret(&done).await;
    let refused = done
        .client
        .put(&issued_before)
        .body("bytes")
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_admin_key_works_while_configured() {
    let old_key = "the-admin-key-being-rotated-out-0123456";
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("RELEASY_ADMIN_API_KEY_PREVIOUS", old_key)],
    )
    .await;
    for key in [ADMIN_KEY, old_key] {
        let listed = app
            .client
            .get(app.url("/v1/admin/customers"))
            .header("x-releasy-admin-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
    }
    let wrong = app
        .client
        .request(Method::GET, app.url("/v1/admin/customers"))
        .header(
            "x-releasy-admin-key",
            "neither-of-them-neither-of-them-0000",
        )
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
}

const OLD_PEPPER: &str = "the-pepper-being-rotated-out-0123456789";
const NEW_PEPPER: &str = "the-pepper-rotated-in-0123456789abcdef";

/// Issues a download token with `api_key` on `app`; returns its path.
async fn token_path(app: &TestApp, api_key: &str, artifact_id: &str) -> String {
    let issued = ok_json(
        app.customer(Method::POST, "/v1/downloads/token", api_key)
            .json(&json!({ "artifact_id": artifact_id }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let url = issued["download_url"].as_str().unwrap();
    url.strip_prefix(&app.base_url).unwrap().to_owned()
}

async fn releases_status(app: &TestApp, api_key: &str) -> u16 {
    app.customer(Method::GET, "/v1/releases", api_key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn resolve_status(app: &TestApp, path: &str) -> u16 {
    app.client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Instances of one deployment restarted through a pepper rotation: before (old
/// pepper), during (new pepper, old as previous), after (new pepper alone).
async fn keys_and_tokens_of_the_previous_pepper_work_during_its_rotation(backend: Backend) {
    let before = TestApp::spawn_with(backend, &[("RELEASY_API_KEY_PEPPER", OLD_PEPPER)]).await;
    let published = publish_one_artifact(&before, "agent", artifact_bytes(1_000)).await;
    let unused = before.create_key(&published.customer_id, json!({})).await;
    let unused = unused["api_key"].as_str().unwrap();
    let old_token = token_path(&before, &published.api_key, &published.artifact_id).await;

    let during = before
        .spawn_beside_with(&[
            ("RELEASY_API_KEY_PEPPER", NEW_PEPPER),
            ("RELEASY_API_KEY_PEPPER_PREVIOUS", OLD_PEPPER),
        ])
        .await;
    assert_eq!(releases_status(&during, &published.api_key).await, 200);
    assert_eq!(
        resolve_status(&during, &old_token).await,
        302,
        "issued before"
    );
    let new_token = token_path(&during, &published.api_key, &published.artifact_id).await;
    assert_eq!(resolve_status(&during, &new_token).await, 302);

    let after = before
        .spawn_beside_with(&[("RELEASY_API_KEY_PEPPER", NEW_PEPPER)])
        .await;
    assert_eq!(
        releases_status(&after, &published.api_key).await,
        200,
        "a key used during the grace was hashed again under the new pepper"
    );
    assert_eq!(
        releases_status(&after, unused).await,
        401,
        "a key never used during the grace is lost with the old pepper"
    );
    let refused = after
        .client
        .get(after.url(&old_token))
        .send()
        .await
        .unwrap();
    assert_error(refused, 404, "not_found").await;
    assert_eq!(resolve_status(&after, &new_token).await, 302);
}

async fn the_previous_pepper_may_be_none(backend: Backend) {
    let before = TestApp::spawn(backend).await;
    let (_, api_key, _) = before.customer_with_key().await;
    let during = before
        .spawn_beside_with(&[
            ("RELEASY_API_KEY_PEPPER", NEW_PEPPER),
            ("RELEASY_API_KEY_PEPPER_PREVIOUS", ""),
        ])
        .await;
    assert_eq!(
        releases_status(&during, &api_key).await,
        200,
        "a key hashed without a pepper is accepted while the pepper is introduced"
    );
    let after = before
        .spawn_beside_with(&[("RELEASY_API_KEY_PEPPER", NEW_PEPPER)])
        .await;
    assert_eq!(releases_status(&after, &api_key).await, 200);
}

on_both_backends!(
    keys_and_tokens_of_the_previous_pepper_work_during_its_rotation,
    the_previous_pepper_may_be_none,
);
