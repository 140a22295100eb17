//! `/live`, `/ready`, `/health`, `/openapi.json`.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

async fn health_endpoints_answer_ok(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/live", "/ready", "/health"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"status": "ok"}),
            "{path}"
        );
        // Probes that ask with HEAD get the same status, without a body.
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path}");
    }
}

async fn openapi_documents_every_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/live", "get"),
        ("/ready", "get"),
        ("/health", "get"),
        ("/openapi.json", "get"),
        ("/v1/admin/customers", "post"),
        ("/v1/admin/customers", "get"),
        ("/v1/admin/customers/{customer_id}", "get"),
        ("/v1/admin/customers/{customer_id}", "patch"),
        ("/v1/admin/keys", "post"),
        ("/v1/admin/keys/revoke", "post"),
        ("/v1/admin/customers/{customer_id}/keys", "get"),
        ("/v1/admin/keys/{api_key_id}/rotate", "post"),
        ("/v1/admin/keys/{api_key_id}", "patch"),
        ("/v1/auth/introspect", "post"),
        ("/v1/admin/audit-events", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "CustomerResponse",
        "CreateKeyResponse",
        "KeyListResponse",
        "RotateKeyResponse",
        "IntrospectionResponse",
        "AuditEventListResponse",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(schema), "{schema} is documented");
    }
    // The rules the server checks in bodies and queries are stated (the patterns are
    // checked against the domain's rules in releasy-http).
    let field = |schema: &str, field: &str| &schemas[schema]["properties"][field];
    assert!(field("CreateCustomerRequest", "name")["pattern"].is_string());
    assert_eq!(
        field("CreateReleaseRequest", "channel")["enum"],
        serde_json::json!(["stable", "rc", "beta", "alpha", "dev", null])
    );
    assert_eq!(field("CreateKeyRequest", "scopes")["minItems"], 1);
    let required = |path: &str| -> Vec<String> {
        let mut names: Vec<String> = paths[path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["required"] == true)
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(required("/v1/releases/latest"), ["product"]);
    assert_eq!(required("/v1/releases/upgrade"), ["current", "product"]);
    let security = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(security["admin_key"]["name"], "x-releasy-admin-key");
    assert_eq!(security["api_key"]["name"], "x-releasy-api-key");
    assert_eq!(security["operator_jwt"]["scheme"], "bearer");

    // Every operation that takes credentials documents the rate limits' 429; of the
    // open ones only the download link does, for a spent download quota. The token
    // request names the quota after the rate limits.
    let mut limited = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let too_many = &operation["responses"]["429"];
            let quota = ["/v1/downloads/{token}", "/v1/downloads/token"].contains(&path.as_str());
            assert_eq!(
                too_many.is_object(),
                secured || quota,
                "429 of {method} {path}"
            );
            if quota {
                let description = too_many["description"].as_str().unwrap();
                assert!(
                    description.contains("quota exceeded"),
                    "{path}: {description}"
                );
                assert!(too_many["headers"].get("Retry-After").is_some(), "{path}");
            }
            if !secured {
                continue;
            }
            limited += 1;
            assert!(too_many["headers"].get("Retry-After").is_some());
            // Budgets (and their headers) are customer keys' alone.
            let customer_key = operation["security"].to_string().contains("\"api_key\"");
            let ok = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .map(|(_, response)| response)
                .unwrap();
            for answer in [too_many, ok] {
                for header in ["RateLimit-Policy", "RateLimit"] {
                    assert_eq!(
                        answer["headers"].get(header).is_some(),
                        customer_key,
                        "{header} of {method} {path}"
                    );
                }
            }
        }
    }
    assert!(limited > 20, "{limited} operations take credentials");
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let generated = app.client.get(app.url("/live")).send().await.unwrap();
    assert_eq!(
        generated.headers()["x-request-id"].to_str().unwrap().len(),
        36
    );
    let echoed = app
        .client
        .get(app.url("/live"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-42");
}

on_both_backends!(
    health_endpoints_answer_ok,
    openapi_documents_every_endpoint,
    every_response_carries_a_request_id
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_database_the_server_is_live_but_not_ready() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.lose_postgres_database().await;
    let live = app.client.get(app.url("/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    for path in ["/ready", "/health"] {
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 503, "HEAD {path}");
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert!(response.headers().contains_key("retry-after"), "{path}");
        // The contract's error body, as every other error.
        let message = crate::helpers::assert_error(response, 503, "service_unavailable").await;
        assert_eq!(message, "service unavailable", "{path}");
    }
    let admin = app
        .admin(reqwest::Method::GET, "/v1/admin/customers")
        .send()
        .await
        .unwrap();
    let message = crate::helpers::assert_error(admin, 503, "service_unavailable").await;
    assert_eq!(message, "service unavailable", "no internals leak");
}
