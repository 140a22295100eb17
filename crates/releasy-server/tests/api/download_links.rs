//! The presigned link behind `GET /v1/downloads/{token}` dies with its token: it expires
//! no later than the token and no later than `RELEASY_DOWNLOAD_URL_TTL_SECONDS`, on the
//! embedded store and on S3, so a suspended customer's link stops working as soon as
//! it expires.

use reqwest::Method;
use serde_json::json;

use crate::flow::{artifact_bytes, publish_one_artifact, resolve};
use crate::helpers::{Backend, Storage, TestApp, assert_error, on_every_backend_and_store};
use crate::releases::{now, ok_json};

/// Issues a token living `seconds`; returns its download URL and expiry.
async fn token(app: &TestApp, api_key: &str, artifact_id: &str, seconds: i64) -> (String, i64) {
    let token = ok_json(
        app.customer(Method::POST, "/v1/downloads/token", api_key)
            .json(&json!({"artifact_id": artifact_id, "expires_in_seconds": seconds}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    (
        token["download_url"].as_str().unwrap().to_owned(),
        token["expires_at"].as_i64().unwrap(),
    )
}

/// When a presigned link stops working, read from the link itself: `expires=` on the
/// embedded store, `X-Amz-Date` plus `X-Amz-Expires` on S3.
fn link_expires_at(link: &str) -> i64 {
    let url = reqwest::Url::parse(link).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if let Some(expires) = param("expires") {
        return expires.parse().unwrap();
    }
    let signed_at = param("X-Amz-Date").unwrap_or_else(|| panic!("no expiry in {link}"));
    let lifetime: i64 = param("X-Amz-Expires").unwrap().parse().unwrap();
    amz_date_seconds(&signed_at) + lifetime
}

/// `20261203T051500Z` as Unix seconds.
fn amz_date_seconds(amz: &str) -> i64 {
    let number = |range: std::ops::Range<usize>| amz[range].parse::<i64>().unwrap();
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    let (hour, minute, second) = (number(9..11), number(11..13), number(13..15));
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    days * 86_400 + hour * 3600 + minute * 60 + second
}

#[test]
fn amz_dates_read_as_unix_seconds() {
    assert_eq!(amz_date_seconds("19700101T000000Z"), 0);
    assert_eq!(amz_date_seconds("20000229T120000Z"), 951_825_600);
    assert_eq!(amz_date_seconds("20261203T051500Z"), 1_796_274_900);
}

async fn links_expire_with_their_token_and_within_the_link_lifetime(
    backend: Backend,
    storage: Storage,
) {
    let app = TestApp::spawn_with_storage(backend, storage).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(1_000)).await;

    // A short token: the link expires exactly with it.
    let (url, token_expires_at) = token(&app, &p.api_key, &p.artifact_id, 30).await;
    let link = resolve(&app, &url).await;
    assert_eq!(link_expires_at(&link), token_expires_at, "{link}");

    // A long token: the link lives the default 300 s at most.
    let (url, token_expires_at) = token(&app, &p.api_key, &p.artifact_id, 600).await;
    let before = now();
    let link = resolve(&app, &url).await;
    let link_expires = link_expires_at(&link);
    assert!(
        (before + 300..=now() + 300).contains(&link_expires),
        "link expires at {link_expires}, resolved at {before}"
    );
    assert!(link_expires < token_expires_at);

    // The link is a working one.
    let bytes = app.client.get(&link).send().await.unwrap();
    assert_eq!(bytes.status(), 200);
    assert_eq!(bytes.bytes().await.unwrap().as_ref(), p.bytes.as_slice());
}

async fn a_suspended_customers_link_dies_when_it_expires(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage_and(
        backend,
        storage,
        &[("RELEASY_DOWNLOAD_URL_TTL_SECONDS", "1")],
    )
    .await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(1_000)).await;
    let (url, _) = token(&app, &p.api_key, &p.artifact_id, 600).await;
    let before = now();
    let link = resolve(&app, &url).await;
    let link_expires = link_expires_at(&link);
    assert!(
        (before + 1..=now() + 1).contains(&link_expires),
        "a 1 s link expires at {link_expires}, resolved at {before}"
    );

    let suspended = app
        .admin(
            Method::PATCH,
            &format!("/v1/admin/customers/{}", p.customer_id),
        )
        .json(&json!({"suspended": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(suspended.status(), 200);
    // The token no longer resolves at once...
    let refused = app.client.get(&url).send().await.unwrap();
    assert_error(refused, 404, "not_found").await;
    // ...and the link handed out before the suspension stops working when it expires.
    while now() <= link_expires {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let expired = app.client.get(&link).send().await.unwrap();
    assert_eq!(expired.status(), 403, "{link}");
}

/// moto checks no signatures, so only the link's lifetime (not its refusal) is checked
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_expire_with_their_token_on_moto() {
    links_expire_with_their_token_and_within_the_link_lifetime(Backend::Postgres, Storage::Moto)
        .await;
}

on_every_backend_and_store!(
    links_expire_with_their_token_and_within_the_link_lifetime,
    a_suspended_customers_link_dies_when_it_expires,
);
