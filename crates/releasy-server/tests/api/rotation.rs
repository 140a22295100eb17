//! Rotating secrets with a grace period: `RELEASY_ADMIN_API_KEY_PREVIOUS` and
//! `RELEASY_STORAGE_SIGNING_SECRET_PREVIOUS` keep what the old secret granted working
//! until the operator removes them.

use reqwest::Method;

use crate::artifacts::presign;
use crate::helpers::{ADMIN_KEY, Backend, TestApp, assert_error};
use crate::releases::create_release;

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
