//! Address rules on customer keys (`allowed_cidrs`): set at creation or through
//! `PATCH /v1/admin/keys/{id}`, enforced on every request (403 `address not allowed`,
//! audited), inherited by the key's download tokens, with client addresses taken from
//! a trusted proxy's `X-Forwarded-For`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{artifact_bytes, publish_one_artifact};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;

/// The test client reaches the server from 127.0.0.1; with it trusted as a proxy, a
/// test names any client address in `X-Forwarded-For`.
const TRUST_LOOPBACK: [(&str, &str); 1] = [("RELEASY_TRUSTED_PROXIES", "127.0.0.1")];

async fn introspect_from(app: &TestApp, api_key: &str, client: &str) -> reqwest::Response {
    app.customer(Method::POST, "/v1/auth/introspect", api_key)
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
}

async fn patch_key(app: &TestApp, api_key_id: &str, body: Value) -> reqwest::Response {
    app.admin(Method::PATCH, &format!("/v1/admin/keys/{api_key_id}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

async fn a_key_works_only_from_its_ranges(backend: Backend) {
    let app = TestApp::spawn_with(backend, &TRUST_LOOPBACK).await;
    let customer = app.create_customer("Acme", None).await;
    let key = app
        .create_key(
            text(&customer["id"]),
            json!({"allowed_cidrs": ["203.0.113.0/24", "2001:db8::/32", "10.1.2.3/8"]}),
        )
        .await;
    assert_eq!(
        key["allowed_cidrs"],
        json!(["203.0.113.0/24", "2001:db8::/32", "10.0.0.0/8"]),
        "the rule as it reads back"
    );
    let api_key = text(&key["api_key"]);
    for inside in ["203.0.113.7", "2001:db8::5", "10.200.0.1"] {
        let response = introspect_from(&app, api_key, inside).await;
        assert_eq!(response.status(), 200, "{inside}");
    }
    for outside in ["198.51.100.1", "2001:db9::1"] {
        let message = assert_error(
            introspect_from(&app, api_key, outside).await,
            403,
            "forbidden",
        )
        .await;
        assert_eq!(message, "address not allowed");
    }

    let events = app.audit_events("event=api_key.auth&actor=api_key").await;
    let refusals: Vec<&Value> = events
        .iter()
        .filter(|e| e["payload"]["reason"] == "address_not_allowed")
        .collect();
    assert_eq!(refusals.len(), 2, "{events:?}");
    assert_eq!(refusals[0]["payload"]["client_address"], "2001:db9::1");
    assert_eq!(refusals[0]["payload"]["api_key_id"], key["api_key_id"]);
}

async fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy(backend: Backend) {
    // No trusted proxy: the header is the client's own claim and changes nothing.
    let direct = TestApp::spawn(backend).await;
    let customer = direct.create_customer("Acme", None).await;
    let key = direct
        .create_key(
            text(&customer["id"]),
            json!({"allowed_cidrs": ["203.0.113.0/24"]}),
        )
        .await;
    let response = introspect_from(&direct, text(&key["api_key"]), "203.0.113.7").await;
    assert_error(response, 403, "forbidden").await;

    // Behind a trusted proxy the client is the rightmost address it did not write
    // itself: an entry the client put first proves nothing.
    let proxied = TestApp::spawn_with(backend, &TRUST_LOOPBACK).await;
    let customer = proxied.create_customer("Acme", None).await;
    let key = proxied
        .create_key(
            text(&customer["id"]),
            json!({"allowed_cidrs": ["203.0.113.0/24"]}),
        )
        .await;
    let api_key = text(&key["api_key"]);
    let spoofed = introspect_from(&proxied, api_key, "203.0.113.7, 198.51.100.1").await;
    assert_error(spoofed, 403, "forbidden").await;
    let forwarded = introspect_from(&proxied, api_key, "198.51.100.1, 203.0.113.7").await;
    assert_eq!(forwarded.status(), 200);
}

async fn a_garbled_forwarded_entry_does_not_make_the_client_the_proxy(backend: Backend) {
    // A key allowed only from the proxy's own range: a client reaching the server
    // through the proxy must still be told apart from the proxy.
    let app = TestApp::spawn_with(backend, &TRUST_LOOPBACK).await;
    let customer = app.create_customer("Acme", None).await;
    let key = app
        .create_key(
            text(&customer["id"]),
            json!({"allowed_cidrs": ["127.0.0.0/8"]}),
        )
        .await;
    // The client's own line holds a byte that is not text; the proxy appended the
    // client's real address to that same line.
    let garbled = app
        .customer(Method::POST, "/v1/auth/introspect", text(&key["api_key"]))
        .header(
            "x-forwarded-for",
            reqwest::header::HeaderValue::from_bytes(b"\xff, 198.51.100.7").unwrap(),
        )
        .send()
        .await
        .unwrap();
    let message = assert_error(garbled, 403, "forbidden").await;
    assert_eq!(message, "address not allowed");
    let events = app.audit_events("event=api_key.auth&actor=api_key").await;
    let refusal = events
        .iter()
        .find(|e| e["payload"]["reason"] == "address_not_allowed")
        .unwrap_or_else(|| panic!("no refusal audited: {events:?}"));
    assert_eq!(refusal["payload"]["client_address"], "198.51.100.7");
}

async fn patch_sets_and_clears_the_rule_and_the_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let key = app.create_key(text(&customer["id"]), json!({})).await;
    let (api_key, key_id) = (text(&key["api_key"]), text(&key["api_key_id"]));
    let introspect = async || {
        app.customer(Method::POST, "/v1/auth/introspect", api_key)
            .send()
            .await
            .unwrap()
    };

    let response = patch_key(&app, key_id, json!({"allowed_cidrs": ["192.0.2.0/24"]})).await;
    assert_eq!(response.status(), 200);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary["api_key_id"], key["api_key_id"]);
    assert_eq!(summary["allowed_cidrs"], json!(["192.0.2.0/24"]));
    assert_eq!(summary["name"], Value::Null);
    let message = assert_error(introspect().await, 403, "forbidden").await;
    assert_eq!(message, "address not allowed", "127.0.0.1 is outside");

    let renamed: Value = patch_key(&app, key_id, json!({"name": "office"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "office");
    assert_eq!(
        renamed["allowed_cidrs"],
        json!(["192.0.2.0/24"]),
        "a field not named is kept"
    );

    let cleared: Value = patch_key(&app, key_id, json!({"allowed_cidrs": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["allowed_cidrs"], Value::Null);
    assert_eq!(introspect().await.status(), 200);

    let listed = crate::key_management::listed(&app, text(&customer["id"])).await;
    assert_eq!(listed[0]["name"], "office");
    assert_eq!(listed[0]["allowed_cidrs"], Value::Null);

    let updates = app.audit_events("event=key.updated").await;
    assert_eq!(updates.len(), 3);
    assert_eq!(
        updates[0]["payload"]["before"]["allowed_cidrs"],
        json!(["192.0.2.0/24"])
    );
    assert_eq!(updates[0]["payload"]["after"]["allowed_cidrs"], Value::Null);
}

async fn bad_rules_and_bad_patches_are_400_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = text(&customer["id"]);
    let too_many: Vec<String> = (0..101).map(|i| format!("10.0.0.{i}")).collect();
    for bad in [
        json!([]),
        json!(["10.0.0.0/33"]),
        json!(["example.com"]),
        json!("10.0.0.0/8"),
        json!([7]),
        json!(too_many),
    ] {
        let response = app
            .admin(Method::POST, "/v1/admin/keys")
            .json(&json!({"customer_id": customer_id, "allowed_cidrs": bad}))
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains("allowed_cidrs"), "{bad}: {message}");
    }
    let key = app.create_key(customer_id, json!({})).await;
    let key_id = text(&key["api_key_id"]);
    let message = assert_error(
        patch_key(&app, key_id, json!({"allowed_cidrs": []})).await,
        400,
        "bad_request",
    )
    .await;
    assert!(message.contains("allowed_cidrs"), "{message}");
    assert_error(patch_key(&app, key_id, json!({})).await, 400, "bad_request").await;
    // A misspelt field is refused, not ignored: the key would stay open everywhere.
    let message = assert_error(
        patch_key(
            &app,
            key_id,
            json!({"name": "x", "allowed_cidr": ["10.0.0.0/8"]}),
        )
        .await,
        400,
        "bad_request",
    )
    .await;
    assert!(message.contains("allowed_cidr"), "{message}");
    assert_error(
        patch_key(&app, key_id, json!({"name": "  "})).await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        patch_key(&app, "nope", json!({"name": "x"})).await,
        400,
        "bad_request",
    )
    .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let message = assert_error(
        patch_key(&app, &unknown, json!({"name": "x"})).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(message, "api key not found");

    // Only the one valid key exists, unchanged and usable from anywhere.
    let listed = crate::key_management::listed(&app, customer_id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["allowed_cidrs"], Value::Null);
    assert_eq!(listed[0]["name"], Value::Null);
}

async fn download_tokens_inherit_the_rule_of_their_key(backend: Backend) {
    let app = TestApp::spawn_with(backend, &TRUST_LOOPBACK).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(1_000)).await;
    let key = app
        .create_key(
            &p.customer_id,
            json!({"scopes": ["downloads:token"], "allowed_cidrs": ["203.0.113.0/24"]}),
        )
        .await;
    let token: Value = app
        .customer(Method::POST, "/v1/downloads/token", text(&key["api_key"]))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({"artifact_id": p.artifact_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = text(&token["download_url"]).to_owned();
    let resolve_from = async |client: &str| {
        app.client
            .get(&url)
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(resolve_from("203.0.113.99").await.status(), 302);
    let message = assert_error(resolve_from("198.51.100.1").await, 403, "forbidden").await;
    assert_eq!(message, "address not allowed");

    // Lifting the key's rule later does not widen a token already issued.
    let response = patch_key(
        &app,
        text(&key["api_key_id"]),
        json!({"allowed_cidrs": null}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_error(resolve_from("198.51.100.1").await, 403, "forbidden").await;

    let refusals = app.audit_events("event=download.refused").await;
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    let refusal = &refusals[0];
    assert_eq!(refusal["actor"], "download_token");
    assert_eq!(refusal["customer_id"], p.customer_id.as_str());
    assert_eq!(refusal["payload"]["reason"], "address_not_allowed");
    assert_eq!(refusal["payload"]["client_address"], "198.51.100.1");
    assert_eq!(refusal["payload"]["artifact_id"], p.artifact_id.as_str());
    assert!(
        !refusal
            .to_string()
            .contains(url.rsplit('/').next().unwrap())
    );

    // A key without a rule: its tokens resolve from anywhere.
    let open: Value = app
        .customer(Method::POST, "/v1/downloads/token", &p.api_key)
        .json(&json!({"artifact_id": p.artifact_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = app
        .client
        .get(text(&open["download_url"]))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}

on_both_backends!(
    a_key_works_only_from_its_ranges,
    x_forwarded_for_names_the_client_only_behind_a_trusted_proxy,
    a_garbled_forwarded_entry_does_not_make_the_client_the_proxy,
    patch_sets_and_clears_the_rule_and_the_name,
    bad_rules_and_bad_patches_are_400_and_change_nothing,
    download_tokens_inherit_the_rule_of_their_key,
);
