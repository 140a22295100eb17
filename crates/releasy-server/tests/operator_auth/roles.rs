//! The role matrix of SPEC section 2, end to end: each role (and a token with two
//! roles) against every admin and release endpoint. An allowed call succeeds (2xx: it
//! got through authorization and the resource it needed was there); a forbidden one is
//! 403 `forbidden`. Also: roles read from each of the three claim locations, and a
//! valid token without a Releasy role.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::app::{bearer, list_customers, spawn};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::jwks_server::JwksServer;
use crate::on_both_backends;
use crate::tokens::{AUDIENCE, ISSUER, KEYS, RESOURCE, claims, default_jwks, now, token};

/// Every admin and release endpoint the matrix governs.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    CreateCustomer,
    UpdateCustomer,
    ListCustomers,
    GetCustomer,
    CreateKey,
    RevokeKey,
    ListEntitlements,
    CreateEntitlement,
    UpdateEntitlement,
    DeleteEntitlement,
    CreateRelease,
    PublishRelease,
    PresignArtifact,
    RegisterArtifact,
    ListReleases,
    UnpublishRelease,
    DeleteRelease,
    ReadAuditEvents,
    UpdateRelease,
    YankRelease,
    UnyankRelease,
    ExplainAccess,
    ListProducts,
    ReadProductPolicy,
    SetProductPolicy,
    ListKeys,
    RotateKey,
    UpdateKey,
    ListDownloads,
    DownloadStats,
}

use Endpoint::*;

/// SPEC section 2, row by row: (endpoint, platform_admin, platform_support,
/// release_publisher).
const MATRIX: [(Endpoint, bool, bool, bool); 30] = [
    (CreateCustomer, true, false, false),
    (UpdateCustomer, true, false, false),
    (CreateKey, true, false, false),
    (ListCustomers, true, true, false),
    (GetCustomer, true, true, false),
    (RevokeKey, true, true, false),
    (ListEntitlements, true, true, false),
    (CreateEntitlement, true, false, false),
    (UpdateEntitlement, true, false, false),
    (DeleteEntitlement, true, false, false),
    (CreateRelease, true, false, true),
    (PublishRelease, true, false, true),
    (PresignArtifact, true, false, true),
    (RegisterArtifact, true, false, true),
    (ListReleases, true, true, true),
    (UnpublishRelease, true, false, false),
    (DeleteRelease, true, false, false),
    (ReadAuditEvents, true, true, false),
    // The release model (#14): publishers edit drafts and may pull a release; only
    // admins restore one.
    (UpdateRelease, true, false, true),
    (YankRelease, true, false, true),
    (UnyankRelease, true, false, false),
    // Support answers "why can't they see it?".
    (ExplainAccess, true, true, false),
    // Everyone reads products and their policies; only admins set one.
    (ListProducts, true, true, true),
    (ReadProductPolicy, true, true, true),
    (SetProductPolicy, true, false, false),
    // Keys an operator can see and rotate (#16): support sees them; rotating issues a
    // key, so only admins rotate.
    (ListKeys, true, true, false),
    (RotateKey, true, false, false),
    (UpdateKey, true, false, false),
    // The download ledger (#16): support reads it as it reads the audit trail.
    (ListDownloads, true, true, false),
    (DownloadStats, true, true, false),
];

/// One request, ready to send.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Call {
    fn new(method: Method, path: String) -> Self {
        Self {
            method,
            path,
            body: None,
        }
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A 2xx answer's JSON body.
async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "setup: {status} {body}");
    body
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

