//! `POST /v1/downloads/token` and `GET /v1/downloads/{token}`: every refusal, the
//! lifetime bounds, the URL's shape, the redirect, idempotency, and that tokens are
//! stored only as hashes.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_store_diesel::schema::download_tokens;
use reqwest::Method;
use serde_json::{Value, json};

use crate::artifacts::{add_artifact, presign, register_body, register_request, upload};
use crate::database::{Db, with_conn};
use crate::entitlements::grant;
use crate::flow::{Published, artifact_bytes, publish_one_artifact, resolve, sha256_hex};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, now, ok_json};

const TOKEN: &str = "/v1/downloads/token";

async fn token_request(app: &TestApp, api_key: &str, body: Value) -> reqwest::Response {
    app.customer(Method::POST, TOKEN, api_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The raw token of a download URL.
fn token_of(download_url: &str) -> &str {
    download_url.rsplit('/').next().unwrap()
}

/// A download-token row, every column.
type TokenRow = (String, String, String, String, Option<String>, i64, i64);

/// Every row of `download_tokens`, read straight from the server's database.
async fn token_rows(app: &TestApp) -> Vec<TokenRow> {
    let query = download_tokens::table.select((
        download_tokens::id,
        download_tokens::token_hash,
        download_tokens::artifact_id,
        download_tokens::customer_id,
        download_tokens::purpose,
        download_tokens::created_at,
        download_tokens::expires_at,
    ));
    let mut db = Db::connect(app).await;
    with_conn!(&mut db, conn => query.load::<TokenRow>(conn).await.unwrap())
}

async fn token_refusals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p: Published = publish_one_artifact(&app, "app", artifact_bytes(500)).await;

    let unknown = token_request(
        &app,
        &p.api_key,
        json!({"artifact_id": uuid::Uuid::new_v4().to_string()}),
    )
    .await;
    assert_eq!(
        assert_error(unknown, 404, "not_found").await,
        "artifact not found"
    );
    let malformed = token_request(&app, &p.api_key, json!({"artifact_id": "abc"})).await;
    let message = assert_error(malformed, 400, "bad_request").await;
    assert!(message.starts_with("artifact_id"), "{message}");
    let missing = token_request(&app, &p.api_key, json!({})).await;
    let message = assert_error(missing, 400, "bad_request").await;
    assert!(message.contains("artifact_id"), "{message}");

    // An artifact registered on a release that was never published (the customer is
    // entitled to its product).
    let draft = create_release(&app, "app", "2.0.0").await;
    let unpublished = add_artifact(
        &app,
        draft["id"].as_str().unwrap(),
        "linux",
        &artifact_bytes(10),
    )
    .await;
    let refused = token_request(&app, &p.api_key, json!({"artifact_id": unpublished["id"]})).await;
    assert_eq!(
        assert_error(refused, 403, "forbidden").await,
        "release not published"
    );

    // A customer with every scope but no entitlement.
    let (_, stranger, _) = app.customer_with_key().await;
    let refused = token_request(&app, &stranger, json!({"artifact_id": p.artifact_id})).await;
    assert_eq!(
        assert_error(refused, 403, "forbidden").await,
        "entitlement required"
    );

    // An entitled customer whose key lacks `downloads:token`.
    let limited = app
        .create_key(
            &p.customer_id,
            json!({"scopes": ["releases:read", "downloads:read"]}),
        )
        .await;
    let refused = token_request(
        &app,
        limited["api_key"].as_str().unwrap(),
        json!({"artifact_id": p.artifact_id}),
    )
    .await;
    assert_eq!(
        assert_error(refused, 403, "forbidden").await,
        "missing scope"
    );

    let anonymous = app
        .client
        .post(app.url(TOKEN))
        .json(&json!({"artifact_id": p.artifact_id}))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
    // The admin key is no customer key.
    let admin = app
        .admin(Method::POST, TOKEN)
        .json(&json!({"artifact_id": p.artifact_id}))
        .send()
        .await
        .unwrap();
    assert_error(admin, 401, "unauthorized").await;

    assert!(token_rows(&app).await.is_empty(), "no token was issued");
}

async fn lifetime_is_bounded_by_the_default_maximum(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(500)).await;
    for seconds in [0, -1, 601, 100_000] {
        let response = token_request(
            &app,
            &p.api_key,
            json!({"artifact_id": p.artifact_id, "expires_in_seconds": seconds}),
        )
        .await;
        let message = assert_error(response, 400, "bad_request").await;
        assert!(
            message.starts_with("expires_in_seconds"),
            "{seconds}: {message}"
        );
    }
    for (requested, expected) in [(Some(1), 1), (Some(600), 600), (Some(42), 42), (None, 600)] {
        let mut body = json!({"artifact_id": p.artifact_id});
        if let Some(seconds) = requested {
            body["expires_in_seconds"] = json!(seconds);
        }
        let before = now();
        let token = ok_json(token_request(&app, &p.api_key, body).await).await;
        let expires_at = token["expires_at"].as_i64().unwrap();
        assert!(
            (before + expected..=now() + expected).contains(&expires_at),
            "{requested:?}: expires_at {expires_at} is now + {expected}"
        );
    }
}

