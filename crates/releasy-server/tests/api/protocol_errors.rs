//! actix's own extractor and routing errors come back in the contract's error shape.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;

async fn unknown_routes_are_404_in_the_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .get(app.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "not_found").await;
}

async fn malformed_json_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for body in [
        "{\"name\": ",
        // A whole object followed by more is not one JSON body either.
        "{\"name\": \"Acme\"}]]garbage",
        "{\"name\": \"Acme\"}{\"name\": \"Initech\"}",
    ] {
        let response = app
            .admin(Method::POST, "/v1/admin/customers")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(
            message.starts_with("invalid JSON body"),
            "{body}: {message}"
        );
    }
    // Whitespace after it is fine, and nothing was created by the refused bodies.
    let created = app
        .admin(Method::POST, "/v1/admin/customers")
        .header("content-type", "application/json")
        .body("{\"name\": \"Acme\"}\n\t ")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let listed: serde_json::Value = app
        .admin(Method::GET, "/v1/admin/customers")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["customers"].as_array().unwrap().len(), 1, "{listed}");
}

async fn wrong_types_and_missing_fields_name_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (body, expected) in [
        (
            json!({"plan": "core"}),
            "invalid JSON body: missing field `name`",
        ),
        (json!({"name": 5}), "name: invalid type: integer `5`"),
        (
            json!({"name": "Acme", "plan": ["core"]}),
            "plan: invalid type: sequence",
        ),
    ] {
        let response = app
            .admin(Method::POST, "/v1/admin/customers")
            .json(&body)
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.starts_with(expected), "{body}: {message}");
    }
}

async fn a_wrong_or_missing_content_type_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .admin(Method::POST, "/v1/admin/customers")
            .body("{\"name\":\"Acme\"}");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            assert_error(response, 400, "bad_request").await,
            "content-type must be application/json"
        );
    }
}

async fn oversized_bodies_are_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let huge = format!("{{\"name\":\"{}\"}}", "a".repeat(100 * 1024));
    let response = app
        .admin(Method::POST, "/v1/admin/customers")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(response, 413, "payload_too_large").await;
}

async fn non_uuid_ids_are_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .admin(Method::GET, "/v1/admin/customers/not-a-uuid")
        .send()
        .await
        .unwrap();
    assert!(
        assert_error(response, 400, "bad_request")
            .await
            .contains("customer_id")
    );
}

