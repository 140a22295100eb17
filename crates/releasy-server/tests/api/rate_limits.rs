//! Rate limits over HTTP: failed authentications past `RELEASY_AUTH_FAILURE_LIMIT` get
//! 429 with `Retry-After` and one summary event per address, valid credentials from
//! that address keep working, `X-Forwarded-For` counts only from trusted proxies, and
//! key budgets (`RELEASY_RATE_LIMIT_*`) answer with the `RateLimit` headers. Made-up
//! download tokens count as failed attempts too.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::flow::{artifact_bytes, download_url, limited_link, publish_one_artifact, resolve};
use crate::helpers::{ADMIN_KEY, Backend, TestApp, assert_error};
use crate::on_both_backends;

const INTROSPECT: &str = "/v1/auth/introspect";
const AUDIT: &str = "/v1/admin/audit-events";

async fn introspect(app: &TestApp, api_key: &str, forwarded_for: Option<&str>) -> Response {
    let mut request = app.customer(Method::POST, INTROSPECT, api_key);
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.unwrap()
}

async fn list_customers_with(app: &TestApp, admin_key: &str) -> Response {
    app.client
        .get(app.url("/v1/admin/customers"))
        .header("x-releasy-admin-key", admin_key)
        .send()
        .await
        .unwrap()
}

/// Asserts a 429 in the error shape with a whole-second `Retry-After`, and returns it.
async fn assert_too_many(response: Response) -> u64 {
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("Retry-After on a 429")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .expect("Retry-After is whole seconds");
    assert_error(response, 429, "too_many_requests").await;
    retry_after
}

