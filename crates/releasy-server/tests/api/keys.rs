//! `/v1/admin/keys` and `/v1/admin/keys/revoke`: issuing keys (defaults, every field,
//! validation), revoking them, the admin credentials that guard both, and the absence
//! of `Idempotency-Key` on key creation (refused).

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;

/// Every scope, in the contract's order.
const ALL_SCOPES: [&str; 6] = [
    "releases:read",
    "downloads:read",
    "downloads:token",
    "keys:read",
    "keys:write",
    "audit:read",
];

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `releasy_` followed by the unpadded base64url form of 32 bytes (43 characters).
fn assert_key_shape(api_key: &str) {
    let encoded = api_key
        .strip_prefix("releasy_")
        .unwrap_or_else(|| panic!("{api_key} lacks the releasy_ prefix"));
    assert_eq!(encoded.len(), 43, "{api_key}");
    assert!(
        encoded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{api_key} is not base64url"
    );
}

async fn post_key(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin(Method::POST, "/v1/admin/keys")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn revoke(app: &TestApp, api_key_id: &str) -> reqwest::Response {
    app.admin(Method::POST, "/v1/admin/keys/revoke")
        .json(&json!({ "api_key_id": api_key_id }))
        .send()
        .await
        .unwrap()
}

async fn introspect_status(app: &TestApp, api_key: &str) -> u16 {
    app.customer(Method::POST, "/v1/auth/introspect", api_key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn create_with_defaults(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = customer["id"].as_str().unwrap();
    let key = app.create_key(customer_id, json!({})).await;

    let mut fields: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "api_key",
            "api_key_id",
            "customer_id",
            "expires_at",
            "key_type",
            "scopes"
        ]
    );
    assert_eq!(key["customer_id"], customer_id);
    assert_eq!(key["key_type"], "human");
    assert_eq!(key["scopes"], json!(ALL_SCOPES));
    assert_eq!(key["expires_at"], Value::Null);
    assert_key_shape(key["api_key"].as_str().unwrap());
    uuid::Uuid::parse_str(key["api_key_id"].as_str().unwrap()).unwrap();

    // Two keys never share a secret or an id.
    let other = app.create_key(customer_id, json!({})).await;
    assert_ne!(other["api_key"], key["api_key"]);
    assert_ne!(other["api_key_id"], key["api_key_id"]);
}

async fn create_with_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = customer["id"].as_str().unwrap();
    let expires_at = now() + 3600;
    let key = app
        .create_key(
            customer_id,
            json!({
                "name": "deploy pipeline",
                "key_type": "ci",
                "scopes": ["keys:read", "releases:read", "keys:read"],
                "expires_at": expires_at,
            }),
        )
        .await;
    assert_eq!(key["key_type"], "ci");
    // Duplicates collapse; the scopes come back in the contract's order.
    assert_eq!(key["scopes"], json!(["releases:read", "keys:read"]));
    assert_eq!(key["expires_at"], expires_at);
    assert_eq!(key["customer_id"], customer_id);
    assert_key_shape(key["api_key"].as_str().unwrap());

    let integration = app
        .create_key(customer_id, json!({"key_type": "integration"}))
        .await;
    assert_eq!(integration["key_type"], "integration");

    // The new key works and describes itself the same way.
    let described: Value = app
        .customer(
            Method::POST,
            "/v1/auth/introspect",
            key["api_key"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(described["scopes"], key["scopes"]);
    assert_eq!(described["key_type"], "ci");
    assert_eq!(described["expires_at"], expires_at);
}

async fn create_validates_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let id = customer["id"].as_str().unwrap();
    for (body, field) in [
        (
            json!({"customer_id": id, "scopes": ["releases:read", "root"]}),
            "scopes",
        ),
        (json!({"customer_id": id, "scopes": []}), "scopes"),
        (json!({"customer_id": id, "key_type": "robot"}), "key_type"),
        (
            json!({"customer_id": id, "expires_at": now() - 60}),
            "expires_at",
        ),
        (json!({"customer_id": "not-a-uuid"}), "customer_id"),
        (json!({"name": "no customer"}), "customer_id"),
        (json!({"customer_id": id, "scopes": [" ", ""]}), "scopes"),
        (json!({"customer_id": id, "name": "n".repeat(201)}), "name"),
    ] {
        let message = assert_error(post_key(&app, body.clone()).await, 400, "bad_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    // Wrong JSON types are 400 too (serde's message names the type, not the field).
    for body in [
        json!({"customer_id": id, "scopes": "keys:read"}),
        json!({"customer_id": id, "expires_at": "tomorrow"}),
        json!({"customer_id": 5}),
    ] {
        assert_error(post_key(&app, body).await, 400, "bad_request").await;
    }
}

/// Fields read as the reference server reads them: a key type in any case with spaces
/// around it, scope names with spaces around them (blank ones left out, duplicates
/// collapsed), and a blank name as no name.
async fn create_reads_fields_as_the_reference_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let id = customer["id"].as_str().unwrap();
    let response = post_key(
        &app,
        json!({
            "customer_id": id,
            "key_type": " CI ",
            "scopes": [" releases:read", "", "releases:read "],
            "name": "  ",
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let key: Value = response.json().await.unwrap();
    assert_eq!(key["key_type"], "ci");
    assert_eq!(key["scopes"], json!(["releases:read"]));
    let listed = crate::key_management::listed(&app, id).await;
    assert_eq!(listed[0]["name"], Value::Null);
}

async fn create_for_unknown_customer_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = post_key(
        &app,
        json!({"customer_id": uuid::Uuid::new_v4().to_string()}),
    )
    .await;
    assert_eq!(
        assert_error(response, 404, "not_found").await,
        "customer not found"
    );
}

async fn revoke_answers_the_key_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, api_key_id) = app.customer_with_key().await;
    assert_eq!(introspect_status(&app, &api_key).await, 200);

    let first = revoke(&app, &api_key_id).await;
    assert_eq!(first.status(), 200);
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({ "api_key_id": api_key_id })
    );
    assert_eq!(introspect_status(&app, &api_key).await, 401);

    // Revoking again is no error.
    let second = revoke(&app, &api_key_id).await;
    assert_eq!(second.status(), 200);
    assert_eq!(
        second.json::<Value>().await.unwrap(),
        json!({ "api_key_id": api_key_id })
    );
    assert_eq!(introspect_status(&app, &api_key).await, 401);
}

async fn revoke_validates_and_404s(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = revoke(&app, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(
        assert_error(unknown, 404, "not_found").await,
        "api key not found"
    );
    let malformed = revoke(&app, "not-a-uuid").await;
    let message = assert_error(malformed, 400, "bad_request").await;
    assert!(message.contains("api_key_id"), "{message}");
    let missing = app
        .admin(Method::POST, "/v1/admin/keys/revoke")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let message = assert_error(missing, 400, "bad_request").await;
    assert!(message.contains("api_key_id"), "{message}");
}

async fn admin_credentials_are_required(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (customer_id, api_key, api_key_id) = app.customer_with_key().await;
    for (path, body) in [
        ("/v1/admin/keys", json!({ "customer_id": customer_id })),
        ("/v1/admin/keys/revoke", json!({ "api_key_id": api_key_id })),
    ] {
        let none = app
            .client
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(none, 401, "unauthorized").await;
        let wrong = app
            .client
            .post(app.url(path))
            .header("x-releasy-admin-key", "not-the-admin-key")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(wrong, 401, "unauthorized").await;
        let wrong_bearer = app
            .client
            .post(app.url(path))
            .bearer_auth("not-the-admin-key")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(wrong_bearer, 401, "unauthorized").await;
        // A customer key, even one holding `keys:write`, is no admin credential.
        let customer = app
            .customer(Method::POST, path, &api_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(customer, 401, "unauthorized").await;
    }
    // None of the refused requests revoked the key.
    assert_eq!(introspect_status(&app, &api_key).await, 200);
}

async fn create_refuses_an_idempotency_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let body = json!({ "customer_id": customer["id"] });
    let refused = app
        .admin(Method::POST, "/v1/admin/keys")
        .header("Idempotency-Key", "same-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    let message = assert_error(refused, 400, "bad_request").await;
    assert!(
        message.starts_with("Idempotency-Key is not supported for key creation"),
        "{message}"
    );
    let keys = crate::key_management::listed(&app, customer["id"].as_str().unwrap()).await;
    assert_eq!(keys.len(), 0, "no key issued");
    // The caller is judged first: without credentials it is 401 whatever the header.
    let anonymous = app
        .client
        .post(app.url("/v1/admin/keys"))
        .header("Idempotency-Key", "same-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
}

on_both_backends!(
    create_with_defaults,
    create_with_every_field,
    create_validates_every_field,
    create_reads_fields_as_the_reference_does,
    create_for_unknown_customer_is_404,
    revoke_answers_the_key_id,
    revoke_validates_and_404s,
    admin_credentials_are_required,
    create_refuses_an_idempotency_key,
);
