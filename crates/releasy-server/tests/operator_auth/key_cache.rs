//! The JWKS client seen from outside: an unknown `kid` and the early refresh that finds a
//! rotated key; the rate limit under a burst of unknown `kid`s; the identity provider
//! down before any key was cached (503) and after (cached keys keep working).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::app::{bearer, list_customers, spawn};
use crate::helpers::{Backend, assert_error};
use crate::jwks_server::{JwksServer, unreachable_url};
use crate::tokens::{KEYS, claims, default_jwks, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_is_refused_after_one_refresh() {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(Backend::Sqlite, &jwks.url, &[]).await;
    assert_eq!(
        list_customers(&app, &token(&["platform_support"]))
            .await
            .status(),
        200
    );
    assert_eq!(jwks.requests(), 1);

    let unknown = KEYS.rsa2.sign(&claims(&["platform_admin"]));
    let message = assert_error(list_customers(&app, &unknown).await, 401, "unauthorized").await;
    assert_eq!(message, "invalid operator token");
    assert_eq!(jwks.requests(), 2, "one early refresh");
    // Within 10 s, another unknown kid does not reach the provider.
    let other = KEYS.es256.sign_as(
        "elsewhere",
        jsonwebtoken::Algorithm::ES256,
        &claims(&["platform_admin"]),
    );
    assert_error(list_customers(&app, &other).await, 401, "unauthorized").await;
    assert_eq!(jwks.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_early_refresh_finds_a_rotated_key() {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(Backend::Sqlite, &jwks.url, &[]).await;
    let old = token(&["platform_support"]);
    assert_eq!(list_customers(&app, &old).await.status(), 200);
    assert_eq!(jwks.requests(), 1);

    // The provider rotates from rsa-1 to rsa-2.
    jwks.publish(crate::tokens::jwks(&[&KEYS.rsa2, &KEYS.es256]));
    let new = KEYS.rsa2.sign(&claims(&["platform_support"]));
    assert_eq!(list_customers(&app, &new).await.status(), 200);
    assert_eq!(jwks.requests(), 2);
    // The rotated-out key no longer verifies.
    assert_error(list_customers(&app, &old).await, 401, "unauthorized").await;
    assert_eq!(list_customers(&app, &new).await.status(), 200);
    assert_eq!(jwks.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_unknown_kids_makes_at_most_one_fetch() {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(Backend::Sqlite, &jwks.url, &[]).await;
    let valid = KEYS.es256.sign(&claims(&["platform_support"]));
    assert_eq!(list_customers(&app, &valid).await.status(), 200);
    assert_eq!(jwks.requests(), 1);

    // A burst of 50 concurrent requests, then three more waves of ten, each naming a
    // kid the provider never published, while the provider answers slowly.
    jwks.slow_down(Duration::from_millis(200));
    for (wave, size) in [50, 10, 10, 10].into_iter().enumerate() {
        let requests: Vec<_> = (0..size)
            .map(|i| {
                let unknown = KEYS.es256.sign_as(
                    &format!("attacker-{wave}-{i}"),
                    jsonwebtoken::Algorithm::ES256,
                    &claims(&["platform_admin"]),
                );
                tokio::spawn(bearer(&app, Method::GET, "/v1/admin/customers", &unknown).send())
            })
            .collect();
        for request in requests {
            let response = request.await.unwrap().unwrap();
            assert_error(response, 401, "unauthorized").await;
        }
    }
    assert!(
        jwks.requests() <= 2,
        "{} JWKS requests for 50 unknown kids",
        jwks.requests()
    );
    assert_eq!(jwks.requests(), 2, "exactly one early refresh");
    // Known keys were never in the way.
    assert_eq!(list_customers(&app, &valid).await.status(), 200);
    assert_eq!(jwks.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_down_with_nothing_cached_is_503() {
    let app = spawn(Backend::Sqlite, &unreachable_url(), &[]).await;
    let message = assert_error(
        list_customers(&app, &token(&["platform_admin"])).await,
        503,
        "service_unavailable",
    )
    .await;
    assert_eq!(message, "service unavailable");
    // Admin-key sign-in does not depend on the provider.
    let response = app
        .admin(Method::GET, "/v1/admin/customers")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_is_retried_once_then_503() {
    let jwks = JwksServer::start(default_jwks()).await;
    jwks.fail(true);
    let app = spawn(Backend::Sqlite, &jwks.url, &[]).await;
    assert_error(
        list_customers(&app, &token(&["platform_admin"])).await,
        503,
        "service_unavailable",
    )
    .await;
    assert_eq!(jwks.requests(), 2, "one fetch: a 500, then one retry");
    // Backing off: the next request is answered without asking again.
    assert_error(
        list_customers(&app, &token(&["platform_admin"])).await,
        503,
        "service_unavailable",
    )
    .await;
    assert_eq!(jwks.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_keys_keep_working_when_the_provider_fails() {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(
        Backend::Sqlite,
        &jwks.url,
        &[("RELEASY_OPERATOR_JWKS_TTL_SECONDS", "1")],
    )
    .await;
    let token = token(&["platform_support"]);
    assert_eq!(list_customers(&app, &token).await.status(), 200);

    jwks.fail(true);
    // Past the TTL the refresh fails (a 500 and its retry); the stale keys still work.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = jwks.requests();
    assert_eq!(
        list_customers(&app, &token).await.status(),
        200,
        "stale cache"
    );
    assert_eq!(
        jwks.requests(),
        before + 2,
        "one refresh: a 500, then one retry"
    );
    assert_eq!(list_customers(&app, &token).await.status(), 200);
    assert_eq!(
        jwks.requests(),
        before + 2,
        "no new attempt while backing off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_keys_keep_working_when_the_provider_is_gone() {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(
        Backend::Sqlite,
        &jwks.url,
        &[("RELEASY_OPERATOR_JWKS_TTL_SECONDS", "1")],
    )
    .await;
    let token = token(&["platform_admin"]);
    assert_eq!(list_customers(&app, &token).await.status(), 200);

    jwks.stop().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        list_customers(&app, &token).await.status(),
        200,
        "connection refused, stale keys"
    );
    let created = bearer(&app, Method::POST, "/v1/admin/customers", &token)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    // A kid the cached set lacks cannot be decided while the provider is gone.
    let unknown = KEYS.rsa2.sign(&claims(&["platform_admin"]));
    assert_error(
        list_customers(&app, &unknown).await,
        503,
        "service_unavailable",
    )
    .await;
}

/// The caller is judged before the body even while the signing keys are being
/// fetched: a request whose token does not verify is `401` whatever its body, though
/// the body's fault is found at once and the keys take a while to arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_body_does_not_overtake_the_sign_in_while_keys_are_fetched() {
    let jwks = JwksServer::start(default_jwks()).await;
    jwks.slow_down(Duration::from_millis(300));
    let app = spawn(Backend::Sqlite, &jwks.url, &[]).await;
    let create = |token: &str| {
        bearer(&app, Method::POST, "/v1/admin/customers", token)
            .header("content-type", "text/plain")
            .body("not json")
            .send()
    };
    // A key the provider does not publish: the cold cache fetches, then refuses.
    let stranger = KEYS.rsa2.sign(&claims(&["platform_admin"]));
    let refused = create(&stranger).await.unwrap();
    assert_eq!(
        assert_error(refused, 401, "unauthorized").await,
        "invalid operator token"
    );
    assert_eq!(jwks.requests(), 1, "the keys were fetched");
    // A caller who signs in gets the body's own fault.
    let bad_body = create(&token(&["platform_admin"])).await.unwrap();
    assert_error(bad_body, 400, "bad_request").await;
}
