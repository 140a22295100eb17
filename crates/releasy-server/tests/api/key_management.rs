//! Keys an operator can see and rotate: `GET /v1/admin/customers/{id}/keys` (settings
//! and last use, never a secret) and `POST /v1/admin/keys/{id}/rotate` (a successor
//! with the same settings, the old key working for the overlap), with their errors.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::fields;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

async fn list(app: &TestApp, customer_id: &str) -> reqwest::Response {
    app.admin(
        Method::GET,
        &format!("/v1/admin/customers/{customer_id}/keys"),
    )
    .send()
    .await
    .unwrap()
}

/// The keys `GET /v1/admin/customers/{customer_id}/keys` lists (asserting a 200).
pub(crate) async fn listed(app: &TestApp, customer_id: &str) -> Vec<Value> {
    let response = list(app, customer_id).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["keys"].as_array().unwrap().clone()
}

async fn rotate(app: &TestApp, api_key_id: &str, body: Value) -> reqwest::Response {
    app.admin(Method::POST, &format!("/v1/admin/keys/{api_key_id}/rotate"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn rotated(app: &TestApp, api_key_id: &str, body: Value) -> Value {
    let response = rotate(app, api_key_id, body).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn introspect_status(app: &TestApp, api_key: &str) -> u16 {
    app.customer(Method::POST, "/v1/auth/introspect", api_key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

async fn the_listing_shows_settings_and_last_use_never_a_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = text(&customer["id"]);
    let other = app.create_customer("Other", None).await;
    app.create_key(text(&other["id"]), json!({})).await;
    let expires_at = now() + 3_600;
    let deploy = app
        .create_key(
            customer_id,
            json!({"name": "deploy", "key_type": "ci", "scopes": ["downloads:token"],
                   "expires_at": expires_at}),
        )
        .await;
    let reader = app
        .create_key(customer_id, json!({"scopes": ["keys:read"]}))
        .await;
    assert_eq!(introspect_status(&app, text(&reader["api_key"])).await, 200);
    app.revoke_key(text(&deploy["api_key_id"])).await;

    let keys = listed(&app, customer_id).await;
    assert_eq!(keys.len(), 2, "only this customer's keys: {keys:?}");
    for key in &keys {
        assert_eq!(
            fields(key),
            [
                "allowed_cidrs",
                "api_key_id",
                "created_at",
                "customer_id",
                "expires_at",
                "key_type",
                "last_used_address",
                "last_used_at",
                "name",
                "revoked_at",
                "scopes",
            ]
        );
        assert_eq!(key["customer_id"], customer_id);
    }
    let rendered = serde_json::to_string(&keys).unwrap();
    for secret in [&deploy["api_key"], &reader["api_key"]] {
        assert!(!rendered.contains(text(secret)), "no secret is listed");
    }
    assert!(!rendered.contains("argon2"), "no hash is listed");

    let by_id = |id: &Value| keys.iter().find(|k| k["api_key_id"] == *id).unwrap();
    let (deploy_row, reader_row) = (by_id(&deploy["api_key_id"]), by_id(&reader["api_key_id"]));
    assert_eq!(deploy_row["name"], "deploy");
    assert_eq!(deploy_row["key_type"], "ci");
    assert_eq!(deploy_row["scopes"], json!(["downloads:token"]));
    assert_eq!(deploy_row["expires_at"], expires_at);
    assert!(deploy_row["revoked_at"].as_i64().unwrap() <= now());
    assert_eq!(deploy_row["last_used_at"], Value::Null);
    assert_eq!(deploy_row["last_used_address"], Value::Null);
    assert_eq!(deploy_row["allowed_cidrs"], Value::Null);
    assert_eq!(reader_row["name"], Value::Null);
    assert_eq!(reader_row["revoked_at"], Value::Null);
    assert!(reader_row["last_used_at"].as_i64().unwrap() >= now() - 60);
    assert_eq!(reader_row["last_used_address"], "127.0.0.1");
    assert!(
        keys[0]["created_at"].as_i64() >= keys[1]["created_at"].as_i64(),
        "newest first"
    );
}

async fn the_listing_refuses_a_bad_id_and_an_unknown_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let message = assert_error(list(&app, "not-a-uuid").await, 400, "bad_request").await;
    assert!(message.contains("customer_id"), "{message}");
    let message = assert_error(
        list(&app, &uuid::Uuid::new_v4().to_string()).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(message, "customer not found");
    let keyless = app.create_customer("Keyless", None).await;
    assert!(listed(&app, text(&keyless["id"])).await.is_empty());
}

async fn the_listing_pages_with_limit_and_offset(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = text(&customer["id"]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let key = app.create_key(customer_id, json!({})).await;
        ids.push(key["api_key_id"].clone());
    }
    let page = |query: &'static str| {
        let app = &app;
        let path = format!("/v1/admin/customers/{customer_id}/keys?{query}");
        async move { app.admin(Method::GET, &path).send().await.unwrap() }
    };
    let all: Value = page("").await.json().await.unwrap();
    assert_eq!(
        (all["limit"].as_i64(), all["offset"].as_i64()),
        (Some(50), Some(0))
    );
    let everything: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["api_key_id"].clone())
        .collect();
    assert_eq!(everything.len(), 3);
    for id in &ids {
        assert!(everything.contains(id));
    }
    let second: Value = page("limit=1&offset=1").await.json().await.unwrap();
    assert_eq!(
        (second["limit"].as_i64(), second["offset"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(second["keys"].as_array().unwrap().len(), 1);
    assert_eq!(second["keys"][0]["api_key_id"], everything[1]);
    let past: Value = page("offset=3").await.json().await.unwrap();
    assert!(past["keys"].as_array().unwrap().is_empty());
    for bad in ["limit=0", "limit=201", "offset=-1", "limit=x"] {
        assert_error(page(bad).await, 400, "bad_request").await;
    }
}

async fn a_rotation_hands_over_with_an_overlap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = text(&customer["id"]);
    let expires_at = now() + 86_400;
    let old = app
        .create_key(
            customer_id,
            json!({"name": "deploy", "key_type": "integration",
                   "scopes": ["releases:read", "keys:read"], "expires_at": expires_at}),
        )
        .await;

    let before = now();
    let new = rotated(
        &app,
        text(&old["api_key_id"]),
        json!({"overlap_seconds": 3_600}),
    )
    .await;
    assert_eq!(
        fields(&new),
        [
            "api_key",
            "api_key_id",
            "customer_id",
            "expires_at",
            "key_type",
            "replaced_key_revoked_at",
            "replaces_api_key_id",
            "scopes",
        ]
    );
    assert_ne!(new["api_key_id"], old["api_key_id"]);
    assert_ne!(new["api_key"], old["api_key"]);
    assert!(text(&new["api_key"]).starts_with("releasy_"));
    assert_eq!(new["replaces_api_key_id"], old["api_key_id"]);
    assert_eq!(new["customer_id"], customer_id);
    assert_eq!(new["key_type"], "integration");
    assert_eq!(new["scopes"], json!(["releases:read", "keys:read"]));
    assert_eq!(new["expires_at"], expires_at);
    let retires_at = new["replaced_key_revoked_at"].as_i64().unwrap();
    assert!((before + 3_600..=now() + 3_600).contains(&retires_at));

    // Both work during the overlap; the new one is the same key in every other way.
    assert_eq!(introspect_status(&app, text(&old["api_key"])).await, 200);
    let introspected: Value = app
        .customer(Method::POST, "/v1/auth/introspect", text(&new["api_key"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["api_key_id"], new["api_key_id"]);
    assert_eq!(introspected["key_type"], "integration");

    let keys = listed(&app, customer_id).await;
    let old_row = keys
        .iter()
        .find(|k| k["api_key_id"] == old["api_key_id"])
        .unwrap();
    assert_eq!(
        old_row["revoked_at"], retires_at,
        "the scheduled revocation"
    );
    let new_row = keys
        .iter()
        .find(|k| k["api_key_id"] == new["api_key_id"])
        .unwrap();
    assert_eq!(new_row["name"], "deploy");
    assert_eq!(new_row["revoked_at"], Value::Null);

    // The rotation is audited: the successor's creation and the old key's rotation.
    let events = app.audit_events("event=key.rotated").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let payload = &events[0]["payload"];
    assert_eq!(payload["target"]["api_key_id"], old["api_key_id"]);
    assert_eq!(payload["target"]["successor_api_key_id"], new["api_key_id"]);
    assert_eq!(payload["after"]["revoked_at"], retires_at);
    assert!(!events[0].to_string().contains(text(&new["api_key"])));

    // Revoking the old key ends its overlap now; the new key is untouched.
    app.revoke_key(text(&old["api_key_id"])).await;
    assert_eq!(introspect_status(&app, text(&old["api_key"])).await, 401);
    assert_eq!(introspect_status(&app, text(&new["api_key"])).await, 200);
}

async fn an_empty_object_overlaps_a_day_and_zero_retires_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = text(&customer["id"]);

    let day = app.create_key(customer_id, json!({})).await;
    let before = now();
    let new = rotated(&app, text(&day["api_key_id"]), json!({})).await;
    let retires_at = new["replaced_key_revoked_at"].as_i64().unwrap();
    assert!((before + 86_400..=now() + 86_400).contains(&retires_at));
    assert_eq!(introspect_status(&app, text(&day["api_key"])).await, 200);

    let at_once = app.create_key(customer_id, json!({})).await;
    let new = rotated(
        &app,
        text(&at_once["api_key_id"]),
        json!({"overlap_seconds": 0}),
    )
    .await;
    assert_eq!(
        introspect_status(&app, text(&at_once["api_key"])).await,
        401
    );
    assert_eq!(introspect_status(&app, text(&new["api_key"])).await, 200);
}

async fn a_rotation_refuses_bad_input_and_keys_that_cannot_hand_over(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = text(&customer["id"]);
    let key = app.create_key(customer_id, json!({})).await;
    let key_id = text(&key["api_key_id"]);

    let message = assert_error(rotate(&app, "nope", json!({})).await, 400, "bad_request").await;
    assert!(message.contains("api_key_id"), "{message}");
    let unknown = uuid::Uuid::new_v4().to_string();
    let message = assert_error(rotate(&app, &unknown, json!({})).await, 404, "not_found").await;
    assert_eq!(message, "api key not found");
    for overlap in [json!(-1), json!(2_592_001), json!("60"), json!(1.5)] {
        let response = rotate(&app, key_id, json!({"overlap_seconds": overlap})).await;
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains("overlap_seconds"), "{overlap}: {message}");
    }
    // A misspelt field is refused, not ignored: the old key would work for a day.
    let message = assert_error(
        rotate(&app, key_id, json!({"overlap_second": 0})).await,
        400,
        "bad_request",
    )
    .await;
    assert!(message.contains("overlap_second"), "{message}");
    let no_body = app
        .admin(Method::POST, &format!("/v1/admin/keys/{key_id}/rotate"))
        .send()
        .await
        .unwrap();
    assert_error(no_body, 400, "bad_request").await;
    assert_eq!(
        listed(&app, customer_id).await.len(),
        1,
        "no refused rotation issued a key"
    );

    rotated(&app, key_id, json!({"overlap_seconds": 600})).await;
    let message = assert_error(rotate(&app, key_id, json!({})).await, 409, "conflict").await;
    assert_eq!(message, "api key is already being rotated");

    let revoked = app.create_key(customer_id, json!({})).await;
    app.revoke_key(text(&revoked["api_key_id"])).await;
    let response = rotate(&app, text(&revoked["api_key_id"]), json!({})).await;
    let message = assert_error(response, 409, "conflict").await;
    assert_eq!(message, "api key is revoked");

    let expiring = app
        .create_key(customer_id, json!({"expires_at": now() + 1}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let response = rotate(&app, text(&expiring["api_key_id"]), json!({})).await;
    let message = assert_error(response, 409, "conflict").await;
    assert_eq!(message, "api key has expired");

    // One rotation succeeded: four keys in all.
    assert_eq!(listed(&app, customer_id).await.len(), 4);
}

async fn rotate_with_key(
    app: &TestApp,
    api_key_id: &str,
    body: Value,
    idempotency_key: &str,
) -> reqwest::Response {
    app.admin(Method::POST, &format!("/v1/admin/keys/{api_key_id}/rotate"))
        .header("Idempotency-Key", idempotency_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A rotation cannot run twice, so a retry whose answer was lost gets it replayed
/// under its `Idempotency-Key`, the new secret included, and nothing more is issued.
async fn a_rotation_retried_with_its_idempotency_key_replays_its_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = text(&customer["id"]);
    let key = app.create_key(customer_id, json!({})).await;
    let key_id = text(&key["api_key_id"]);
    let idempotency_key = uuid::Uuid::new_v4().to_string();
    let body = json!({"overlap_seconds": 600});

    let first = rotate_with_key(&app, key_id, body.clone(), &idempotency_key).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = rotate_with_key(&app, key_id, body.clone(), &idempotency_key).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "the same successor and secret");
    assert_eq!(introspect_status(&app, text(&again["api_key"])).await, 200);
    assert_eq!(listed(&app, customer_id).await.len(), 2, "one successor");

    // Another body under the key is another request; another key, a new rotation.
    let response = rotate_with_key(&app, key_id, json!({}), &idempotency_key).await;
    assert_error(response, 409, "idempotency_conflict").await;
    let other_key = uuid::Uuid::new_v4().to_string();
    let response = rotate_with_key(&app, key_id, body, &other_key).await;
    let message = assert_error(response, 409, "conflict").await;
    assert_eq!(message, "api key is already being rotated");
    // A refusal keeps nothing: its retry is refused again, not "in progress" nor
    // replayed.
    let response = rotate_with_key(&app, key_id, json!({"overlap_seconds": 600}), &other_key).await;
    let message = assert_error(response, 409, "conflict").await;
    assert_eq!(message, "api key is already being rotated");
    assert_eq!(listed(&app, customer_id).await.len(), 2);
}

on_both_backends!(
    a_rotation_retried_with_its_idempotency_key_replays_its_answer,
    the_listing_shows_settings_and_last_use_never_a_secret,
    the_listing_pages_with_limit_and_offset,
    the_listing_refuses_a_bad_id_and_an_unknown_customer,
    a_rotation_hands_over_with_an_overlap,
    an_empty_object_overlaps_a_day_and_zero_retires_at_once,
    a_rotation_refuses_bad_input_and_keys_that_cannot_hand_over,
);