async fn customer(app: &TestApp) -> String {
    app.create_customer(&unique("customer"), None).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn entitlement(app: &TestApp, customer_id: &str) -> String {
    ok(app
        .admin(
            Method::POST,
            &format!("/v1/admin/customers/{customer_id}/entitlements"),
        )
        .json(&json!({"product": "app", "starts_at": 0}))
        .send()
        .await
        .unwrap())
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn release(app: &TestApp) -> String {
    ok(app
        .admin(Method::POST, "/v1/releases")
        .json(&json!({"product": unique("app"), "version": "1.0.0"}))
        .send()
        .await
        .unwrap())
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn published_release(app: &TestApp) -> String {
    let id = release(app).await;
    ok(app
        .admin(Method::POST, &format!("/v1/releases/{id}/publish"))
        .send()
        .await
        .unwrap())
    .await;
    id
}

/// Creates, with the admin key, what calling `endpoint` successfully needs, and
/// returns the call.
async fn prepare(app: &TestApp, endpoint: Endpoint) -> Call {
    match endpoint {
        CreateCustomer => Call::new(Method::POST, "/v1/admin/customers".into())
            .json(json!({"name": unique("customer")})),
        UpdateCustomer => {
            let id = customer(app).await;
            Call::new(Method::PATCH, format!("/v1/admin/customers/{id}"))
                .json(json!({"name": "Renamed"}))
        }
        ListCustomers => Call::new(Method::GET, "/v1/admin/customers".into()),
        GetCustomer => {
            let id = customer(app).await;
            Call::new(Method::GET, format!("/v1/admin/customers/{id}"))
        }
        CreateKey => {
            let id = customer(app).await;
            Call::new(Method::POST, "/v1/admin/keys".into()).json(json!({"customer_id": id}))
        }
        RevokeKey => {
            let id = customer(app).await;
            let key = app.create_key(&id, json!({})).await;
            Call::new(Method::POST, "/v1/admin/keys/revoke".into())
                .json(json!({"api_key_id": key["api_key_id"]}))
        }
        ListEntitlements => {
            let id = customer(app).await;
            Call::new(
                Method::GET,
                format!("/v1/admin/customers/{id}/entitlements"),
            )
        }
        CreateEntitlement => {
            let id = customer(app).await;
            Call::new(
                Method::POST,
                format!("/v1/admin/customers/{id}/entitlements"),
            )
            .json(json!({"product": "app", "starts_at": 0}))
        }
        UpdateEntitlement => {
            let id = customer(app).await;
            let eid = entitlement(app, &id).await;
            Call::new(
                Method::PATCH,
                format!("/v1/admin/customers/{id}/entitlements/{eid}"),
            )
            .json(json!({"product": "tool"}))
        }
        DeleteEntitlement => {
            let id = customer(app).await;
            let eid = entitlement(app, &id).await;
            Call::new(
                Method::DELETE,
                format!("/v1/admin/customers/{id}/entitlements/{eid}"),
            )
        }
        CreateRelease => Call::new(Method::POST, "/v1/releases".into())
            .json(json!({"product": unique("app"), "version": "1.0.0"})),
        PublishRelease => {
            let id = release(app).await;
            Call::new(Method::POST, format!("/v1/releases/{id}/publish"))
        }
        PresignArtifact => {
            let id = release(app).await;
            Call::new(Method::POST, format!("/v1/releases/{id}/artifacts/presign"))
                .json(json!({"filename": "app.tgz", "platform": "linux-x86_64"}))
        }
        RegisterArtifact => {
            let id = release(app).await;
            let presigned = ok(app
                .admin(
                    Method::POST,
                    &format!("/v1/releases/{id}/artifacts/presign"),
                )
                .json(&json!({"filename": "app.tgz", "platform": "linux-x86_64"}))
                .send()
                .await
                .unwrap())
            .await;
            let bytes = b"artifact bytes".to_vec();
            let upload = app
                .client
                .put(presigned["upload_url"].as_str().unwrap())
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            assert!(upload.status().is_success(), "upload: {}", upload.status());
            let checksum: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Call::new(Method::POST, format!("/v1/releases/{id}/artifacts")).json(json!({
                "artifact_id": presigned["artifact_id"],
                "object_key": presigned["object_key"],
                "checksum": checksum,
                "size": bytes.len(),
                "platform": "linux-x86_64",
            }))
        }
        ListReleases => Call::new(Method::GET, "/v1/releases".into()),
        UnpublishRelease => {
            let id = published_release(app).await;
            Call::new(Method::POST, format!("/v1/releases/{id}/unpublish"))
        }
        DeleteRelease => {
            let id = release(app).await;
            Call::new(Method::DELETE, format!("/v1/releases/{id}"))
        }
        ReadAuditEvents => Call::new(Method::GET, "/v1/admin/audit-events".into()),
        UpdateRelease => {
            let id = release(app).await;
            Call::new(Method::PATCH, format!("/v1/releases/{id}")).json(json!({"notes": "edited"}))
        }
        YankRelease => {
            let id = published_release(app).await;
            Call::new(Method::POST, format!("/v1/releases/{id}/yank"))
                .json(json!({"reason": "broken build"}))
        }
        UnyankRelease => {
            let id = published_release(app).await;
            ok(app
                .admin(Method::POST, &format!("/v1/releases/{id}/yank"))
                .json(&json!({"reason": "broken build"}))
                .send()
                .await
                .unwrap())
            .await;
            Call::new(Method::POST, format!("/v1/releases/{id}/unyank"))
        }
        ExplainAccess => {
            let id = customer(app).await;
            let product = unique("app");
            ok(app
                .admin(Method::POST, "/v1/releases")
                .json(&json!({"product": product, "version": "1.0.0"}))
                .send()
                .await
                .unwrap())
            .await;
            Call::new(
                Method::GET,
                format!("/v1/admin/customers/{id}/access?product={product}&version=1.0.0"),
            )
        }
        ListProducts => Call::new(Method::GET, "/v1/admin/products".into()),
        ReadProductPolicy => Call::new(
            Method::GET,
            format!("/v1/admin/products/{}/policy", unique("app")),
        ),
        SetProductPolicy => Call::new(
            Method::PUT,
            format!("/v1/admin/products/{}/policy", unique("app")),
        )
        .json(json!({"immutable_releases": false})),
        ListKeys => {
            let id = customer(app).await;
            Call::new(Method::GET, format!("/v1/admin/customers/{id}/keys"))
        }
        RotateKey => {
            let id = customer(app).await;
            let key = app.create_key(&id, json!({})).await;
            let key_id = key["api_key_id"].as_str().unwrap().to_owned();
            Call::new(Method::POST, format!("/v1/admin/keys/{key_id}/rotate")).json(json!({}))
        }
        UpdateKey => {
            let id = customer(app).await;
            let key = app.create_key(&id, json!({})).await;
            let key_id = key["api_key_id"].as_str().unwrap().to_owned();
            Call::new(Method::PATCH, format!("/v1/admin/keys/{key_id}"))
                .json(json!({"name": "renamed"}))
        }
        ListDownloads => Call::new(Method::GET, "/v1/admin/downloads".into()),
        DownloadStats => Call::new(
            Method::GET,
            "/v1/admin/downloads/stats?group_by=product".into(),
        ),
    }
}

/// Calls every endpoint with a token holding `roles`; `allowed` says, per matrix row,
/// whether those roles may call it.
async fn check_matrix(backend: Backend, roles: &[&str], allowed: fn(bool, bool, bool) -> bool) {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(backend, &jwks.url, &[]).await;
    let token = token(roles);
    for (endpoint, admin, support, publisher) in MATRIX {
        let call = prepare(&app, endpoint).await;
        let mut request = bearer(&app, call.method.clone(), &call.path, &token);
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        if allowed(admin, support, publisher) {
            let body = response.text().await.unwrap();
            assert!(
                status.is_success(),
                "{roles:?} may call {endpoint:?} ({} {}): got {status} {body}",
                call.method,
                call.path
            );
        } else {
            let message = assert_error(response, 403, "forbidden").await;
            assert_eq!(
                message, "operator role does not allow this action",
                "{roles:?} calling {endpoint:?}"
            );
        }
    }
}

async fn platform_admin_may_call_every_endpoint(backend: Backend) {
    check_matrix(backend, &["platform_admin"], |admin, _, _| admin).await;
}

async fn platform_support_follows_the_matrix(backend: Backend) {
    check_matrix(backend, &["platform_support"], |_, support, _| support).await;
}

async fn release_publisher_follows_the_matrix(backend: Backend) {
    check_matrix(backend, &["release_publisher"], |_, _, publisher| publisher).await;
}

async fn two_roles_allow_the_union(backend: Backend) {
    check_matrix(
        backend,
        &["platform_support", "release_publisher", "offline_access"],
        |_, support, publisher| support || publisher,
    )
    .await;
}

/// Roles from `roles`, `realm_access.roles` and `resource_access.<resource>.roles`; a
/// client other than the configured resource does not count.
async fn roles_come_from_each_claim_location(backend: Backend) {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(backend, &jwks.url, &[]).await;
    let base = || json!({"sub": "operator-2", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600});

    let mut realm = base();
    realm["realm_access"] = json!({"roles": ["offline_access", "platform_support"]});
    let realm = KEYS.rsa1.sign(&realm);
    assert_eq!(list_customers(&app, &realm).await.status(), 200);
    let create = bearer(&app, Method::POST, "/v1/admin/customers", &realm)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(create, 403, "forbidden").await;

    let mut client = base();
    client["resource_access"] = json!({
        RESOURCE: {"roles": ["release_publisher"]},
        "account": {"roles": ["platform_admin"]},
    });
    let client = KEYS.rsa1.sign(&client);
    let created = bearer(&app, Method::POST, "/v1/releases", &client)
        .json(&json!({"product": "app", "version": "1.0.0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    assert_error(list_customers(&app, &client).await, 403, "forbidden").await;

    let top_level = KEYS.rsa1.sign(&claims(&["platform_admin"]));
    let created = bearer(&app, Method::POST, "/v1/admin/customers", &top_level)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);

    let mut other_client = base();
    other_client["resource_access"] = json!({"account": {"roles": ["platform_admin"]}});
    let message = assert_error(
        list_customers(&app, &KEYS.rsa1.sign(&other_client)).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(message, "operator token has no releasy role");
}

/// A valid token whose roles map to no Releasy role is 403, on every endpoint kind.
async fn a_token_without_a_releasy_role_is_forbidden(backend: Backend) {
    let jwks = JwksServer::start(default_jwks()).await;
    let app = spawn(backend, &jwks.url, &[]).await;
    for roles in [&[][..], &["admin", "offline_access", "Platform_Admin"][..]] {
        let token = token(roles);
        let message = assert_error(list_customers(&app, &token).await, 403, "forbidden").await;
        assert_eq!(message, "operator token has no releasy role");
        let releases = bearer(&app, Method::GET, "/v1/releases", &token)
            .send()
            .await
            .unwrap();
        assert_error(releases, 403, "forbidden").await;
    }
}

on_both_backends!(
    platform_admin_may_call_every_endpoint,
    platform_support_follows_the_matrix,
    release_publisher_follows_the_matrix,
    two_roles_allow_the_union,
    roles_come_from_each_claim_location,
    a_token_without_a_releasy_role_is_forbidden,
);