async fn bad_query_parameters_are_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for query in [
        "limit=abc",
        "limit=0",
        "limit=201",
        "offset=-1",
        "created_from=yesterday",
    ] {
        let path = if query.starts_with("created") {
            "/v1/admin/audit-events"
        } else {
            "/v1/admin/customers"
        };
        let response = app
            .admin(Method::GET, &format!("{path}?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "bad_request").await;
    }
}

/// serde reads a struct from an array of its fields too; the contract's bodies are
/// objects, and nothing an array asks for may happen.
async fn bodies_that_are_not_objects_are_400_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", Some("core")).await;
    let id = customer["id"].as_str().unwrap();
    for body in [json!([null, null]), json!(["Renamed", null, true])] {
        let response = app
            .admin(Method::PATCH, &format!("/v1/admin/customers/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert_eq!(message, "request body must be a JSON object, not an array");
    }
    let unchanged: serde_json::Value = app
        .admin(Method::GET, &format!("/v1/admin/customers/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["name"], "Acme");
    assert_eq!(unchanged["plan"], "core");
    assert!(unchanged["suspended_at"].is_null());

    for body in [json!(["p", "1"]), json!("p"), json!(null)] {
        let response = app
            .admin(Method::POST, "/v1/releases")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "bad_request").await;
    }
    let releases: serde_json::Value = app
        .admin(Method::GET, "/v1/releases")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(releases["releases"], json!([]), "no release was created");
}

/// PostgreSQL cannot store U+0000 in text or `jsonb`: a NUL in free text, metadata or a
/// query filter is the client's 400 on both databases, never a server error, and
/// nothing is stored.
async fn nul_characters_are_400_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = customer["id"].as_str().unwrap();
    let release = crate::releases::create_release(&app, "agent", "1.0.0").await;
    let release_id = release["id"].as_str().unwrap();
    let refused = [
        (
            Method::POST,
            "/v1/releases".to_owned(),
            json!({"product": "agent", "version": "2.0.0", "notes": "a\u{0}b"}),
            "notes must not contain NUL characters (U+0000)",
        ),
        (
            Method::POST,
            "/v1/releases".to_owned(),
            json!({"product": "agent", "version": "2.0.0", "metadata": {"k": ["\u{0}"]}}),
            "metadata must not contain NUL characters (U+0000)",
        ),
        (
            Method::PATCH,
            format!("/v1/releases/{release_id}"),
            json!({"metadata": {"k\u{0}": 1}}),
            "metadata must not contain NUL characters (U+0000)",
        ),
        (
            Method::POST,
            format!("/v1/admin/customers/{customer_id}/entitlements"),
            json!({"product": "agent", "starts_at": 0, "metadata": {"k": "\u{0}"}}),
            "metadata must not contain NUL characters (U+0000)",
        ),
    ];
    for (method, path, body, expected) in refused {
        let response = app.admin(method, &path).json(&body).send().await.unwrap();
        assert_eq!(
            assert_error(response, 400, "bad_request").await,
            expected,
            "{path}"
        );
    }
    for path in [
        "/v1/admin/customers?name=a%00",
        "/v1/admin/customers?plan=%00",
        "/v1/admin/audit-events?actor=%00",
        "/v1/admin/audit-events?event=x%00y",
        &format!("/v1/admin/customers/{customer_id}/entitlements?product=%00"),
    ] {
        let response = app.admin(Method::GET, path).send().await.unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert_eq!(
            message, "query must not contain NUL characters (%00)",
            "{path}"
        );
    }
    let text = |path: &str| {
        let request = app.admin(Method::GET, path);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let releases = text("/v1/releases").await;
    assert!(!releases.contains("2.0.0"), "{releases}");
    let entitlements = text(&format!("/v1/admin/customers/{customer_id}/entitlements")).await;
    assert!(
        entitlements.contains("\"entitlements\":[]"),
        "{entitlements}"
    );
    // `%2500` is the text `%00`, not a NUL: an ordinary filter.
    let listed = app
        .admin(Method::GET, "/v1/admin/customers?name=%2500")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
}

/// A known path asked with a method it does not answer is 405 with `Allow`; an
/// unknown path stays 404.
async fn other_methods_on_known_paths_are_405_with_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (method, path, allow) in [
        ("TRACE", "/v1/admin/customers", "GET, POST"),
        ("DELETE", "/v1/admin/customers", "GET, POST"),
        (
            "PUT",
            "/v1/admin/customers/01a23e68-5df7-7222-900a-fb1de5a2ad92",
            "GET, PATCH",
        ),
        ("POST", "/live", "GET"),
        // The revoke path is also a key's path (`{api_key_id}`), whose edit reaches it.
        ("PUT", "/v1/admin/keys/revoke", "POST, PATCH"),
    ] {
        let response = app
            .admin(Method::from_bytes(method.as_bytes()).unwrap(), path)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {path}"
        );
        let message = assert_error(response, 405, "method_not_allowed").await;
        assert!(
            message.starts_with(&format!("{method} is not allowed")),
            "{message}"
        );
    }
    let unknown = app
        .admin(Method::from_bytes(b"TRACE").unwrap(), "/v1/nothing-here")
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "not_found").await;
}

on_both_backends!(
    nul_characters_are_400_and_store_nothing,
    other_methods_on_known_paths_are_405_with_allow,
    bodies_that_are_not_objects_are_400_and_change_nothing,
    unknown_routes_are_404_in_the_error_shape,
    malformed_json_is_400,
    wrong_types_and_missing_fields_name_the_field,
    a_wrong_or_missing_content_type_is_400,
    oversized_bodies_are_413,
    non_uuid_ids_are_400,
    bad_query_parameters_are_400,
);
