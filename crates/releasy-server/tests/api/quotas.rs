//! Download quotas: `download_quota` on an entitlement (create and PATCH) limits the
//! downloads and bytes it allows per UTC day or calendar month. A token request or a
//! resolve past it is 429 `quota exceeded` with `Retry-After` until the period resets;
//! counts are exact across instances, refused resolves are in the ledger and audited.

use std::sync::Arc;

use releasy_domain::Timestamp;
use releasy_domain::memory::FixedClock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{Published, artifact_bytes, follow_link, limited_link, publish_one_artifact};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;

const DAY: i64 = 86_400;

/// The customer's entitlements, newest first.
async fn entitlements(app: &TestApp, p: &Published) -> Vec<Value> {
    let list: Value = app
        .admin(
            Method::GET,
            &format!("/v1/admin/customers/{}/entitlements", p.customer_id),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["entitlements"].as_array().unwrap().clone()
}

/// The id of the customer's one entitlement.
async fn entitlement_id(app: &TestApp, p: &Published) -> String {
    entitlements(app, p).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// PATCHes the customer's entitlement with `body`: the response.
async fn patch_entitlement(
    app: &TestApp,
    p: &Published,
    id: &str,
    body: Value,
) -> reqwest::Response {
    app.admin(
        Method::PATCH,
        &format!("/v1/admin/customers/{}/entitlements/{id}", p.customer_id),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

/// Sets the customer's entitlement's quota: the entitlement as answered.
async fn set_quota(app: &TestApp, p: &Published, quota: Value) -> Value {
    let id = entitlement_id(app, p).await;
    let response = patch_entitlement(app, p, &id, json!({"download_quota": quota})).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn token_request(app: &TestApp, p: &Published, body: Value) -> reqwest::Response {
    app.customer(Method::POST, "/v1/downloads/token", &p.api_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A download link for the artifact, without a use limit.
async fn link(app: &TestApp, p: &Published) -> String {
    let response = token_request(app, p, json!({"artifact_id": p.artifact_id})).await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    token["download_url"].as_str().unwrap().to_owned()
}

/// Asserts a 429 `quota exceeded`; returns its `Retry-After`.
async fn assert_quota_exceeded(response: reqwest::Response) -> i64 {
    let retry_after: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let message = assert_error(response, 429, "too_many_requests").await;
    assert_eq!(message, "quota exceeded");
    retry_after
}

/// The real time (the server's clock, but in `the_count_starts_again_...`).
fn now() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since_epoch.as_secs()).unwrap()
}

async fn a_download_quota_refuses_past_its_limit_until_raised_or_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(2_000)).await;
    let entitlement = set_quota(&app, &p, json!({"downloads": 2, "period": "day"})).await;
    assert_eq!(
        entitlement["download_quota"],
        json!({"downloads": 2, "period": "day"})
    );
    let url = link(&app, &p).await;
    for _ in 0..2 {
        assert_eq!(follow_link(&app, &url).await.status(), 302);
    }

    let before = now();
    let retry_after = assert_quota_exceeded(follow_link(&app, &url).await).await;
    let until_midnight = DAY - before.rem_euclid(DAY);
    assert!(
        (until_midnight - 2..=until_midnight).contains(&retry_after),
        "Retry-After {retry_after}, {until_midnight} s to midnight UTC"
    );
    // Issuing counts nothing, but a spent quota refuses the token too.
    assert_quota_exceeded(token_request(&app, &p, json!({"artifact_id": p.artifact_id})).await)
        .await;

    let refused = app.audit_events("event=download.refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["payload"]["reason"], "quota_exceeded");
    let token_refused = app.audit_events("event=download_token.refused").await;
    assert_eq!(token_refused.len(), 1, "{token_refused:?}");
    assert_eq!(token_refused[0]["payload"]["reason"], "quota_exceeded");
    assert_eq!(
        token_refused[0]["payload"]["artifact_id"],
        p.artifact_id.as_str()
    );
    let ledger = app
        .admin_get_json("/v1/admin/downloads?outcome=quota_exceeded")
        .await;
    assert_eq!(ledger["downloads"].as_array().unwrap().len(), 1, "{ledger}");
    assert_eq!(
        ledger["downloads"][0]["artifact_id"],
        p.artifact_id.as_str()
    );

    // Raising the limit gives room at once: this period's count stays.
    set_quota(&app, &p, json!({"downloads": 3, "period": "day"})).await;
    assert_eq!(follow_link(&app, &url).await.status(), 302);
    assert_quota_exceeded(follow_link(&app, &url).await).await;

    // `null` removes the quota: the entitlement reads as it did before quotas.
    let unlimited = set_quota(&app, &p, Value::Null).await;
    assert!(unlimited.get("download_quota").is_none(), "{unlimited}");
    for _ in 0..3 {
        assert_eq!(follow_link(&app, &url).await.status(), 302);
    }
    let updated = app.audit_events("event=entitlement.updated").await;
    assert!(
        updated
            .iter()
            .any(|e| e["payload"]["after"]["download_quota"]
                == json!({"downloads": 2, "bytes": null, "period": "day"})),
        "the change is audited with the quota: {updated:?}"
    );
}

async fn a_byte_quota_counts_each_download_at_its_artifact_size(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(1_000)).await;
    set_quota(&app, &p, json!({"bytes": 2_500, "period": "month"})).await;
    let url = link(&app, &p).await;
    for _ in 0..2 {
        assert_eq!(follow_link(&app, &url).await.status(), 302);
    }
    // 2 000 counted; one more would make 3 000.
    let retry_after = assert_quota_exceeded(follow_link(&app, &url).await).await;
    assert!(
        (1..=31 * DAY).contains(&retry_after),
        "until the next month: {retry_after}"
    );
    assert_quota_exceeded(token_request(&app, &p, json!({"artifact_id": p.artifact_id})).await)
        .await;

    // An artifact larger than the whole quota is refused from the start.
    let large = publish_one_artifact(&app, "big", artifact_bytes(3_000)).await;
    set_quota(&app, &large, json!({"bytes": 2_999, "period": "day"})).await;
    assert_quota_exceeded(
        token_request(&app, &large, json!({"artifact_id": large.artifact_id})).await,
    )
    .await;
}

async fn an_unlimited_entitlement_beside_a_metered_one_is_never_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(100)).await;
    set_quota(&app, &p, json!({"downloads": 1, "period": "day"})).await;
    let url = link(&app, &p).await;
    assert_eq!(follow_link(&app, &url).await.status(), 302);
    assert_quota_exceeded(follow_link(&app, &url).await).await;

    let granted = app
        .admin(
            Method::POST,
            &format!("/v1/admin/customers/{}/entitlements", p.customer_id),
        )
        .json(&json!({"product": "app", "starts_at": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), 200);
    for _ in 0..3 {
        assert_eq!(follow_link(&app, &url).await.status(), 302);
    }
}

async fn assert_used_up(response: reqwest::Response) {
    let message = assert_error(response, 404, "not_found").await;
    assert_eq!(message, "download token used up");
}

async fn uses_and_quotas_refuse_without_spending_each_other(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(100)).await;
    let id = entitlement_id(&app, &p).await;
    set_quota(&app, &p, json!({"downloads": 1, "period": "day"})).await;
    let single_use = limited_link(&app, &p, 1).await;
    let two_uses = limited_link(&app, &p, 2).await;
    assert_eq!(follow_link(&app, &single_use).await.status(), 302);

    // The quota is spent too, but a used-up link is gone for good: 404, not a 429
    // that would send the client back to retry a dead link.
    for _ in 0..3 {
        assert_used_up(follow_link(&app, &single_use).await).await;
    }
    // A resolve the quota refuses keeps the link's use.
    assert_quota_exceeded(follow_link(&app, &two_uses).await).await;
    let raised = patch_entitlement(
        &app,
        &p,
        &id,
        json!({"download_quota": {"downloads": 4, "period": "day"}}),
    )
    .await;
    assert_eq!(raised.status(), 200);
    for _ in 0..2 {
        assert_eq!(follow_link(&app, &two_uses).await.status(), 302);
    }
    assert_used_up(follow_link(&app, &two_uses).await).await;
    // The refusals counted nothing: three downloads of four, one left.
    let url = link(&app, &p).await;
    assert_eq!(follow_link(&app, &url).await.status(), 302);
    assert_quota_exceeded(follow_link(&app, &url).await).await;
}

async fn the_count_starts_again_when_the_period_resets(backend: Backend) {
    // 2026-12-31T23:59:00Z: the day and the month end a minute later.
    let new_years_eve = 1_798_761_540;
    let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(new_years_eve)));
    let app = TestApp::spawn_with_clock(backend, clock.clone()).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(100)).await;
    let daily = publish_one_artifact(&app, "daily", artifact_bytes(100)).await;
    set_quota(&app, &p, json!({"downloads": 1, "period": "month"})).await;
    set_quota(&app, &daily, json!({"downloads": 1, "period": "day"})).await;
    let (monthly_url, daily_url) = (link(&app, &p).await, link(&app, &daily).await);
    for url in [&monthly_url, &daily_url] {
        assert_eq!(follow_link(&app, url).await.status(), 302);
        assert_eq!(
            assert_quota_exceeded(follow_link(&app, url).await).await,
            60
        );
    }

    clock.advance(59);
    assert_eq!(
        assert_quota_exceeded(follow_link(&app, &daily_url).await).await,
        1
    );
    clock.advance(1);
    for url in [&monthly_url, &daily_url] {
        assert_eq!(follow_link(&app, url).await.status(), 302, "a new period");
        let retry_after = assert_quota_exceeded(follow_link(&app, url).await).await;
        assert!(
            retry_after == DAY || retry_after == 31 * DAY,
            "{retry_after}"
        );
    }
}

