//! Which tokens are accepted: every accepted algorithm; expiry, `nbf` and leeway;
//! issuer and audience; the signature; and the refused algorithms (`none`, HMAC signed
//! with the provider's public key, a header claiming another algorithm than the key's).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::app::{list_customers, spawn};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::jwks_server::JwksServer;
use crate::tokens::{KEYS, RSA_1_PUBLIC_PEM, claims, default_jwks, now, token, unsigned};

async fn server(extra: &[(&str, &str)]) -> (JwksServer, TestApp) {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(Backend::Sqlite, &jwks.url, extra).await;
    (jwks, app)
}

async fn assert_accepted(app: &TestApp, token: &str, what: &str) {
    let response = list_customers(app, token).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{what}: {body}");
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let response = list_customers(app, token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
    assert_eq!(body["error"]["message"], "invalid operator token", "{what}");
}

/// `claims` for platform_support with `edit` applied.
fn support_claims(edit: impl FnOnce(&mut Value)) -> Value {
    let mut claims = claims(&["platform_support"]);
    edit(&mut claims);
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_algorithm_verifies() {
    let (_jwks, app) = server(&[]).await;
    let claims = claims(&["platform_support"]);
    for key in [
        &KEYS.rsa1,
        &KEYS.rsa1_rs384,
        &KEYS.rsa1_rs512,
        &KEYS.rsa1_ps256,
        &KEYS.es256,
        &KEYS.es384,
        &KEYS.eddsa,
    ] {
        assert_accepted(&app, &key.sign(&claims), &format!("{:?}", key.alg)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_not_before_are_enforced() {
    let (_jwks, app) = server(&[]).await;
    let expired = KEYS
        .es256
        .sign(&support_claims(|c| c["exp"] = json!(now() - 10)));
    assert_refused(&app, &expired, "expired 10 s ago, no leeway").await;
    let no_exp = KEYS.es256.sign(&support_claims(|c| {
        c.as_object_mut().unwrap().remove("exp");
    }));
    assert_refused(&app, &no_exp, "no exp").await;
    let string_exp = KEYS
        .es256
        .sign(&support_claims(|c| c["exp"] = json!("tomorrow")));
    assert_refused(&app, &string_exp, "exp not a number").await;
    let early = KEYS
        .es256
        .sign(&support_claims(|c| c["nbf"] = json!(now() + 120)));
    assert_refused(&app, &early, "nbf in two minutes").await;
    let started = KEYS
        .es256
        .sign(&support_claims(|c| c["nbf"] = json!(now() - 5)));
    assert_accepted(&app, &started, "nbf in the past").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leeway_accepts_a_just_expired_token() {
    let (_jwks, app) = server(&[("RELEASY_OPERATOR_JWT_LEEWAY_SECONDS", "60")]).await;
    let just_expired = KEYS
        .es256
        .sign(&support_claims(|c| c["exp"] = json!(now() - 10)));
    assert_accepted(&app, &just_expired, "expired 10 s ago, leeway 60 s").await;
    let almost_valid = KEYS
        .es256
        .sign(&support_claims(|c| c["nbf"] = json!(now() + 10)));
    assert_accepted(&app, &almost_valid, "nbf in 10 s, leeway 60 s").await;
    let long_expired = KEYS
        .es256
        .sign(&support_claims(|c| c["exp"] = json!(now() - 120)));
    assert_refused(&app, &long_expired, "expired 120 s ago, leeway 60 s").await;
    let future = KEYS
        .es256
        .sign(&support_claims(|c| c["nbf"] = json!(now() + 120)));
    assert_refused(&app, &future, "nbf in 120 s, leeway 60 s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_and_audience_are_checked_when_configured() {
    let (_jwks, app) = server(&[]).await;
    for (what, edit) in [
        (
            "wrong issuer",
            json!({"iss": "https://evil.test/realms/releasy"}),
        ),
        ("wrong audience", json!({"aud": "another-api"})),
        (
            "wrong audiences",
            json!({"aud": ["another-api", "account"]}),
        ),
        ("no issuer", json!({"iss": null})),
        (
            "issuer among others",
            json!({"iss": ["https://evil.test", crate::tokens::ISSUER]}),
        ),
        ("no audience", json!({"aud": null})),
    ] {
        let claims = support_claims(|c| {
            for (name, value) in edit.as_object().unwrap() {
                if value.is_null() {
                    c.as_object_mut().unwrap().remove(name);
                } else {
                    c[name] = value.clone();
                }
            }
        });
        assert_refused(&app, &KEYS.es256.sign(&claims), what).await;
    }
    let among_others = support_claims(|c| c["aud"] = json!(["account", crate::tokens::AUDIENCE]));
    assert_accepted(
        &app,
        &KEYS.es256.sign(&among_others),
        "audience among others",
    )
    .await;

    // Without RELEASY_OPERATOR_ISSUER / _AUDIENCE neither is checked.
    let jwks = JwksServer::start(default_jwks()).await;
    let open = TestApp::spawn_with(
        Backend::Sqlite,
        &[("RELEASY_OPERATOR_JWKS_URL", jwks.url.as_str())],
    )
    .await;
    let elsewhere = support_claims(|c| {
        c["iss"] = json!("https://other.test");
        c["aud"] = json!("another-api");
    });
    assert_accepted(&open, &KEYS.es256.sign(&elsewhere), "nothing configured").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_is_refused() {
    let (_jwks, app) = server(&[]).await;
    let good = token(&["platform_support"]);
    assert_accepted(&app, &good, "untouched").await;

    // The payload edited after signing.
    let parts: Vec<&str> = good.split('.').collect();
    let forged_claims = claims(&["platform_admin"]);
    let forged_payload = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_claims.to_string())
    };
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_refused(&app, &tampered, "payload edited").await;

    // Signed with another key (rsa-2, not published) under rsa-1's kid.
    let other_key = KEYS
        .rsa2
        .sign_as("rsa-1", Algorithm::RS256, &claims(&["platform_admin"]));
    assert_refused(&app, &other_key, "signed by another key").await;

    // A signature cut off, or garbage.
    assert_refused(&app, &format!("{}.{}.", parts[0], parts[1]), "no signature").await;
    assert_refused(&app, "a.b.c", "garbage").await;
    let no_kid = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims(&["platform_admin"]),
        &EncodingKey::from_ec_pem(include_bytes!("keys/ec-p256.pem")).unwrap(),
    )
    .unwrap();
    assert_refused(&app, &no_kid, "no kid").await;
    let no_sub = KEYS.es256.sign(&support_claims(|c| {
        c.as_object_mut().unwrap().remove("sub");
    }));
    assert_refused(&app, &no_sub, "no sub").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_algorithms_never_verify() {
    let (jwks, app) = server(&[]).await;
    let admin = claims(&["platform_admin"]);

    // alg: none, under a published kid, with or without a signature part.
    assert_refused(&app, &unsigned("rsa-1", &admin), "alg none").await;
    assert_refused(
        &app,
        &format!("{}sig", unsigned("rsa-1", &admin)),
        "alg none, signed",
    )
    .await;

    // The classic key-confusion attack: HS256 "signed" with the RSA public key (the
    // PEM the provider publishes, in every spelling an implementation might use).
    let public_pem = std::str::from_utf8(RSA_1_PUBLIC_PEM).unwrap();
    for secret in [
        public_pem.as_bytes(),
        public_pem.trim_end().as_bytes(),
        KEYS.rsa1.jwk()["n"].as_str().unwrap().as_bytes(),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some("rsa-1".into());
            let forged =
                jsonwebtoken::encode(&header, &admin, &EncodingKey::from_secret(secret)).unwrap();
            assert_refused(&app, &forged, &format!("{alg:?} with the public key")).await;
        }
    }

    // A header naming another algorithm than the key's, validly signed with the key.
    let rs384_under_rs256 = KEYS.rsa1.sign_as("rsa-1", Algorithm::RS384, &admin);
    assert_refused(&app, &rs384_under_rs256, "RS384 under an RS256 key").await;
    let ps256_under_rs256 = KEYS.rsa1.sign_as("rsa-1", Algorithm::PS256, &admin);
    assert_refused(&app, &ps256_under_rs256, "PS256 under an RS256 key").await;
    let eddsa_under_rsa = KEYS.eddsa.sign_as("rsa-1", Algorithm::EdDSA, &admin);
    assert_refused(&app, &eddsa_under_rsa, "EdDSA under an RSA key").await;
    let es256_under_es384 = KEYS.es256.sign_as("ec-p384", Algorithm::ES256, &admin);
    assert_refused(&app, &es256_under_es384, "ES256 under a P-384 key").await;

    // An HMAC key published in the JWKS is never used.
    let mut document = default_jwks();
    document["keys"].as_array_mut().unwrap().push(json!({
        "kty": "oct", "kid": "shared", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
    }));
    jwks.publish(document);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("shared".into());
    let hmac = jsonwebtoken::encode(
        &header,
        &admin,
        &EncodingKey::from_secret(b"secret-secret-secret-secret"),
    )
    .unwrap();
    assert_refused(&app, &hmac, "HS256 with a published oct key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_are_refused_when_sign_in_is_not_configured() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let message = assert_error(
        list_customers(&app, &token(&["platform_admin"])).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(message, "operator tokens are not enabled on this server");
}
