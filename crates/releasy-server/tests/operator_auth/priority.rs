//! The authentication priority of SPEC section 2 with JWT sign-in enabled: the admin-key
//! header first; a bearer value with two dots is a JWT; another bearer value is an admin
//! key. And no admin key is generated when a JWKS URL is configured.

use reqwest::Method;

use crate::app::{bearer, list_customers, spawn};
use crate::helpers::{ADMIN_KEY, Backend, assert_error};
use crate::jwks_server::JwksServer;
use crate::tokens::{default_jwks, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_key_still_works_and_its_header_is_checked_first() {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(Backend::Sqlite, &jwks.url, &[]).await;

    // The admin key, as its header or as a bearer value that is not a JWT.
    let response = app
        .admin(Method::GET, "/v1/admin/customers")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = bearer(&app, Method::GET, "/v1/admin/customers", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = bearer(&app, Method::GET, "/v1/admin/customers", "not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, 401, "unauthorized").await,
        "invalid admin key"
    );

    // Both sent: the header decides, whatever the token says.
    let response = app
        .admin(Method::POST, "/v1/admin/customers")
        .bearer_auth(token(&["release_publisher"]))
        .json(&serde_json::json!({"name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "a valid header wins over a weaker token"
    );
    let response = app
        .admin(Method::GET, "/v1/admin/customers")
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "a valid header wins over a bad token"
    );
    let response = app
        .client
        .get(app.url("/v1/admin/customers"))
        .header("x-releasy-admin-key", "wrong-key")
        .bearer_auth(token(&["platform_admin"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, 401, "unauthorized").await,
        "invalid admin key",
        "a wrong header is not rescued by a valid token"
    );
    assert_eq!(
        list_customers(&app, &token(&["platform_admin"]))
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_admin_key_is_generated_when_a_jwks_url_is_configured() {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(Backend::Sqlite, &jwks.url, &[("RELEASY_ADMIN_API_KEY", "")]).await;
    let data_dir = app
        .embedded_object_path("x")
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    assert!(
        !data_dir
            .join(releasy_server::bootstrap::ADMIN_KEY_FILE)
            .exists()
    );
    let response = app
        .admin(Method::GET, "/v1/admin/customers")
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, 401, "unauthorized").await,
        "invalid admin key"
    );
    assert_eq!(
        list_customers(&app, &token(&["platform_support"]))
            .await
            .status(),
        200
    );
}
