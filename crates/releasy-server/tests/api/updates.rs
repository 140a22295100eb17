//! What updaters poll: `GET /v1/releases/latest` and `GET /v1/releases/upgrade`, as
//! operators and as customers, with channels, platforms, constraints, yanks, `ETag`s,
//! and every refusal.

use reqwest::Method;
use serde_json::{Value, json};

use crate::artifacts::add_artifact;
use crate::entitlements::grant;
use crate::flow::artifact_bytes;
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, ok_json, publish};

/// Creates and publishes `version` of `product` with an artifact for each platform;
/// returns the release id.
async fn published(app: &TestApp, product: &str, version: &str, platforms: &[&str]) -> String {
    let release = create_release(app, product, version).await;
    let id = release["id"].as_str().unwrap().to_owned();
    for platform in platforms {
        add_artifact(app, &id, platform, &artifact_bytes(64)).await;
    }
    publish(app, &id).await;
    id
}

async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.admin(Method::GET, path).send().await.unwrap()
}

fn version(release: &Value) -> &str {
    release["version"].as_str().unwrap()
}

fn platforms(release: &Value) -> Vec<&str> {
    release["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["platform"].as_str().unwrap())
        .collect()
}

/// A product with stable, rc and beta releases, a draft above them all, and a yanked
/// stable release above the other stable ones.
async fn agent_releases(app: &TestApp) {
    published(app, "agent", "1.9.0", &["linux-x86_64", "macos-arm64"]).await;
    published(app, "agent", "1.10.0", &["linux-x86_64"]).await;
    published(app, "agent", "2.0.0-beta.1", &["linux-x86_64"]).await;
    published(app, "agent", "2.0.0-rc.1", &["macos-arm64"]).await;
    let yanked = published(app, "agent", "1.11.0", &["linux-x86_64"]).await;
    ok_json(
        app.admin(Method::POST, &format!("/v1/releases/{yanked}/yank"))
            .json(&json!({"reason": "crashes on start"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    create_release(app, "agent", "3.0.0").await; // a draft
}

async fn latest_is_the_highest_allowed_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    agent_releases(&app).await;
    let latest = |query: &'static str| {
        let app = &app;
        async move { ok_json(admin_get(app, &format!("/v1/releases/latest?{query}")).await).await }
    };
    let stable = latest("product=agent").await;
    assert_eq!(
        version(&stable),
        "1.10.0",
        "semver order, yanked and draft skipped"
    );
    assert_eq!(stable["channel"], "stable");
    assert_eq!(platforms(&stable), ["linux-x86_64"], "with its artifacts");
    assert_eq!(
        version(&latest("product=agent&channel=beta").await),
        "2.0.0-rc.1"
    );
    assert_eq!(
        version(&latest("product=agent&channel=rc").await),
        "2.0.0-rc.1"
    );
    // A platform narrows the choice to releases built for it, and their artifacts.
    assert_eq!(
        version(&latest("product=agent&channel=beta&platform=linux-x86_64").await),
        "2.0.0-beta.1"
    );
    let mac = latest("product=agent&platform=macos-arm64").await;
    assert_eq!(version(&mac), "1.9.0");
    assert_eq!(platforms(&mac), ["macos-arm64"]);
    // Whatever its ASCII case, as object keys and the CLI read it.
    let shouted = latest("product=agent&platform=MacOS-ARM64").await;
    assert_eq!(version(&shouted), "1.9.0");
    assert_eq!(platforms(&shouted), ["macos-arm64"]);

    for query in ["product=unknown", "product=agent&platform=windows-x86_64"] {
        let response = admin_get(&app, &format!("/v1/releases/latest?{query}")).await;
        assert_eq!(
            assert_error(response, 404, "not_found").await,
            "release not found",
            "{query}"
        );
    }
    for (query, message) in [
        ("", "product is required"),
        ("product=agent&channel=nightly", "channel must be one of"),
    ] {
        let response = admin_get(&app, &format!("/v1/releases/latest?{query}")).await;
        let got = assert_error(response, 400, "bad_request").await;
        assert!(got.starts_with(message), "{query}: {got}");
    }
    // A platform longer than any stored one can be is refused, not looked for (nor
    // cached); one an earlier server may have stored is looked for.
    let latest_on =
        |platform: String| format!("/v1/releases/latest?product=agent&platform={platform}");
    let response = admin_get(&app, &latest_on("a".repeat(65))).await;
    assert_eq!(
        assert_error(response, 404, "not_found").await,
        "release not found"
    );
    let response = admin_get(&app, &latest_on("a".repeat(257))).await;
    let got = assert_error(response, 400, "bad_request").await;
    assert_eq!(got, "platform must be at most 256 characters");
}

async fn upgrade_answers_the_newest_release_above_current(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    agent_releases(&app).await;
    let upgrade = |query: &'static str| {
        let app = &app;
        async move { admin_get(app, &format!("/v1/releases/upgrade?{query}")).await }
    };
    let found = ok_json(upgrade("product=agent&current=1.9.0").await).await;
    assert_eq!(found["current"], "1.9.0");
    assert_eq!(version(&found["release"]), "1.10.0");
    assert_eq!(platforms(&found["release"]), ["linux-x86_64"]);

    let newest = upgrade("product=agent&current=1.10.0").await;
    assert_eq!(newest.status(), 204, "1.10.0 is the newest stable");
    assert!(newest.bytes().await.unwrap().is_empty());
    assert_eq!(
        upgrade("product=agent&current=1.10.0%2Bbuild.7")
            .await
            .status(),
        204,
        "build metadata does not make an upgrade"
    );
    assert_eq!(upgrade("product=agent&current=9.0.0").await.status(), 204);
    assert_eq!(upgrade("product=unknown&current=1.0.0").await.status(), 204);

    let rc = ok_json(upgrade("product=agent&current=1.10.0&channel=rc").await).await;
    assert_eq!(version(&rc["release"]), "2.0.0-rc.1");
    // A constraint keeps the answer inside it.
    let minor =
        ok_json(upgrade("product=agent&current=1.9.0&channel=rc&constraint=%5E1.9").await).await;
    assert_eq!(version(&minor["release"]), "1.10.0");
    let range = ok_json(
        upgrade("product=agent&current=1.0.0&channel=beta&constraint=%3E%3D1.0%2C%20%3C2.0.0-rc")
            .await,
    )
    .await;
    assert_eq!(version(&range["release"]), "2.0.0-beta.1");
    assert_eq!(
        upgrade("product=agent&current=1.9.0&platform=macos-arm64")
            .await
            .status(),
        204,
        "no newer release for that platform on stable"
    );

    for (query, message) in [
        ("product=agent", "current is required"),
        (
            "product=agent&current=v1.9",
            "current is not a semver version",
        ),
        ("current=1.0.0", "product is required"),
        (
            "product=agent&current=1.0.0&constraint=%3E%3E1",
            "constraint is not a semver requirement",
        ),
    ] {
        let got = assert_error(upgrade(query).await, 400, "bad_request").await;
        assert!(got.starts_with(message), "{query}: {got}");
    }
    for (query, message) in [
        (
            format!("product=agent&current=1.0.0-{}", "a".repeat(260)),
            "current must be at most 256 characters",
        ),
        (
            format!("product=agent&current=1.0.0&platform={}", "a".repeat(257)),
            "platform must be at most 256 characters",
        ),
    ] {
        let response = admin_get(&app, &format!("/v1/releases/upgrade?{query}")).await;
        let got = assert_error(response, 400, "bad_request").await;
        assert_eq!(got, message);
    }
}

async fn customers_see_only_what_they_may(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    agent_releases(&app).await;
    published(&app, "other", "5.0.0", &["linux-x86_64"]).await;
    let (customer_id, api_key, _) = app.customer_with_key().await;
    let as_customer = |path: String| {
        let app = &app;
        let api_key = api_key.clone();
        async move {
            app.customer(Method::GET, &path, &api_key)
                .send()
                .await
                .unwrap()
        }
    };
    // Not entitled yet: nothing is visible.
    let none = as_customer("/v1/releases/latest?product=agent".into()).await;
    assert_error(none, 404, "not_found").await;
    let no_upgrade = as_customer("/v1/releases/upgrade?product=agent&current=1.0.0".into()).await;
    assert_eq!(no_upgrade.status(), 204);

    grant(
        &app,
        &customer_id,
        json!({"product": "agent", "starts_at": 0}),
    )
    .await;
    let latest = ok_json(as_customer("/v1/releases/latest?product=agent".into()).await).await;
    assert_eq!(version(&latest), "1.10.0");
    let upgrade = ok_json(
        as_customer("/v1/releases/upgrade?product=agent&current=1.9.0&channel=rc".into()).await,
    )
    .await;
    assert_eq!(version(&upgrade["release"]), "2.0.0-rc.1");
    let other = as_customer("/v1/releases/latest?product=other".into()).await;
    assert_error(other, 404, "not_found").await;

    // Customer listings hide yanked releases unless asked.
    let listed = |query: &'static str| {
        let as_customer = &as_customer;
        async move {
            let page =
                ok_json(as_customer(format!("/v1/releases?product=agent{query}")).await).await;
            page["releases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["version"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(!listed("").await.contains(&"1.11.0".to_owned()));
    assert!(
        listed("&include_yanked=true")
            .await
            .contains(&"1.11.0".to_owned())
    );

    // A key without releases:read is refused.
    let narrow = app
        .create_key(&customer_id, json!({"scopes": ["downloads:token"]}))
        .await;
    let refused = app
        .customer(
            Method::GET,
            "/v1/releases/latest?product=agent",
            narrow["api_key"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(refused, 403, "forbidden").await,
        "missing scope"
    );
    let anonymous = app
        .client
        .get(app.url("/v1/releases/latest?product=agent"))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
}

async fn latest_and_upgrade_answer_if_none_match_with_304(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    published(&app, "polled", "1.0.0", &["linux-x86_64"]).await;
    for path in [
        "/v1/releases/latest?product=polled",
        "/v1/releases/upgrade?product=polled&current=0.9.0",
    ] {
        let first = admin_get(&app, path).await;
        assert_eq!(first.status(), 200);
        assert_eq!(first.headers()["cache-control"], "private, no-cache");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = app
            .admin(Method::GET, path)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
        let other = app
            .admin(Method::GET, path)
            .header("if-none-match", "\"another\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
    }
    let tag = |path: &'static str| {
        let app = &app;
        async move {
            admin_get(app, path).await.headers()["etag"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    let before = tag("/v1/releases/latest?product=polled").await;
    published(&app, "polled", "1.1.0", &["linux-x86_64"]).await;
    assert_ne!(
        tag("/v1/releases/latest?product=polled").await,
        before,
        "a new release makes a new tag"
    );
}

on_both_backends!(
    latest_is_the_highest_allowed_version,
    upgrade_answers_the_newest_release_above_current,
    customers_see_only_what_they_may,
    latest_and_upgrade_answer_if_none_match_with_304,
);
