//! Two server instances on one PostgreSQL database, each with its own read cache: what
//! one instance (or SQL run by hand) changes, the other stops serving from memory as
//! soon as the database's change notification reaches it; a write that withdraws access
//! is answered only after it has.
//!
//! Where nothing waits for the notification (a grant, SQL run by hand), the second
//! instance is asked until it answers the new way, within a deadline far above the
//! milliseconds it takes; reaching the deadline fails the test.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::flow::{artifact_bytes, download_url, publish_one_artifact};
use crate::helpers::{Backend, TestApp};

const DEADLINE: Duration = Duration::from_secs(10);

/// Sends the request `send` makes until its status is `wanted`.
async fn until_status<F, Fut>(wanted: StatusCode, what: &str, send: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = reqwest::Response>,
{
    let started = tokio::time::Instant::now();
    loop {
        let status = send().await.status();
        if status == wanted {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: still {status} after {DEADLINE:?}, wanted {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn introspect(app: &TestApp, api_key: &str) -> reqwest::Response {
    app.customer(Method::POST, "/v1/auth/introspect", api_key)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_instance_stops_working_on_the_other() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = a.spawn_beside().await;
    let (_, api_key, api_key_id) = a.customer_with_key().await;
    until_status(StatusCode::OK, "B accepts the new key", || {
        introspect(&b, &api_key)
    })
    .await;
    // From here on B may answer from memory.
    assert_eq!(introspect(&b, &api_key).await.status(), 200);

    a.revoke_key(&api_key_id).await;
    assert_eq!(
        introspect(&b, &api_key).await.status(),
        401,
        "B refuses the key on the first request after A answered the revocation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_and_unpublication_through_one_instance_stop_downloads_on_the_other() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = a.spawn_beside().await;
    let p = publish_one_artifact(&a, "app", artifact_bytes(100)).await;
    let url = download_url(&a, &p.api_key, &p.artifact_id).await;
    let on_b = url.replace(&a.base_url, &b.base_url);
    until_status(StatusCode::FOUND, "B resolves the token", || async {
        b.client.get(&on_b).send().await.unwrap()
    })
    .await;

    a.patch_customer(&p.customer_id, json!({"suspended": true}))
        .await;
    assert_eq!(
        b.client.get(&on_b).send().await.unwrap().status(),
        404,
        "B refuses a suspended customer's token at once"
    );

    // A grant waits for no other instance: B serves it once the notification arrives.

    a.patch_customer(&p.customer_id, json!({"suspended": false}))
        .await;
    until_status(
        StatusCode::FOUND,
        "B resolves again after resumption",
        || async { b.client.get(&on_b).send().await.unwrap() },
    )
    .await;

    let unpublish = a
        .admin(
            Method::POST,
            &format!("/v1/releases/{}/unpublish", p.release_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unpublish.status(), 200);
    assert_eq!(
        b.client.get(&on_b).send().await.unwrap().status(),
        404,
        "B refuses an unpublished release's token at once"
    );
    let listed: serde_json::Value = b
        .customer(Method::GET, "/v1/releases", &p.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["releases"], json!([]), "B lists nothing unpublished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_by_hand_in_sql_stops_working() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let (_, api_key, api_key_id) = a.customer_with_key().await;
    until_status(StatusCode::OK, "the key works", || introspect(&a, &api_key)).await;
    assert_eq!(introspect(&a, &api_key).await.status(), 200);

    let mut conn = AsyncPgConnection::establish(a.database_url())
        .await
        .unwrap();
    diesel::sql_query("UPDATE api_keys SET revoked_at = 1 WHERE id = $1")
        .bind::<diesel::sql_types::Text, _>(&api_key_id)
        .execute(&mut conn)
        .await
        .unwrap();
    until_status(
        StatusCode::UNAUTHORIZED,
        "the revoked key is refused",
        || introspect(&a, &api_key),
    )
    .await;
}

/// Resolves `url` on B from four clients at once, as fast as B answers, until each
/// stops getting 302; returns how long after `since` the last 302 was sent and how many
/// resolves B honoured after `since`.
async fn honoured_after(b: &TestApp, url: &str, since: tokio::time::Instant) -> (Duration, u32) {
    let resolver = || async {
        let (mut last, mut honoured) = (Duration::ZERO, 0);
        loop {
            let sent = since.elapsed();
            let status = b.client.get(url).send().await.unwrap().status();
            if status != StatusCode::FOUND {
                return (last, honoured);
            }
            (last, honoured) = (sent, honoured + 1);
            assert!(
                since.elapsed() < DEADLINE,
                "B still resolves after {DEADLINE:?}"
            );
        }
    };
    let all = futures_util::future::join_all((0..4).map(|_| resolver())).await;
    all.into_iter()
        .fold((Duration::ZERO, 0), |(last, total), (at, honoured)| {
            (last.max(at), total + honoured)
        })
}

/// Entitlement deleted, release unpublished, customer suspended through A, five times
/// each, while four clients resolve the customer's download link on B as fast as it
/// answers, starting the moment A answers: B honours none of them (A answered once B's
/// cache had caught up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_through_one_instance_hold_on_the_other_once_answered() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = a.spawn_beside().await;
    let p = publish_one_artifact(&a, "app", artifact_bytes(100)).await;
    let url = download_url(&a, &p.api_key, &p.artifact_id).await;
    let on_b = url.replace(&a.base_url, &b.base_url);
    let entitlements = format!("/v1/admin/customers/{}/entitlements", p.customer_id);
    let ok = |response: reqwest::Response| {
        assert!(response.status().is_success(), "{}", response.status());
    };
    let mut worst: Vec<(&str, Duration, u32)> = Vec::new();
    for kind in [
        "entitlement deleted",
        "release unpublished",
        "customer suspended",
    ] {
        let mut slowest = (Duration::ZERO, 0);
        for _ in 0..5 {
            until_status(StatusCode::FOUND, "B resolves the token", || async {
                b.client.get(&on_b).send().await.unwrap()
            })
            .await;
            let withdraw = match kind {
                "entitlement deleted" => {
                    let listed: serde_json::Value = a
                        .admin(Method::GET, &entitlements)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let id = listed["entitlements"][0]["id"].as_str().unwrap().to_owned();
                    a.admin(Method::DELETE, &format!("{entitlements}/{id}"))
                }
                "release unpublished" => a.admin(
                    Method::POST,
                    &format!("/v1/releases/{}/unpublish", p.release_id),
                ),
                _ => a
                    .admin(
                        Method::PATCH,
                        &format!("/v1/admin/customers/{}", p.customer_id),
                    )
                    .json(&json!({"suspended": true})),
            };
            ok(withdraw.send().await.unwrap());
            let since = tokio::time::Instant::now();
            let measured = honoured_after(&b, &on_b, since).await;
            if measured.0 > slowest.0 {
                slowest = measured;
            }
            let restore = match kind {
                "entitlement deleted" => a
                    .admin(Method::POST, &entitlements)
                    .json(&json!({"product": "app", "starts_at": 0})),
                "release unpublished" => a.admin(
                    Method::POST,
                    &format!("/v1/releases/{}/publish", p.release_id),
                ),
                _ => a
                    .admin(
                        Method::PATCH,
                        &format!("/v1/admin/customers/{}", p.customer_id),
                    )
                    .json(&json!({"suspended": false})),
            };
            ok(restore.send().await.unwrap());
        }
        worst.push((kind, slowest.0, slowest.1));
    }
    for (kind, after, honoured) in &worst {
        eprintln!(
            "withdrawal across instances, {kind}: {honoured} resolves sent after A answered were honoured by B, the last sent {after:?} after (worst of 5)"
        );
    }
    for (kind, after, honoured) in worst {
        assert_eq!(
            honoured, 0,
            "{kind}: B honoured resolves sent after A answered, the last {after:?} after"
        );
    }
}
