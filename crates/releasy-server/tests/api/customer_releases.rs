//! `GET /v1/releases` with a customer key: only published releases of products the
//! customer has an active entitlement for, and the download-token refusals that go with
//! the same rule.

use reqwest::Method;
use serde_json::{Value, json};

use crate::artifacts::add_artifact;
use crate::flow::artifact_bytes;
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, now, ok_json, publish};

use crate::entitlements::grant;

/// A customer and a key for it with `scopes`: `(customer_id, api_key)`.
async fn customer_with_scopes(app: &TestApp, name: &str, scopes: &[&str]) -> (String, String) {
    let customer = app.create_customer(name, None).await;
    let id = customer["id"].as_str().unwrap().to_owned();
    let key = app.create_key(&id, json!({ "scopes": scopes })).await;
    (id, key["api_key"].as_str().unwrap().to_owned())
}

async fn customer_list(app: &TestApp, api_key: &str, query: &str) -> reqwest::Response {
    app.customer(Method::GET, &format!("/v1/releases?{query}"), api_key)
        .send()
        .await
        .unwrap()
}

/// `(product, version)` of each release a customer key lists for `query`.
async fn visible(app: &TestApp, api_key: &str, query: &str) -> Vec<(String, String)> {
    let page = ok_json(customer_list(app, api_key, query).await).await;
    page["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "published", "{r}");
            (
                r["product"].as_str().unwrap().to_owned(),
                r["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn one(product: &str, version: &str) -> Vec<(String, String)> {
    vec![(product.to_owned(), version.to_owned())]
}

async fn token_request(app: &TestApp, api_key: &str, artifact_id: &Value) -> reqwest::Response {
    app.customer(Method::POST, "/v1/downloads/token", api_key)
        .json(&json!({ "artifact_id": artifact_id }))
        .send()
        .await
        .unwrap()
}

/// A published release of `product` with one artifact; returns the artifact's id.
async fn published_artifact(app: &TestApp, product: &str, version: &str) -> Value {
    let release = create_release(app, product, version).await;
    let id = release["id"].as_str().unwrap();
    let artifact = add_artifact(app, id, "linux", &artifact_bytes(256)).await;
    publish(app, id).await;
    artifact["id"].clone()
}

async fn only_published_releases_of_entitled_products_are_visible(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (customer_id, api_key) =
        customer_with_scopes(&app, "Acme", &["releases:read", "downloads:token"]).await;
    grant(&app, &customer_id, json!({"product": "a", "starts_at": 0})).await;

    let entitled = published_artifact(&app, "a", "1.0.0").await;
    let not_entitled = published_artifact(&app, "b", "1.0.0").await;
    let draft = create_release(&app, "a", "2.0.0").await;
    let draft_artifact = add_artifact(
        &app,
        draft["id"].as_str().unwrap(),
        "linux",
        &artifact_bytes(256),
    )
    .await;

    let operator = ok_json(app.admin(Method::GET, "/v1/releases").send().await.unwrap()).await;
    assert_eq!(operator["releases"].as_array().unwrap().len(), 3);

    assert_eq!(visible(&app, &api_key, "").await, one("a", "1.0.0"));
    assert_eq!(
        visible(&app, &api_key, "status=published").await,
        one("a", "1.0.0")
    );
    assert_eq!(
        visible(&app, &api_key, "product=a").await,
        one("a", "1.0.0")
    );
    assert!(visible(&app, &api_key, "product=b").await.is_empty());
    assert!(visible(&app, &api_key, "version=2.0.0").await.is_empty());
    assert!(
        visible(&app, &api_key, "limit=1&offset=1").await.is_empty(),
        "paging applies to the visible releases"
    );

    let page =
        ok_json(customer_list(&app, &api_key, "include_artifacts=true&limit=10").await).await;
    assert_eq!(
        (page["limit"].as_i64(), page["offset"].as_i64()),
        (Some(10), Some(0))
    );
    let artifacts = page["releases"][0]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0]["id"], entitled);
    let page = ok_json(customer_list(&app, &api_key, "").await).await;
    assert_eq!(page["releases"][0]["artifacts"], Value::Null);

    let drafts = customer_list(&app, &api_key, "status=draft").await;
    assert_eq!(
        assert_error(drafts, 400, "bad_request").await,
        "status must be published",
        "as the reference server answers"
    );

    // Downloads follow the same rule.
    assert_eq!(token_request(&app, &api_key, &entitled).await.status(), 200);
    let refused = token_request(&app, &api_key, &not_entitled).await;
    assert_eq!(
        assert_error(refused, 403, "forbidden").await,
        "entitlement required"
    );
    let refused = token_request(&app, &api_key, &draft_artifact["id"]).await;
    assert_eq!(
        assert_error(refused, 403, "forbidden").await,
        "release not published"
    );

    // Publishing the draft makes it visible at once; unpublishing hides it again.
    let draft_id = draft["id"].as_str().unwrap();
    publish(&app, draft_id).await;
    assert_eq!(visible(&app, &api_key, "").await.len(), 2);
    let unpublished = app
        .admin(Method::POST, &format!("/v1/releases/{draft_id}/unpublish"))
        .send()
        .await
        .unwrap();
    assert_eq!(unpublished.status(), 200);
    assert_eq!(visible(&app, &api_key, "").await, one("a", "1.0.0"));
}

async fn scopes_and_credentials_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (customer_id, reader) = customer_with_scopes(&app, "Reader", &["releases:read"]).await;
    grant(&app, &customer_id, json!({"product": "a", "starts_at": 0})).await;
    published_artifact(&app, "a", "1.0.0").await;
    assert_eq!(visible(&app, &reader, "").await, one("a", "1.0.0"));

    let (other_id, downloader) =
        customer_with_scopes(&app, "Downloader", &["downloads:token", "keys:read"]).await;
    grant(&app, &other_id, json!({"product": "a", "starts_at": 0})).await;
    let missing = customer_list(&app, &downloader, "").await;
    assert_eq!(
        assert_error(missing, 403, "forbidden").await,
        "missing scope"
    );

    // A customer key with an `Authorization` header a gateway added on the way is still
    // the customer (the admin-key header alone comes first).
    let through_gateway = app
        .customer(Method::GET, "/v1/releases", &reader)
        .header("authorization", "Bearer gateway-session-token")
        .send()
        .await
        .unwrap();
    let page = ok_json(through_gateway).await;
    assert_eq!(page["releases"].as_array().unwrap().len(), 1, "{page}");
    // A blank customer key is none: the operator's bearer decides (drafts are visible).
    let blank_key = app
        .client
        .get(app.url("/v1/releases?status=draft"))
        .header("x-releasy-api-key", " ")
        .bearer_auth(crate::helpers::ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(blank_key.status(), 200);
    let admin_first = app
        .customer(Method::GET, "/v1/releases?status=draft", &reader)
        .header("x-releasy-admin-key", "not-the-admin-key")
        .send()
        .await
        .unwrap();
    assert_error(admin_first, 401, "unauthorized").await;

    let anonymous = app
        .client
        .get(app.url("/v1/releases"))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
    let unknown = customer_list(&app, "releasy_not-a-real-key", "").await;
    assert_error(unknown, 401, "unauthorized").await;
}

async fn status_published_is_fine_and_drafts_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (customer_id, api_key, _) = app.customer_with_key().await;
    grant(&app, &customer_id, json!({"product": "a", "starts_at": 0})).await;
    create_release(&app, "a", "0.9.0").await;
    published_artifact(&app, "a", "1.0.0").await;
    assert_eq!(
        visible(&app, &api_key, "status=published").await,
        one("a", "1.0.0")
    );
    assert_eq!(
        visible(&app, &api_key, "status=").await,
        one("a", "1.0.0"),
        "an empty status is no filter"
    );
    let drafts = customer_list(&app, &api_key, "status=draft").await;
    assert_error(drafts, 400, "bad_request").await;
    let unknown = customer_list(&app, &api_key, "status=archived").await;
    assert_error(unknown, 400, "bad_request").await;
}