async fn a_purpose_with_a_nul_is_400_and_issues_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(500)).await;
    let refused = token_request(
        &app,
        &p.api_key,
        json!({"artifact_id": p.artifact_id, "purpose": "nightly\u{0}"}),
    )
    .await;
    let message = assert_error(refused, 400, "bad_request").await;
    assert_eq!(message, "purpose must not contain NUL characters (U+0000)");
    assert!(token_rows(&app).await.is_empty(), "no token stored");
}

async fn lifetime_follows_the_configured_maximum(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_DOWNLOAD_TOKEN_TTL_SECONDS", "60")]).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(500)).await;
    let too_long = token_request(
        &app,
        &p.api_key,
        json!({"artifact_id": p.artifact_id, "expires_in_seconds": 61}),
    )
    .await;
    let message = assert_error(too_long, 400, "bad_request").await;
    assert!(message.starts_with("expires_in_seconds"), "{message}");
    assert!(
        message.contains("60"),
        "the message names the maximum: {message}"
    );
    for body in [
        json!({"artifact_id": p.artifact_id, "expires_in_seconds": 60}),
        json!({"artifact_id": p.artifact_id}),
    ] {
        let before = now();
        let token = ok_json(token_request(&app, &p.api_key, body.clone()).await).await;
        let expires_at = token["expires_at"].as_i64().unwrap();
        assert!(
            (before + 60..=now() + 60).contains(&expires_at),
            "{body}: {expires_at}"
        );
    }
}

async fn the_token_resolves_to_the_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(20_000)).await;
    let token = ok_json(
        token_request(
            &app,
            &p.api_key,
            json!({"artifact_id": p.artifact_id, "purpose": "ci", "expires_in_seconds": 300}),
        )
        .await,
    )
    .await;
    let mut keys: Vec<&String> = token.as_object().unwrap().keys().collect();
    keys.sort_unstable();
    assert_eq!(keys, ["download_url", "expires_at"]);
    let url = token["download_url"].as_str().unwrap();
    let prefix = format!("{}/v1/downloads/releasy_dl_", app.base_url);
    assert!(url.starts_with(&prefix), "{url}");
    let secret = &url[prefix.len()..];
    assert_eq!(secret.len(), 43, "base64url of 32 bytes: {secret}");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{secret}"
    );

    // The URL is built from the configured base URL, never from request headers.
    let spoofed = ok_json(
        app.customer(Method::POST, TOKEN, &p.api_key)
            .header("host", "evil.example")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "https")
            .header("forwarded", "host=evil.example;proto=https")
            .json(&json!({"artifact_id": p.artifact_id}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        spoofed["download_url"]
            .as_str()
            .unwrap()
            .starts_with(&prefix),
        "{spoofed}"
    );

    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let download = app.client.get(&location).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().as_ref(), p.bytes.as_slice());

    // A token resolves as often as needed while it is valid.
    let again = resolve(&app, url).await;
    let body = app
        .client
        .get(&again)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&p.bytes));

    // Each request issues a different token.
    assert_ne!(spoofed["download_url"], token["download_url"]);
}

async fn tokens_are_stored_only_as_hashes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(500)).await;
    let before = now();
    let token = ok_json(
        token_request(
            &app,
            &p.api_key,
            json!({"artifact_id": p.artifact_id, "purpose": "  nightly build  ", "expires_in_seconds": 120}),
        )
        .await,
    )
    .await;
    let url = token["download_url"].as_str().unwrap();
    let raw = token_of(url);
    assert!(raw.starts_with("releasy_dl_"));

    let rows = token_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let (id, token_hash, artifact_id, customer_id, purpose, created_at, expires_at) = &rows[0];
    let random_part = &raw["releasy_dl_".len()..];
    for column in [id, token_hash, artifact_id, customer_id] {
        assert!(!column.contains(random_part), "{column} holds the token");
    }
    assert!(!purpose.as_deref().unwrap_or_default().contains(random_part));
    // The contract's format: lowercase hex SHA-256 of the token (no pepper here).
    assert_eq!(token_hash, &sha256_hex(raw.as_bytes()));
    assert_eq!(artifact_id, &p.artifact_id);
    assert_eq!(customer_id, &p.customer_id);
    assert_eq!(purpose.as_deref(), Some("nightly build"));
    assert!((before..=now()).contains(created_at));
    assert_eq!(*expires_at, token["expires_at"].as_i64().unwrap());
    assert_eq!(expires_at - created_at, 120);

    resolve(&app, url).await;
}