async fn quotas_hold_across_instances(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = first.spawn_beside().await;
    let p = publish_one_artifact(&first, "app", artifact_bytes(100)).await;
    set_quota(&first, &p, json!({"downloads": 5, "period": "day"})).await;
    let url = link(&first, &p).await;

    let instances = [&first, &second];
    let resolves = (0..30).map(|i| follow_link(instances[i % 2], &url));
    let responses = futures_util::future::join_all(resolves).await;
    let mut statuses = Vec::new();
    for response in responses {
        statuses.push(response.status().as_u16());
    }
    let found = statuses.iter().filter(|s| **s == 302).count();
    let exceeded = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((found, exceeded), (5, 25), "{statuses:?}");
}

async fn a_bad_quota_is_400_naming_the_field_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(100)).await;
    let id = entitlement_id(&app, &p).await;
    for (quota, field) in [
        (json!({"period": "day"}), "download_quota"),
        (
            json!({"downloads": 0, "period": "day"}),
            "download_quota.downloads",
        ),
        (
            json!({"bytes": 0, "period": "month"}),
            "download_quota.bytes",
        ),
        (
            json!({"bytes": 9_223_372_036_854_775_808_u64, "period": "month"}),
            "download_quota.bytes",
        ),
        (
            json!({"downloads": 5, "period": "week"}),
            "download_quota.period",
        ),
        (json!({"downloads": -1, "period": "day"}), "downloads"),
        (json!({"downloads": 5}), "period"),
        (json!("5/day"), "download_quota"),
        // A misspelt limit is refused, not ignored (which would leave no byte limit).
        (
            json!({"downloads": 5, "byts": 1_000, "period": "day"}),
            "byts",
        ),
    ] {
        let message = assert_error(
            patch_entitlement(&app, &p, &id, json!({"download_quota": quota})).await,
            400,
            "bad_request",
        )
        .await;
        assert!(message.contains(field), "{quota}: {message}");
        let created = app
            .admin(
                Method::POST,
                &format!("/v1/admin/customers/{}/entitlements", p.customer_id),
            )
            .json(&json!({"product": "other", "starts_at": 0, "download_quota": quota}))
            .send()
            .await
            .unwrap();
        assert_error(created, 400, "bad_request").await;
    }
    let kept = entitlements(&app, &p).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].get("download_quota").is_none(), "{kept:?}");

    let created = app
        .admin(
            Method::POST,
            &format!("/v1/admin/customers/{}/entitlements", p.customer_id),
        )
        .json(&json!({"product": "other", "starts_at": 0, "download_quota": {"downloads": 10, "bytes": 1_000_000, "period": "month"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        created["download_quota"],
        json!({"downloads": 10, "bytes": 1_000_000, "period": "month"})
    );
}

on_both_backends!(
    a_download_quota_refuses_past_its_limit_until_raised_or_removed,
    a_byte_quota_counts_each_download_at_its_artifact_size,
    an_unlimited_entitlement_beside_a_metered_one_is_never_refused,
    uses_and_quotas_refuse_without_spending_each_other,
    the_count_starts_again_when_the_period_resets,
    quotas_hold_across_instances,
    a_bad_quota_is_400_naming_the_field_and_changes_nothing,
);
