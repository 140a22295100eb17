//! Entitlements narrowed to channels and versions, with the perpetual fallback: set,
//! shown, changed and refused through the admin API; applied to a customer's listing,
//! `latest`, `upgrade` and download tokens; explained by
//! `GET /v1/admin/customers/{id}/access`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::artifacts::add_artifact;
use crate::entitlements::{create_request, grant};
use crate::flow::artifact_bytes;
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, now, ok_json, publish};

/// Creates and publishes `version` of `product` with one linux artifact; returns the
/// release and its artifact id.
async fn published(app: &TestApp, product: &str, version: &str) -> (Value, String) {
    let release = create_release(app, product, version).await;
    let id = release["id"].as_str().unwrap().to_owned();
    let artifact = add_artifact(app, &id, "linux-x86_64", &artifact_bytes(32)).await;
    let release = publish(app, &id).await;
    (release, artifact["id"].as_str().unwrap().to_owned())
}

async fn patch(app: &TestApp, customer_id: &str, id: &str, body: Value) -> reqwest::Response {
    app.admin(
        Method::PATCH,
        &format!("/v1/admin/customers/{customer_id}/entitlements/{id}"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn customer_get(app: &TestApp, api_key: &str, path: &str) -> reqwest::Response {
    app.customer(Method::GET, path, api_key)
        .send()
        .await
        .unwrap()
}

async fn token_status(app: &TestApp, api_key: &str, artifact_id: &str) -> u16 {
    app.customer(Method::POST, "/v1/downloads/token", api_key)
        .json(&json!({"artifact_id": artifact_id}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn versions(listing: &Value) -> Vec<&str> {
    listing["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect()
}

async fn access(app: &TestApp, customer_id: &str, query: &str) -> reqwest::Response {
    app.admin(
        Method::GET,
        &format!("/v1/admin/customers/{customer_id}/access?{query}"),
    )
    .send()
    .await
    .unwrap()
}

async fn scopes_are_set_shown_changed_and_cleared(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let cid = customer["id"].as_str().unwrap();

    let plain = grant(&app, cid, json!({"product": "agent", "starts_at": 0})).await;
    for field in ["channels", "versions", "perpetual_fallback"] {
        assert!(
            plain.get(field).is_none(),
            "an entitlement without a scope looks as before: {plain}"
        );
    }

    let narrowed = grant(
        &app,
        cid,
        json!({
            "product": "agent",
            "starts_at": 0,
            "ends_at": 4_000_000_000_i64,
            "channels": ["beta", "stable", "beta"],
            "versions": ">=2.0, <3",
            "perpetual_fallback": true,
        }),
    )
    .await;
    assert_eq!(
        narrowed["channels"],
        json!(["stable", "beta"]),
        "most stable first, once each"
    );
    assert_eq!(narrowed["versions"], ">=2.0, <3");
    assert_eq!(narrowed["perpetual_fallback"], true);
    let id = narrowed["id"].as_str().unwrap();

    let listed = ok_json(
        app.admin(
            Method::GET,
            &format!("/v1/admin/customers/{cid}/entitlements?limit=1"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(listed["entitlements"][0], narrowed, "the listing shows it");

    let changed = ok_json(
        patch(
            &app,
            cid,
            id,
            json!({"versions": "^3", "perpetual_fallback": false}),
        )
        .await,
    )
    .await;
    assert_eq!(changed["versions"], "^3");
    assert!(changed.get("perpetual_fallback").is_none(), "{changed}");
    assert_eq!(changed["channels"], json!(["stable", "beta"]), "kept");

    let cleared =
        ok_json(patch(&app, cid, id, json!({"channels": null, "versions": null})).await).await;
    assert!(cleared.get("channels").is_none(), "{cleared}");
    assert!(cleared.get("versions").is_none(), "{cleared}");
    assert_eq!(cleared["ends_at"], 4_000_000_000_i64, "the rest is kept");
}

async fn bad_scopes_are_refused_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let cid = customer["id"].as_str().unwrap();
    let base = |extra: Value| {
        let mut body = json!({"product": "agent", "starts_at": 0});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (extra, expected) in [
        (
            json!({"channels": []}),
            "channels must name at least one channel",
        ),
        (json!({"channels": ["lts"]}), "channels must each be one of"),
        (json!({"channels": "stable"}), "channels"),
        (json!({"versions": "two point oh"}), "versions"),
        (json!({"versions": ""}), "versions"),
        (json!({"perpetual_fallback": "yes"}), "perpetual_fallback"),
    ] {
        let body = base(extra.clone());
        let refused = create_request(&app, cid, &body).await;
        let message = assert_error(refused, 400, "bad_request").await;
        assert!(message.contains(expected), "{extra}: {message}");
    }
    let existing = grant(&app, cid, base(json!({}))).await;
    let id = existing["id"].as_str().unwrap();
    for (body, expected) in [
        (json!({"channels": []}), "channels"),
        (json!({"versions": ">=x"}), "versions"),
        (json!({"perpetual_fallback": "no"}), "perpetual_fallback"),
    ] {
        let message =
            assert_error(patch(&app, cid, id, body.clone()).await, 400, "bad_request").await;
        assert!(message.contains(expected), "{body}: {message}");
    }
    let listed = ok_json(
        app.admin(
            Method::GET,
            &format!("/v1/admin/customers/{cid}/entitlements"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        listed["entitlements"],
        json!([existing]),
        "nothing refused was stored or changed"
    );
}

async fn a_scope_bounds_the_listing_the_updater_checks_and_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut artifacts = Vec::new();
    for version in ["1.0.0", "2.0.0", "2.1.0-beta.1", "2.2.0", "3.0.0"] {
        artifacts.push(published(&app, "agent", version).await.1);
    }
    published(&app, "tool", "9.0.0").await;
    let (cid, api_key, _) = app.customer_with_key().await;
    grant(
        &app,
        &cid,
        json!({"product": "agent", "starts_at": 0, "channels": ["stable"], "versions": ">=2.0, <3"}),
    )
    .await;
    grant(&app, &cid, json!({"product": "tool", "starts_at": 0})).await;

    let listed = ok_json(customer_get(&app, &api_key, "/v1/releases?sort=version").await).await;
    assert_eq!(
        versions(&listed),
        ["9.0.0", "2.2.0", "2.0.0"],
        "tool whole, agent within the scope"
    );
    let paged = ok_json(customer_get(&app, &api_key, "/v1/releases?limit=1&offset=2").await).await;
    assert_eq!(paged["releases"].as_array().unwrap().len(), 1);

    let latest = ok_json(
        customer_get(
            &app,
            &api_key,
            "/v1/releases/latest?product=agent&channel=beta",
        )
        .await,
    )
    .await;
    assert_eq!(latest["version"], "2.2.0", "beta is not granted");
    let upgrade = ok_json(
        customer_get(
            &app,
            &api_key,
            "/v1/releases/upgrade?product=agent&current=1.0.0",
        )
        .await,
    )
    .await;
    assert_eq!(upgrade["release"]["version"], "2.2.0");
    let none = customer_get(
        &app,
        &api_key,
        "/v1/releases/upgrade?product=agent&current=2.2.0",
    )
    .await;
    assert_eq!(none.status(), 204, "3.0.0 is outside the scope");

    assert_eq!(token_status(&app, &api_key, &artifacts[4]).await, 403);
    assert_eq!(token_status(&app, &api_key, &artifacts[2]).await, 403);
    assert_eq!(token_status(&app, &api_key, &artifacts[0]).await, 403);
    assert_eq!(token_status(&app, &api_key, &artifacts[3]).await, 200);
    let refused = app
        .customer(Method::POST, "/v1/downloads/token", &api_key)
        .json(&json!({"artifact_id": artifacts[4]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(refused, 403, "forbidden").await,
        "entitlement required"
    );
}

async fn the_perpetual_fallback_keeps_releases_published_before_the_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, old_artifact) = published(&app, "agent", "1.0.0").await;
    let (cid, api_key, _) = app.customer_with_key().await;
    let entitlement = grant(
        &app,
        &cid,
        json!({"product": "agent", "starts_at": 0, "perpetual_fallback": true}),
    )
    .await;
    // End the entitlement after 1.0.0 was published, and publish 1.1.0 after the end.
    let ends_at = old["published_at"].as_i64().unwrap() + 1;
    while now() < ends_at {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ok_json(
        patch(
            &app,
            &cid,
            entitlement["id"].as_str().unwrap(),
            json!({"ends_at": ends_at}),
        )
        .await,
    )
    .await;
    let (_, new_artifact) = published(&app, "agent", "1.1.0").await;

    let listed = ok_json(customer_get(&app, &api_key, "/v1/releases").await).await;
    assert_eq!(versions(&listed), ["1.0.0"]);
    let latest =
        ok_json(customer_get(&app, &api_key, "/v1/releases/latest?product=agent").await).await;
    assert_eq!(latest["version"], "1.0.0");
    assert_eq!(token_status(&app, &api_key, &old_artifact).await, 200);
    assert_eq!(token_status(&app, &api_key, &new_artifact).await, 403);

    // Unpublished and published again after the end, 1.0.0 was still first published
    // before it: the customer keeps it.
    let old_id = old["id"].as_str().unwrap();
    for step in ["unpublish", "publish"] {
        let moved = app
            .admin(
                reqwest::Method::POST,
                &format!("/v1/releases/{old_id}/{step}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), 200, "{step}");
    }
    let listed = ok_json(customer_get(&app, &api_key, "/v1/releases").await).await;
    assert_eq!(versions(&listed), ["1.0.0"]);
    assert_eq!(token_status(&app, &api_key, &old_artifact).await, 200);

    // Without the fallback the ended entitlement grants nothing.
    ok_json(
        patch(
            &app,
            &cid,
            entitlement["id"].as_str().unwrap(),
            json!({"perpetual_fallback": false}),
        )
        .await,
    )
    .await;
    let listed = ok_json(customer_get(&app, &api_key, "/v1/releases").await).await;
    assert_eq!(versions(&listed), Vec::<&str>::new());
    assert_eq!(token_status(&app, &api_key, &old_artifact).await, 403);
}

async fn access_explains_each_rule(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    published(&app, "agent", "2.0.0").await;
    published(&app, "agent", "3.0.0").await;
    create_release(&app, "agent", "4.0.0").await;
    let customer = app.create_customer("Acme", None).await;
    let cid = customer["id"].as_str().unwrap();

    let nothing = ok_json(access(&app, cid, "product=agent&version=2.0.0").await).await;
    assert_eq!(nothing["allowed"], false);
    assert_eq!(nothing["customer_id"], cid);
    assert_eq!(nothing["release"]["version"], "2.0.0");
    assert_eq!(nothing["release"]["status"], "published");
    assert_eq!(
        nothing["reasons"],
        json!([{
            "code": "no_entitlement",
            "allows": false,
            "entitlement_id": null,
            "message": "no entitlement to the product",
        }])
    );

    let v2 = grant(
        &app,
        cid,
        json!({"product": "agent", "starts_at": 0, "versions": "^2"}),
    )
    .await;
    let v2_id = v2["id"].as_str().unwrap();
    let allowed = ok_json(access(&app, cid, "product=agent&version=2.0.0").await).await;
    assert_eq!(allowed["allowed"], true);
    assert_eq!(allowed["reasons"][0]["code"], "allowed");
    assert_eq!(allowed["reasons"][0]["allows"], true);
    assert_eq!(allowed["reasons"][0]["entitlement_id"], v2_id);

    let refused = ok_json(access(&app, cid, "product=agent&version=3.0.0").await).await;
    assert_eq!(refused["allowed"], false);
    assert_eq!(refused["reasons"][0]["code"], "version_not_granted");
    assert_eq!(
        refused["reasons"][0]["message"],
        format!("entitlement {v2_id} grants only versions ^2")
    );

    let future = grant(
        &app,
        cid,
        json!({"product": "agent", "starts_at": now() + 86_400}),
    )
    .await;
    let draft = ok_json(access(&app, cid, "product=agent&version=4.0.0").await).await;
    assert_eq!(draft["allowed"], false);
    let codes: Vec<&str> = draft["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes[0], "release_not_published");
    assert!(codes.contains(&"version_not_granted"), "{codes:?}");
    assert!(codes.contains(&"not_started"), "{codes:?}");
    assert!(
        draft["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["entitlement_id"] == future["id"]),
        "each entitlement is named"
    );

    app.patch_customer(cid, json!({"suspended": true})).await;
    let suspended = ok_json(access(&app, cid, "product=agent&version=2.0.0").await).await;
    assert_eq!(suspended["allowed"], false);
    assert_eq!(suspended["reasons"][0]["code"], "customer_suspended");
}

async fn access_refusals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    published(&app, "agent", "2.0.0").await;
    let (cid, api_key, _) = app.customer_with_key().await;
    for (query, expected) in [
        ("version=2.0.0", "product"),
        ("product=agent", "version"),
        ("product=&version=2.0.0", "product"),
    ] {
        let message = assert_error(access(&app, &cid, query).await, 400, "bad_request").await;
        assert!(message.contains(expected), "{query}: {message}");
    }
    assert_eq!(
        assert_error(
            access(&app, &cid, "product=agent&version=9.9.9").await,
            404,
            "not_found"
        )
        .await,
        "release not found"
    );
    let stranger = uuid::Uuid::new_v4();
    assert_eq!(
        assert_error(
            access(&app, &stranger.to_string(), "product=agent&version=2.0.0").await,
            404,
            "not_found"
        )
        .await,
        "customer not found"
    );
    assert_error(
        access(&app, "not-a-uuid", "product=agent&version=2.0.0").await,
        400,
        "bad_request",
    )
    .await;
    let as_customer = customer_get(
        &app,
        &api_key,
        &format!("/v1/admin/customers/{cid}/access?product=agent&version=2.0.0"),
    )
    .await;
    assert_error(as_customer, 401, "unauthorized").await;
}

on_both_backends!(
    scopes_are_set_shown_changed_and_cleared,
    bad_scopes_are_refused_naming_the_field,
    a_scope_bounds_the_listing_the_updater_checks_and_tokens,
    the_perpetual_fallback_keeps_releases_published_before_the_end,
    access_explains_each_rule,
    access_refusals,
);
