//! `GET /metrics` (issue 17): scraped during a load, it shows the counts the load
//! caused, exactly once the load is over; it is served only where configured.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::flow::{artifact_bytes, publish_one_artifact};
use crate::helpers::{ADMIN_KEY, Backend, TestApp};

/// Every series of a scrape (`name{labels}`) and its value.
fn series(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(client: &reqwest::Client, base: &str) -> HashMap<String, f64> {
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    series(&text)
}

fn value(scraped: &HashMap<String, f64>, series: &str) -> f64 {
    scraped.get(series).copied().unwrap_or(0.0)
}

const LISTED: &str = r#"releasy_http_request_duration_seconds_count{method="GET",route="/v1/releases",status="200"}"#;
const REFUSED: &str = r#"releasy_http_request_duration_seconds_count{method="GET",route="/v1/releases",status="401"}"#;
const UNKNOWN_KEY: &str = r#"releasy_auth_refusals_total{credential="api_key",reason="not_found"}"#;
const WRONG_ADMIN_KEY: &str =
    r#"releasy_auth_refusals_total{credential="admin_key",reason="invalid"}"#;
const REDIRECTED: &str = r#"releasy_downloads_resolved_total{outcome="redirected"}"#;
const USED_UP: &str = r#"releasy_downloads_resolved_total{outcome="used_up"}"#;

async fn counts_follow_a_load(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_METRICS", "true")]).await;
    let published = publish_one_artifact(&app, "agent", artifact_bytes(4096)).await;
    let api_key = published.api_key.clone();
    let before = scrape(&app.client, &app.base_url).await;

    // The load: 4 workers, each 50 listings, 10 unknown keys and 5 wrong admin keys,
    // and 5 single-use links resolved twice each.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let client = app.client.clone();
            let base = app.base_url.clone();
            let api_key = api_key.clone();
            let artifact_id = published.artifact_id.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    let listed = client
                        .get(format!("{base}/v1/releases"))
                        .header("x-releasy-api-key", &api_key)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(listed.status(), 200);
                    if i % 5 == 0 {
                        let refused = client
                            .get(format!("{base}/v1/releases"))
                            .header("x-releasy-api-key", "releasy_no-such-key")
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(refused.status(), 401);
                    }
                    if i % 10 == 0 {
                        let refused = client
                            .get(format!("{base}/v1/admin/customers"))
                            .header("x-releasy-admin-key", format!("{ADMIN_KEY}-wrong"))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(refused.status(), 401);
                        let token: serde_json::Value = client
                            .post(format!("{base}/v1/downloads/token"))
                            .header("x-releasy-api-key", &api_key)
                            .json(&json!({"artifact_id": artifact_id, "max_uses": 1}))
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        let link = token["download_url"].as_str().unwrap();
                        let first = client.get(link).send().await.unwrap();
                        assert_eq!(first.status(), StatusCode::FOUND);
                        let again = client.get(link).send().await.unwrap();
                        assert_eq!(again.status(), StatusCode::NOT_FOUND);
                    }
                }
            })
        })
        .collect();
    // Scraped while the load runs: never more than the load will have caused.
    let during = scrape(&app.client, &app.base_url).await;
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(value(&during, LISTED) - value(&before, LISTED) <= 200.0);

    // Listings write out what the write-behind queues hold.
    app.audit_events("limit=1").await;
    let downloads = app
        .admin(Method::GET, "/v1/admin/downloads?limit=1")
        .send()
        .await
        .unwrap();
    assert_eq!(downloads.status(), 200);
    let after = scrape(&app.client, &app.base_url).await;
    let caused = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(caused(LISTED), 200.0, "{after:?}");
    assert_eq!(caused(REFUSED), 40.0);
    assert_eq!(caused(UNKNOWN_KEY), 40.0);
    assert_eq!(caused(WRONG_ADMIN_KEY), 20.0);
    assert_eq!(caused("releasy_download_tokens_issued_total"), 20.0);
    assert_eq!(caused(REDIRECTED), 20.0);
    assert_eq!(caused(USED_UP), 20.0);
    // A resolve that passes the grant's checks signs its link before the use is
    // spent: 20 links handed out, 20 signed and refused as used up.
    assert_eq!(
        caused(
            r#"releasy_object_store_call_duration_seconds_count{operation="presign_get",result="ok"}"#
        ),
        40.0
    );
    // Latency buckets are cumulative: the +Inf bucket holds every request.
    assert_eq!(
        value(
            &after,
            r#"releasy_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/releases",status="200"}"#
        ),
        value(&after, LISTED)
    );
    // The listings after the first were answered from the read cache.
    assert!(
        caused(r#"releasy_cache_hits_total{kind="api_key_candidates"}"#) >= 200.0,
        "{after:?}"
    );
    // The pool and the write-behind queues are sampled.
    assert!(value(&after, "releasy_db_pool_connections_max") >= 1.0);
    assert!(caused("releasy_db_pool_checkouts_total") > 0.0);
    for queue in ["audit", "download_ledger"] {
        let depth = format!(r#"releasy_write_behind_queue_depth{{queue="{queue}"}}"#);
        let flushes = format!(r#"releasy_write_behind_flushes_total{{queue="{queue}"}}"#);
        assert_eq!(after.get(&depth), Some(&0.0), "{queue} written out");
        assert!(caused(&flushes) > 0.0, "{queue}: {after:?}");
    }
    // On PostgreSQL each batch of audit events (the write-behind's flushes, the token
    // batches) is counted by how it was linked; which way depends on when the linker
    // moved the head, so only their sum is certain. SQLite has no such series.
    let conditional = r#"releasy_audit_chain_batches_total{path="conditional"}"#;
    let locking = r#"releasy_audit_chain_batches_total{path="locking"}"#;
    match backend {
        Backend::Postgres => assert!(
            caused(conditional) + caused(locking)
                >= caused(r#"releasy_write_behind_flushes_total{queue="audit"}"#),
            "{after:?}"
        ),
        Backend::Sqlite => assert_eq!(after.get(conditional), None),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_shows_the_counts_a_load_caused_on_sqlite() {
    counts_follow_a_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_shows_the_counts_a_load_caused_on_postgres() {
    counts_follow_a_load(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_served_unless_configured() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_listener_of_its_own_keeps_them_off_the_public_one() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("RELEASY_METRICS_BIND_ADDR", metrics_addr.as_str())],
    )
    .await;
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "not on the public listener");
    let listed = app
        .admin(Method::GET, "/v1/admin/customers")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let scraped = scrape(&app.client, &format!("http://{metrics_addr}")).await;
    assert_eq!(
        value(
            &scraped,
            r#"releasy_http_request_duration_seconds_count{method="GET",route="/v1/admin/customers",status="200"}"#
        ),
        1.0,
        "the public listener's requests are counted: {scraped:?}"
    );
}

/// Any token is a valid HTTP method: invented ones are counted under `_OTHER`, so a
/// client cannot add series (each kept for the process's life) by inventing methods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_share_one_series() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RELEASY_METRICS", "true")]).await;
    for n in 0..20 {
        let method = Method::from_bytes(format!("INVENTED{n}").as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url("/v1/releases"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let scraped = scrape(&app.client, &app.base_url).await;
    let invented: f64 = scraped
        .iter()
        .filter(|(series, _)| {
            series.starts_with("releasy_http_request_duration_seconds_count{")
                && series.contains(r#"method="_OTHER""#)
        })
        .map(|(_, count)| count)
        .sum();
    assert_eq!(invented, 20.0, "{scraped:?}");
    assert!(
        !scraped.keys().any(|series| series.contains("INVENTED")),
        "{scraped:?}"
    );
}