async fn audit_events(app: &TestApp, event: &str) -> Vec<Value> {
    let body: Value = app
        .admin(Method::GET, &format!("{AUDIT}?event={event}&limit=200"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["events"].as_array().expect("events").clone()
}

async fn failures_past_the_limit_get_429_and_one_summary_event(backend: Backend) {
    let mut app = TestApp::spawn_with(backend, &[("RELEASY_AUTH_FAILURE_LIMIT", "3")]).await;
    let (_, api_key, _) = app.customer_with_key().await;
    for _ in 0..3 {
        assert_error(
            introspect(&app, "releasy_guess", None).await,
            401,
            "unauthorized",
        )
        .await;
    }
    // 3 a minute refill one every 20 s.
    let retry_after = assert_too_many(introspect(&app, "releasy_guess", None).await).await;
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    // Operator credentials count against the same address.
    assert_too_many(list_customers_with(&app, "not-the-admin-key").await).await;
    // Valid credentials from the throttled address keep working.
    assert_eq!(introspect(&app, &api_key, None).await.status(), 200);
    assert_eq!(list_customers_with(&app, ADMIN_KEY).await.status(), 200);

    // One event each below the limit, naming the address; none for the two refused.
    let auth_events = audit_events(&app, "api_key.auth").await;
    let rejected: Vec<&Value> = auth_events
        .iter()
        .filter(|e| e["payload"]["outcome"] == "reject")
        .collect();
    assert_eq!(rejected.len(), 3, "{auth_events:?}");
    for event in &rejected {
        assert_eq!(event["payload"]["client_address"], "127.0.0.1");
    }
    assert!(audit_events(&app, "auth.throttled").await.is_empty());

    // The refusals are summed at the next report; a graceful stop makes one.
    app.stop_gracefully().await;
    let beside = app.spawn_beside().await;
    let summaries = audit_events(&beside, "auth.throttled").await;
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert_eq!(summaries[0]["actor"], "system");
    assert_eq!(
        summaries[0]["payload"],
        json!({"client_address": "127.0.0.1", "refused": 2})
    );
}

async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    let proxied = TestApp::spawn_with(
        backend,
        &[
            ("RELEASY_AUTH_FAILURE_LIMIT", "2"),
            ("RELEASY_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8"),
        ],
    )
    .await;
    // Behind a trusted proxy, each client has its own count.
    for _ in 0..2 {
        let response = introspect(&proxied, "releasy_guess", Some("203.0.113.9")).await;
        assert_eq!(response.status(), 401);
    }
    assert_too_many(introspect(&proxied, "releasy_guess", Some("203.0.113.9")).await).await;
    // A client forging an entry is still known by the address the proxy appended.
    assert_too_many(introspect(&proxied, "releasy_guess", Some("198.51.100.1, 203.0.113.9")).await)
        .await;
    let other = introspect(&proxied, "releasy_guess", Some("198.51.100.1")).await;
    assert_eq!(other.status(), 401, "another client is not throttled");
    let addresses: Vec<Value> = audit_events(&proxied, "api_key.auth")
        .await
        .iter()
        .map(|e| e["payload"]["client_address"].clone())
        .collect();
    assert_eq!(
        addresses,
        vec![
            json!("198.51.100.1"),
            json!("203.0.113.9"),
            json!("203.0.113.9")
        ]
    );

    // Without trusted proxies the header is ignored: every attempt is the peer's.
    let direct = TestApp::spawn_with(backend, &[("RELEASY_AUTH_FAILURE_LIMIT", "2")]).await;
    for forwarded in ["203.0.113.1", "203.0.113.2"] {
        let response = introspect(&direct, "releasy_guess", Some(forwarded)).await;
        assert_eq!(response.status(), 401);
    }
    assert_too_many(introspect(&direct, "releasy_guess", Some("203.0.113.3")).await).await;
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

async fn a_key_over_its_budget_gets_429_with_ratelimit_headers(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_RATE_LIMIT_CI", "3/min")]).await;
    let customer = app.create_customer("Acme", None).await;
    let id = customer["id"].as_str().unwrap();
    let ci = app
        .create_key(
            id,
            json!({"key_type": "ci", "scopes": ["keys:read", "releases:read"]}),
        )
        .await;
    let ci = ci["api_key"].as_str().unwrap();
    let human = app.create_key(id, json!({"key_type": "human"})).await;
    let human = human["api_key"].as_str().unwrap();

    for remaining in [2, 1] {
        let response = introspect(&app, ci, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "ratelimit-policy"),
            Some("\"ci\";q=3;w=60")
        );
        let expected = format!("\"ci\";r={remaining};t={}", (3 - remaining) * 20);
        assert_eq!(header(&response, "ratelimit"), Some(expected.as_str()));
    }
    // An answer refused after authentication carries the headers too: a download
    // token needs a scope this key lacks.
    let forbidden = app
        .customer(Method::POST, "/v1/downloads/token", ci)
        .json(&json!({"artifact_id": "00000000-0000-0000-0000-000000000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&forbidden, "ratelimit"), Some("\"ci\";r=0;t=60"));
    assert_error(forbidden, 403, "forbidden").await;

    let over = introspect(&app, ci, None).await;
    assert_eq!(header(&over, "ratelimit-policy"), Some("\"ci\";q=3;w=60"));
    assert_eq!(header(&over, "ratelimit"), Some("\"ci\";r=0;t=60"));
    let retry_after = assert_too_many(over).await;
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");

    // Human keys have no budget here: no headers, no limit.
    for _ in 0..5 {
        let response = introspect(&app, human, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit"), None);
    }
    // The refused request left no acceptance in the audit trail: 3 for the CI key.
    let accepted = audit_events(&app, "api_key.auth")
        .await
        .iter()
        .filter(|e| e["payload"]["outcome"] == "accept")
        .count();
    assert_eq!(accepted, 3 + 5);
    // One request more than the budget: a list of releases, refused alike.
    let listing = app
        .customer(Method::GET, "/v1/releases", ci)
        .send()
        .await
        .unwrap();
    assert_too_many(listing).await;
}

/// A bad query is judged after the key: its 400 is an answer to the key, with the key's
/// headers (the key's check used to lose the race to the query's refusal).
async fn a_bad_query_is_answered_after_the_key_with_its_headers(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_RATE_LIMIT_CI", "10/min")]).await;
    let customer = app.create_customer("Acme", None).await;
    let id = customer["id"].as_str().unwrap();
    let ci = app
        .create_key(id, json!({"key_type": "ci", "scopes": ["releases:read"]}))
        .await;
    let ci = ci["api_key"].as_str().unwrap();
    let refused = app
        .customer(Method::GET, "/v1/releases?limit=1&limit=2", ci)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        Some("\"ci\";q=10;w=60")
    );
    assert!(header(&refused, "ratelimit").is_some());
    assert_error(refused, 400, "bad_request").await;
}

async fn without_budgets_no_ratelimit_headers_are_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, _) = app.customer_with_key().await;
    let response = introspect(&app, &api_key, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "ratelimit-policy"), None);
    assert_eq!(header(&response, "ratelimit"), None);
}

