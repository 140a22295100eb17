//! Every change made through the API leaves its audit event, written in the change's
//! transaction: who made it (`actor`, and `actor_id` in the payload), through which
//! request (`request_id`: the `x-request-id` the client sent, or the one the server
//! gave), from which address, what it touched (`target`) and a short `before`/`after`
//! summary; never a secret. `releasy-server audit verify` walks the chain over them
//! (see `binary.rs`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{artifact_bytes, publish_one_artifact};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

async fn ok(request: reqwest::RequestBuilder, what: &str) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn all_events(app: &TestApp) -> Vec<Value> {
    let page = ok(
        app.admin(Method::GET, "/v1/admin/audit-events?limit=200"),
        "list events",
    )
    .await;
    page["events"].as_array().unwrap().clone()
}

/// The one event named `name`.
fn the<'a>(events: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| e["event"] == name).collect();
    assert_eq!(found.len(), 1, "{name} events: {found:?}");
    found[0]
}

async fn every_change_is_recorded_with_who_which_request_and_what(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let published = publish_one_artifact(&app, "ledger", artifact_bytes(64)).await;
    let customer = published.customer_id.as_str();
    let fetched = ok(
        app.admin(Method::GET, &format!("/v1/admin/customers/{customer}")),
        "get customer",
    )
    .await;
    assert_eq!(fetched["name"], "Acme");

    let token = ok(
        app.customer(Method::POST, "/v1/downloads/token", &published.api_key)
            .header("x-request-id", "issue-token-1")
            .json(&json!({"artifact_id": published.artifact_id})),
        "issue a token",
    )
    .await;
    let download_url = token["download_url"].as_str().unwrap().to_owned();

    ok(
        app.admin(Method::PATCH, &format!("/v1/admin/customers/{customer}"))
            .header("x-request-id", "rename-and-suspend-1")
            .json(&json!({"name": "Acme Renamed", "suspended": true})),
        "rename and suspend",
    )
    .await;
    ok(
        app.admin(Method::PATCH, &format!("/v1/admin/customers/{customer}"))
            .json(&json!({"suspended": false})),
        "resume",
    )
    .await;
    let entitlements = ok(
        app.admin(
            Method::GET,
            &format!("/v1/admin/customers/{customer}/entitlements"),
        ),
        "list entitlements",
    )
    .await;
    let entitlement = entitlements["entitlements"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/admin/customers/{customer}/entitlements/{entitlement}");
    ok(
        app.admin(Method::PATCH, &path)
            .json(&json!({"ends_at": 4_102_444_800_i64})),
        "end the entitlement",
    )
    .await;
    ok(app.admin(Method::DELETE, &path), "delete the entitlement").await;
    let key_id = keys_of(&app, customer).await;
    app.revoke_key(&key_id).await;
    let release = published.release_id.as_str();
    ok(
        app.admin(Method::POST, &format!("/v1/releases/{release}/unpublish")),
        "unpublish",
    )
    .await;
    ok(
        app.admin(Method::DELETE, &format!("/v1/releases/{release}")),
        "delete",
    )
    .await;

    let events = all_events(&app).await;
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] != "api_key.auth")
        .collect();
    let mut names: Vec<&str> = changes
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "artifact.registered",
            "customer.created",
            "customer.suspended",
            "customer.unsuspended",
            "customer.updated",
            "download_token.issued",
            "entitlement.created",
            "entitlement.deleted",
            "entitlement.updated",
            "key.created",
            "key.revoked",
            "release.created",
            "release.deleted",
            "release.published",
            "release.unpublished",
        ]
    );

    // Every change names its actor, request and client.
    for change in &changes {
        let payload = &change["payload"];
        assert_eq!(payload["client_address"], "127.0.0.1", "{change}");
        assert!(payload["request_id"].as_str().is_some(), "{change}");
        assert!(payload["target"].is_object(), "{change}");
    }

    let renamed = the(&events, "customer.updated");
    assert_eq!(renamed["actor"], "admin_key");
    assert_eq!(renamed["customer_id"], customer);
    assert_eq!(renamed["payload"]["actor_id"], Value::Null);
    assert_eq!(renamed["payload"]["request_id"], "rename-and-suspend-1");
    assert_eq!(
        renamed["payload"]["target"],
        json!({"customer_id": customer})
    );
    assert_eq!(renamed["payload"]["before"]["name"], "Acme");
    assert_eq!(renamed["payload"]["after"]["name"], "Acme Renamed");
    let suspended = the(&events, "customer.suspended");
    assert_eq!(suspended["payload"]["request_id"], "rename-and-suspend-1");
    assert_eq!(suspended["payload"]["before"]["suspended_at"], Value::Null);
    assert!(suspended["payload"]["after"]["suspended_at"].is_i64());

    let issued = the(&events, "download_token.issued");
    assert_eq!(issued["actor"], "api_key");
    assert_eq!(issued["customer_id"], customer);
    assert_eq!(issued["payload"]["actor_id"], key_id.as_str());
    assert_eq!(issued["payload"]["request_id"], "issue-token-1");
    assert_eq!(
        issued["payload"]["target"]["artifact_id"],
        published.artifact_id.as_str()
    );

    let updated = the(&events, "entitlement.updated");
    assert_eq!(updated["payload"]["before"]["ends_at"], Value::Null);
    assert_eq!(updated["payload"]["after"]["ends_at"], 4_102_444_800_i64);
    let deleted = the(&events, "release.deleted");
    assert_eq!(deleted["payload"]["target"]["release_id"], release);
    assert_eq!(deleted["payload"]["before"]["status"], "draft");
    assert_eq!(deleted["payload"]["after"], Value::Null);
    let published_event = the(&events, "release.published");
    assert_eq!(
        (
            &published_event["payload"]["before"]["status"],
            &published_event["payload"]["after"]["status"]
        ),
        (&json!("draft"), &json!("published"))
    );

    // No event holds a secret: the key, the download token.
    let text = serde_json::to_string(&events).unwrap();
    let token_secret = download_url.rsplit('/').next().unwrap();
    assert!(!text.contains(&published.api_key), "the key leaked");
    assert!(!text.contains(token_secret), "the download token leaked");
}

/// The id of the customer's one key, from its `key.created` event.
async fn keys_of(app: &TestApp, customer: &str) -> String {
    let events = all_events(app).await;
    let created = the(&events, "key.created");
    assert_eq!(created["payload"]["target"]["customer_id"], customer);
    created["payload"]["target"]["api_key_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A change that is refused (a duplicate release) or changes nothing (revoking a
/// revoked key) leaves no event.
async fn refused_changes_leave_no_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, key_id) = app.customer_with_key().await;
    app.revoke_key(&key_id).await;
    app.revoke_key(&key_id).await;
    let body = json!({"product": "twice", "version": "1.0.0"});
    ok(
        app.admin(Method::POST, "/v1/releases").json(&body),
        "create",
    )
    .await;
    let again = app
        .admin(Method::POST, "/v1/releases")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let events = all_events(&app).await;
    let count = |name: &str| events.iter().filter(|e| e["event"] == name).count();
    assert_eq!(count("key.revoked"), 1);
    assert_eq!(count("release.created"), 1);
}

on_both_backends!(
    every_change_is_recorded_with_who_which_request_and_what,
    refused_changes_leave_no_event,
);