async fn inactive_or_foreign_entitlements_grant_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let artifact_id = published_artifact(&app, "a", "1.0.0").await;
    let now = now();

    let (future_id, future_key, _) = app.customer_with_key().await;
    let future = grant(
        &app,
        &future_id,
        json!({"product": "a", "starts_at": now + 3600}),
    )
    .await;
    let (ended_id, ended_key, _) = app.customer_with_key().await;
    grant(
        &app,
        &ended_id,
        json!({"product": "a", "starts_at": 0, "ends_at": now - 60}),
    )
    .await;
    // The window's edges: it starts at `starts_at` and ends at `ends_at` (exclusive).
    let (from_now_id, from_now_key, _) = app.customer_with_key().await;
    grant(
        &app,
        &from_now_id,
        json!({"product": "a", "starts_at": now}),
    )
    .await;
    let (ends_now_id, ends_now_key, _) = app.customer_with_key().await;
    grant(
        &app,
        &ends_now_id,
        json!({"product": "a", "starts_at": 0, "ends_at": now}),
    )
    .await;
    // Only another customer holds an entitlement.
    let (_, bystander_key, _) = app.customer_with_key().await;
    let (active_id, active_key, _) = app.customer_with_key().await;
    grant(
        &app,
        &active_id,
        json!({"product": "a", "starts_at": now - 60, "ends_at": now + 3600}),
    )
    .await;

    for (who, key) in [
        ("not started", &future_key),
        ("ended", &ended_key),
        ("another customer's", &bystander_key),
        ("ending now", &ends_now_key),
    ] {
        assert!(visible(&app, key, "").await.is_empty(), "{who}");
        let refused = token_request(&app, key, &artifact_id).await;
        assert_eq!(
            assert_error(refused, 403, "forbidden").await,
            "entitlement required",
            "{who}"
        );
    }
    assert_eq!(visible(&app, &active_key, "").await, one("a", "1.0.0"));
    assert_eq!(visible(&app, &from_now_key, "").await, one("a", "1.0.0"));
    assert_eq!(
        token_request(&app, &active_key, &artifact_id)
            .await
            .status(),
        200
    );

    // Moving the start to the past activates it.
    let started = app
        .admin(
            Method::PATCH,
            &format!(
                "/v1/admin/customers/{future_id}/entitlements/{}",
                future["id"].as_str().unwrap()
            ),
        )
        .json(&json!({"starts_at": now - 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    assert_eq!(visible(&app, &future_key, "").await, one("a", "1.0.0"));
    assert_eq!(
        token_request(&app, &future_key, &artifact_id)
            .await
            .status(),
        200
    );
}

on_both_backends!(
    only_published_releases_of_entitled_products_are_visible,
    scopes_and_credentials_are_checked,
    status_published_is_fine_and_drafts_are_refused,
    inactive_or_foreign_entitlements_grant_nothing,
);