async fn token_request_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(500)).await;
    let send = |key: &str, body: Value| {
        app.customer(Method::POST, TOKEN, &p.api_key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let body = json!({"artifact_id": p.artifact_id, "expires_in_seconds": 300});
    let first = ok_json(send("token-1", body.clone()).await.unwrap()).await;
    let replay = send("token-1", body.clone()).await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["download_url"], first["download_url"]);
    assert_eq!(replay, first);
    assert_eq!(token_rows(&app).await.len(), 1, "one token was issued");
    // The replayed URL works.
    resolve(&app, replay["download_url"].as_str().unwrap()).await;

    let conflict = send(
        "token-1",
        json!({"artifact_id": p.artifact_id, "expires_in_seconds": 301}),
    )
    .await
    .unwrap();
    assert_error(conflict, 409, "idempotency_conflict").await;

    // Another key of the same customer using the same Idempotency-Key is another caller.
    let other_key = app.create_key(&p.customer_id, json!({})).await;
    let other = app
        .customer(Method::POST, TOKEN, other_key["api_key"].as_str().unwrap())
        .header("Idempotency-Key", "token-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let other = ok_json(other).await;
    assert_ne!(other["download_url"], first["download_url"]);
    assert_eq!(token_rows(&app).await.len(), 2);
}

async fn a_second_entitled_customer_gets_its_own_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(500)).await;
    let (other_id, other_key, _) = app.customer_with_key().await;
    grant(&app, &other_id, json!({"product": "app", "starts_at": 0})).await;
    let token =
        ok_json(token_request(&app, &other_key, json!({"artifact_id": p.artifact_id})).await).await;
    let location = resolve(&app, token["download_url"].as_str().unwrap()).await;
    let body = app
        .client
        .get(&location)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.as_ref(), p.bytes.as_slice());
    let rows = token_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].3, other_id,
        "the token belongs to the caller's customer"
    );
}

/// A server behind a proxy: its public base URL (here with a trailing `/`) is another
/// host; links are built from it alone.
async fn links_use_the_configured_public_base_url(backend: Backend) {
    const PUBLIC: &str = "https://releasy.example.com";
    let public_with_slash = format!("{PUBLIC}/");
    let app =
        TestApp::spawn_with(backend, &[("RELEASY_PUBLIC_BASE_URL", &public_with_slash)]).await;
    // What the proxy would do: forward the public URL's path and query to the server.
    let via_proxy = |url: &str| {
        let rest = url
            .strip_prefix(PUBLIC)
            .unwrap_or_else(|| panic!("{url} starts with {PUBLIC}"));
        assert!(rest.starts_with("/v1/") && !rest.starts_with("//"), "{url}");
        format!("{}{rest}", app.base_url)
    };
    let (customer_id, api_key, _) = app.customer_with_key().await;
    grant(
        &app,
        &customer_id,
        json!({"product": "app", "starts_at": 0}),
    )
    .await;
    let release = create_release(&app, "app", "1.0.0").await;
    let release_id = release["id"].as_str().unwrap();
    let bytes = artifact_bytes(3000);
    let mut presigned = presign(&app, release_id, "app.tgz", "linux").await;
    presigned["upload_url"] = json!(via_proxy(presigned["upload_url"].as_str().unwrap()));
    upload(&app, &presigned, &bytes).await;
    ok_json(
        register_request(
            &app,
            release_id,
            &register_body(&presigned, "linux", &bytes),
        )
        .await,
    )
    .await;
    crate::releases::publish(&app, release_id).await;

    let token = ok_json(
        token_request(
            &app,
            &api_key,
            json!({"artifact_id": presigned["artifact_id"]}),
        )
        .await,
    )
    .await;
    let url = token["download_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{PUBLIC}/v1/downloads/releasy_dl_")),
        "{url}"
    );
    let location = resolve(&app, &via_proxy(url)).await;
    let body = app
        .client
        .get(via_proxy(&location))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.as_ref(), bytes.as_slice());
}

/// A body the server refuses before the handler runs, while the customer key is still
/// being checked against the database, is answered like any other bad request (and the
/// connection stays usable).
async fn bad_bodies_are_answered_while_the_key_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, _) = app.customer_with_key().await;
    for _ in 0..5 {
        let missing = token_request(&app, &api_key, json!({})).await;
        assert_error(missing, 400, "bad_request").await;
        let wrong_type = token_request(&app, &api_key, json!({"artifact_id": 5})).await;
        assert_error(wrong_type, 400, "bad_request").await;
        let malformed = app
            .customer(Method::POST, TOKEN, &api_key)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_error(malformed, 400, "bad_request").await;
        let not_json = app
            .customer(Method::POST, TOKEN, &api_key)
            .body("artifact_id=x")
            .send()
            .await
            .unwrap();
        assert_error(not_json, 400, "bad_request").await;
    }
    // Every one of those key checks runs to its end and is audited (the refused requests
    // were answered without waiting for it).
    let mut audited = 0;
    for _ in 0..100 {
        let events = ok_json(
            app.admin(
                Method::GET,
                "/v1/admin/audit-events?event=api_key.auth&limit=200",
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        audited = events["events"].as_array().unwrap().len();
        if audited >= 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(audited, 20);
}

on_both_backends!(
    bad_bodies_are_answered_while_the_key_is_checked,
    links_use_the_configured_public_base_url,
    token_refusals,
    lifetime_is_bounded_by_the_default_maximum,
    lifetime_follows_the_configured_maximum,
    a_purpose_with_a_nul_is_400_and_issues_nothing,
    the_token_resolves_to_the_bytes,
    tokens_are_stored_only_as_hashes,
    token_request_is_idempotent,
    a_second_entitled_customer_gets_its_own_token,
);
