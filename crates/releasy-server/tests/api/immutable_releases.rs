//! Immutable releases: `GET/PUT /v1/admin/products/{product}/policy`,
//! `GET /v1/admin/products`, and what a sealed release refuses (artifacts, edits,
//! deletes) and still allows (unpublish, yank), per product and server-wide.

use reqwest::Method;
use serde_json::{Value, json};

use crate::artifacts::{add_artifact, presign};
use crate::flow::artifact_bytes;
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, ok_json, publish, transition};

async fn put_policy(app: &TestApp, product: &str, body: Value) -> reqwest::Response {
    app.admin(Method::PUT, &format!("/v1/admin/products/{product}/policy"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get_policy(app: &TestApp, product: &str) -> Value {
    app.admin_get_json(&format!("/v1/admin/products/{product}/policy"))
        .await
}

async fn presign_request(app: &TestApp, release_id: &str) -> reqwest::Response {
    app.admin(
        Method::POST,
        &format!("/v1/releases/{release_id}/artifacts/presign"),
    )
    .json(&json!({"filename": "late.tgz", "platform": "linux-x86_64"}))
    .send()
    .await
    .unwrap()
}

async fn delete_release(app: &TestApp, release_id: &str) -> reqwest::Response {
    app.admin(Method::DELETE, &format!("/v1/releases/{release_id}"))
        .send()
        .await
        .unwrap()
}

async fn patch_release(app: &TestApp, release_id: &str) -> reqwest::Response {
    app.admin(Method::PATCH, &format!("/v1/releases/{release_id}"))
        .json(&json!({"notes": "edited"}))
        .send()
        .await
        .unwrap()
}

async fn immutable(response: reqwest::Response) {
    assert_eq!(
        assert_error(response, 409, "conflict").await,
        "release is immutable"
    );
}

async fn a_product_policy_is_read_and_set(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let never = get_policy(&app, "agent").await;
    assert_eq!(
        never,
        json!({
            "product": "agent",
            "immutable_releases": false,
            "server_immutable_releases": false,
            "effective_immutable_releases": false,
            "updated_at": null,
        })
    );
    let set = ok_json(put_policy(&app, "agent", json!({"immutable_releases": true})).await).await;
    assert_eq!(set["immutable_releases"], true);
    assert_eq!(set["effective_immutable_releases"], true);
    assert!(set["updated_at"].as_i64().is_some());
    assert_eq!(get_policy(&app, "agent").await, set);

    for (body, expected) in [
        (json!({}), "immutable_releases"),
        (json!({"immutable_releases": "yes"}), "immutable_releases"),
    ] {
        let message = assert_error(
            put_policy(&app, "agent", body.clone()).await,
            400,
            "bad_request",
        )
        .await;
        assert!(message.contains(expected), "{body}: {message}");
    }
    let long = "p".repeat(129);
    assert_error(
        put_policy(&app, &long, json!({"immutable_releases": true})).await,
        400,
        "bad_request",
    )
    .await;
    let (_, api_key, _) = app.customer_with_key().await;
    let customer = app
        .customer(Method::GET, "/v1/admin/products/agent/policy", &api_key)
        .send()
        .await
        .unwrap();
    assert_error(customer, 401, "unauthorized").await;
}

async fn a_sealed_release_refuses_changes_and_allows_unpublish_and_yank(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ok_json(put_policy(&app, "agent", json!({"immutable_releases": true})).await).await;

    let empty = create_release(&app, "agent", "0.9.0").await;
    let refused = transition(&app, empty["id"].as_str().unwrap(), "publish").await;
    assert_eq!(
        assert_error(refused, 409, "conflict").await,
        "release has no artifacts"
    );

    let release = create_release(&app, "agent", "1.0.0").await;
    let id = release["id"].as_str().unwrap();
    add_artifact(&app, id, "linux-x86_64", &artifact_bytes(64)).await;
    let late = presign(&app, id, "late.tgz", "linux-x86_64").await;
    let published = publish(&app, id).await;
    assert_eq!(published["sealed_at"], published["published_at"]);

    immutable(presign_request(&app, id).await).await;
    immutable(delete_release(&app, id).await).await;
    immutable(patch_release(&app, id).await).await;
    // An upload presigned before the seal cannot be registered after it.
    app.client
        .put(late["upload_url"].as_str().unwrap())
        .body(artifact_bytes(16))
        .send()
        .await
        .unwrap();
    let register = app
        .admin(Method::POST, &format!("/v1/releases/{id}/artifacts"))
        .json(&json!({
            "artifact_id": late["artifact_id"],
            "object_key": late["object_key"],
            "checksum": crate::flow::sha256_hex(&artifact_bytes(16)),
            "size": 16,
            "platform": "linux-x86_64",
        }))
        .send()
        .await
        .unwrap();
    immutable(register).await;

    ok_json(
        app.admin(Method::POST, &format!("/v1/releases/{id}/yank"))
            .json(&json!({"reason": "bad build"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let unpublished = ok_json(transition(&app, id, "unpublish").await).await;
    assert_eq!(unpublished["status"], "draft");
    assert_eq!(
        unpublished["sealed_at"], published["sealed_at"],
        "the seal outlives an unpublish"
    );
    immutable(patch_release(&app, id).await).await;
    immutable(delete_release(&app, id).await).await;

    // Switching the policy off unseals nothing.
    ok_json(put_policy(&app, "agent", json!({"immutable_releases": false})).await).await;
    immutable(presign_request(&app, id).await).await;
    let listed = ok_json(
        app.admin(
            Method::GET,
            "/v1/releases?product=agent&include_artifacts=true",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let sealed = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(sealed["artifacts"].as_array().unwrap().len(), 1);

    // Other products are untouched: no artifact needed, deletes allowed.
    let other = create_release(&app, "tool", "1.0.0").await;
    let other_id = other["id"].as_str().unwrap();
    let plain = publish(&app, other_id).await;
    assert!(plain.get("sealed_at").is_none(), "{plain}");
    assert_eq!(delete_release(&app, other_id).await.status(), 204);
}

async fn the_server_setting_applies_to_every_product(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_IMMUTABLE_RELEASES", "true")]).await;
    let policy = get_policy(&app, "anything").await;
    assert_eq!(policy["immutable_releases"], false);
    assert_eq!(policy["server_immutable_releases"], true);
    assert_eq!(policy["effective_immutable_releases"], true);
    let release = create_release(&app, "anything", "1.0.0").await;
    let id = release["id"].as_str().unwrap();
    let refused = transition(&app, id, "publish").await;
    assert_error(refused, 409, "conflict").await;
    add_artifact(&app, id, "linux-x86_64", &artifact_bytes(8)).await;
    let published = publish(&app, id).await;
    assert!(published["sealed_at"].as_i64().is_some());
    immutable(delete_release(&app, id).await).await;
}

async fn the_product_list_counts_releases_and_names_the_latest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for version in ["1.9.0", "1.10.0", "2.0.0-rc.1"] {
        let release = create_release(&app, "agent", version).await;
        publish(&app, release["id"].as_str().unwrap()).await;
    }
    create_release(&app, "agent", "3.0.0").await;
    create_release(&app, "tool", "0.1.0").await;
    ok_json(put_policy(&app, "vault", json!({"immutable_releases": true})).await).await;

    let listed = ok_json(
        app.admin(Method::GET, "/v1/admin/products")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["limit"], 50);
    assert_eq!(listed["offset"], 0);
    let products = listed["products"].as_array().unwrap();
    let names: Vec<&str> = products
        .iter()
        .map(|p| p["product"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["agent", "tool", "vault"]);
    let agent = &products[0];
    assert_eq!(agent["releases"], 4);
    assert_eq!(agent["published"], 3);
    assert_eq!(agent["latest_version"], "1.10.0", "stable, by semver");
    assert!(agent["last_release_at"].as_i64().is_some());
    assert_eq!(agent["immutable_releases"], false);
    assert_eq!(products[1]["latest_version"], Value::Null, "only a draft");
    assert_eq!(products[2]["releases"], 0);
    assert_eq!(products[2]["effective_immutable_releases"], true);

    let second = ok_json(
        app.admin(Method::GET, "/v1/admin/products?limit=1&offset=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(second["products"][0]["product"], "tool");
    let bad = app
        .admin(Method::GET, "/v1/admin/products?limit=0")
        .send()
        .await
        .unwrap();
    assert_error(bad, 400, "bad_request").await;
}

on_both_backends!(
    a_product_policy_is_read_and_set,
    a_sealed_release_refuses_changes_and_allows_unpublish_and_yank,
    the_server_setting_applies_to_every_product,
    the_product_list_counts_releases_and_names_the_latest,
);
