//! A test server with operator sign-in pointed at a test JWKS.

use reqwest::{Method, RequestBuilder};

use crate::helpers::{Backend, TestApp};
use crate::tokens::{AUDIENCE, ISSUER, RESOURCE};

/// A server on `backend` verifying operator tokens against the JWKS at `jwks_url`, with
/// the test issuer, audience and resource; `extra` adds or overrides variables.
pub async fn spawn(backend: Backend, jwks_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("RELEASY_OPERATOR_JWKS_URL", jwks_url),
        ("RELEASY_OPERATOR_ISSUER", ISSUER),
        ("RELEASY_OPERATOR_AUDIENCE", AUDIENCE),
        ("RELEASY_OPERATOR_RESOURCE", RESOURCE),
    ];
    env.extend_from_slice(extra);
    TestApp::spawn_with(backend, &env).await
}

/// A request carrying `token` as `Authorization: Bearer`.
pub fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.client.request(method, app.url(path)).bearer_auth(token)
}

/// `GET /v1/admin/customers` with `token`: the probe most tests use (it needs
/// `platform_admin` or `platform_support`).
pub async fn list_customers(app: &TestApp, token: &str) -> reqwest::Response {
    bearer(app, Method::GET, "/v1/admin/customers", token)
        .send()
        .await
        .unwrap()
}