async fn every_kind_of_credential_counts_and_the_limit_can_be_off(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_AUTH_FAILURE_LIMIT", "3")]).await;
    let releases = app.url("/v1/releases");
    // A JWT-shaped bearer (operator tokens are not enabled here), no credentials at all
    // on an endpoint operators and customers share, a wrong admin key.
    let jwt = app
        .client
        .get(&releases)
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    assert_error(jwt, 401, "unauthorized").await;
    let nothing = app.client.get(&releases).send().await.unwrap();
    assert_error(nothing, 401, "unauthorized").await;
    assert_error(
        list_customers_with(&app, "not-the-admin-key").await,
        401,
        "unauthorized",
    )
    .await;
    let fourth = app
        .client
        .get(&releases)
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    assert_too_many(fourth).await;
    assert_too_many(introspect(&app, "releasy_guess", None).await).await;

    // Off: every failure is a 401 and an event of its own, as in the reference.
    let off = TestApp::spawn_with(backend, &[("RELEASY_AUTH_FAILURE_LIMIT", "0")]).await;
    for _ in 0..120 {
        let response = introspect(&off, "releasy_guess", None).await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(audit_events(&off, "api_key.auth").await.len(), 120);
}

async fn several_forwarded_for_lines_read_as_one_list(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let response = app
        .customer(Method::POST, INTROSPECT, "releasy_guess")
        .header("x-forwarded-for", "198.51.100.1")
        .header("x-forwarded-for", "203.0.113.9, 2001:db8::7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let events = audit_events(&app, "api_key.auth").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["payload"]["client_address"], "2001:db8::7");
}

/// Every download answer "not found" is a failed attempt of its address: a made-up
/// token's, and a suspended customer's (which must not read otherwise). Past the limit
/// both get 429, alike; other tokens from the address still resolve.
async fn download_tokens_not_found_count_as_failed_attempts(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_AUTH_FAILURE_LIMIT", "3")]).await;
    let served = publish_one_artifact(&app, "agent", artifact_bytes(1_000)).await;
    let suspended = publish_one_artifact(&app, "console", artifact_bytes(1_000)).await;
    let served_link = download_url(&app, &served.api_key, &served.artifact_id).await;
    let suspended_link = download_url(&app, &suspended.api_key, &suspended.artifact_id).await;
    app.patch_customer(&suspended.customer_id, json!({"suspended": true}))
        .await;
    let made_up = app.url("/v1/downloads/made-up-token-that-names-nothing");
    for link in [&suspended_link, &made_up, &made_up] {
        let response = app.client.get(link).send().await.unwrap();
        let message = assert_error(response, 404, "not_found").await;
        assert_eq!(message, "download token not found");
    }
    for link in [&made_up, &suspended_link] {
        let retry_after = assert_too_many(app.client.get(link).send().await.unwrap()).await;
        assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    }
    resolve(&app, &served_link).await;
    // Past the limit a refusal is only counted: the suspended link's ledger row and
    // audit event are those of its one refusal below the limit.
    let ledger: Value = app
        .admin(Method::GET, "/v1/admin/downloads?outcome=suspended")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ledger["downloads"].as_array().unwrap().len(), 1, "{ledger}");
    assert_eq!(audit_events(&app, "download.refused").await.len(), 1);
}

/// A real token refused for the client's doing (here used up) is a failed attempt too:
/// a leaked link asked again and again keeps its answer (the client's cue to ask for a
/// new token) but past the limit writes no ledger row or audit event for each ask, and
/// a made-up token from that address then gets 429. A refusal of the vendor's doing (a
/// release yanked with its downloads blocked) is not counted: updaters asking keep
/// getting the answer that says so.
async fn refused_resolves_of_real_tokens_count_as_failed_attempts(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_AUTH_FAILURE_LIMIT", "3")]).await;
    let published = publish_one_artifact(&app, "agent", artifact_bytes(1_000)).await;
    let link = limited_link(&app, &published, 1).await;
    resolve(&app, &link).await;
    for _ in 0..5 {
        let response = app.client.get(&link).send().await.unwrap();
        let message = assert_error(response, 404, "not_found").await;
        assert_eq!(message, "download token used up");
    }
    let made_up = app.url("/v1/downloads/made-up-token-that-names-nothing");
    let retry_after = assert_too_many(app.client.get(&made_up).send().await.unwrap()).await;
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    let ledger = app
        .admin_get_json("/v1/admin/downloads?outcome=used_up")
        .await;
    assert_eq!(ledger["downloads"].as_array().unwrap().len(), 3, "{ledger}");
    assert_eq!(audit_events(&app, "download.refused").await.len(), 3);

    let yanked = publish_one_artifact(&app, "console", artifact_bytes(1_000)).await;
    let link = download_url(&app, &yanked.api_key, &yanked.artifact_id).await;
    let response = app
        .admin(
            Method::POST,
            &format!("/v1/releases/{}/yank", yanked.release_id),
        )
        .json(&json!({"reason": "malware", "block_downloads": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for _ in 0..5 {
        let response = app.client.get(&link).send().await.unwrap();
        assert_eq!(
            assert_error(response, 403, "forbidden").await,
            "release yanked"
        );
    }
}

on_both_backends!(
    every_kind_of_credential_counts_and_the_limit_can_be_off,
    download_tokens_not_found_count_as_failed_attempts,
    refused_resolves_of_real_tokens_count_as_failed_attempts,
    several_forwarded_for_lines_read_as_one_list,
    failures_past_the_limit_get_429_and_one_summary_event,
    forwarded_addresses_count_only_from_trusted_proxies,
    a_key_over_its_budget_gets_429_with_ratelimit_headers,
    a_bad_query_is_answered_after_the_key_with_its_headers,
    without_budgets_no_ratelimit_headers_are_sent,
);
