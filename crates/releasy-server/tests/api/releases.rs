//! `/v1/releases` as an operator: create, list with every filter, publish, unpublish,
//! delete, the races between concurrent transitions, and idempotent creation.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{artifact_bytes, publish_one_artifact};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;

/// The wall clock in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Asserts a 200 and returns the JSON body.
pub async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// The sorted field names of a JSON object.
pub fn fields(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    names.sort_unstable();
    names
}

/// Creates a draft release; returns its JSON.
pub async fn create_release(app: &TestApp, product: &str, version: &str) -> Value {
    ok_json(
        app.admin(Method::POST, "/v1/releases")
            .json(&json!({"product": product, "version": version}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// `POST /v1/releases/{id}/{action}` with the admin key.
pub async fn transition(app: &TestApp, release_id: &str, action: &str) -> reqwest::Response {
    app.admin(Method::POST, &format!("/v1/releases/{release_id}/{action}"))
        .send()
        .await
        .unwrap()
}

/// Publishes a release; returns its JSON.
pub async fn publish(app: &TestApp, release_id: &str) -> Value {
    ok_json(transition(app, release_id, "publish").await).await
}

/// `GET /v1/releases?{query}` with the admin key; asserts 200.
async fn list(app: &TestApp, query: &str) -> Value {
    app.admin_get_json(&format!("/v1/releases?{query}")).await
}

/// `(product, version)` of each listed release, in order.
fn listed(page: &Value) -> Vec<(String, String)> {
    page["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["product"].as_str().unwrap().to_owned(),
                r["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn sorted(mut items: Vec<(String, String)>) -> Vec<(String, String)> {
    items.sort();
    items
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    sorted(
        items
            .iter()
            .map(|(p, v)| ((*p).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

async fn create_returns_a_draft(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = now();
    let release = create_release(&app, "  releasy-server  ", "1.2.3").await;
    assert_eq!(
        fields(&release),
        [
            "artifacts",
            "channel", // the release model (#14) adds it; the optional fields stay absent
            "created_at",
            "id",
            "product",
            "published_at",
            "status",
            "version"
        ]
    );
    uuid::Uuid::parse_str(release["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        release["product"], "releasy-server",
        "the product is trimmed"
    );
    assert_eq!(release["version"], "1.2.3");
    assert_eq!(release["status"], "draft");
    assert_eq!(release["published_at"], Value::Null);
    assert_eq!(release["artifacts"], Value::Null);
    let created_at = release["created_at"].as_i64().unwrap();
    assert!(
        (before..=now()).contains(&created_at),
        "created_at {created_at} is now"
    );

    let page = list(&app, "").await;
    assert_eq!(page["releases"], json!([release]));
}

async fn a_duplicate_product_and_version_is_409(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    create_release(&app, "app", "1.0.0").await;
    let duplicate = app
        .admin(Method::POST, "/v1/releases")
        .json(&json!({"product": "app", "version": "1.0.0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(duplicate, 409, "conflict").await,
        "release already exists"
    );
    // Either half alone is no duplicate.
    create_release(&app, "app", "1.0.1").await;
    create_release(&app, "other", "1.0.0").await;
    assert_eq!(
        list(&app, "").await["releases"].as_array().unwrap().len(),
        3
    );
}

async fn create_validates_the_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (body, field) in [
        (json!({"product": "", "version": "1.0.0"}), "product"),
        (json!({"product": "   ", "version": "1.0.0"}), "product"),
        (
            json!({"product": "p".repeat(129), "version": "1.0.0"}),
            "product",
        ),
        (json!({"product": "app", "version": ""}), "version"),
        (json!({"product": "app", "version": " "}), "version"),
        (json!({"version": "1.0.0"}), "product"),
        (json!({"product": "app"}), "version"),
        (json!({"product": 7, "version": "1.0.0"}), "product"),
        (json!({"product": "app", "version": 1.0}), "version"),
        (json!({"product": null, "version": "1.0.0"}), "product"),
        (json!({"product": ["app"], "version": "1.0.0"}), "product"),
    ] {
        let response = app
            .admin(Method::POST, "/v1/releases")
            .json(&body)
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    assert_eq!(
        list(&app, "").await["releases"],
        json!([]),
        "nothing created"
    );
}

async fn create_needs_operator_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"product": "app", "version": "1.0.0"});
    let none = app
        .client
        .post(app.url("/v1/releases"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(none, 401, "unauthorized").await;
    // A customer key is no operator credential, whatever its scopes.
    let (_, api_key, _) = app.customer_with_key().await;
    let customer = app
        .customer(Method::POST, "/v1/releases", &api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(customer, 401, "unauthorized").await;
    let release = create_release(&app, "app", "1.0.0").await;
    let id = release["id"].as_str().unwrap();
    for action in ["publish", "unpublish"] {
        let response = app
            .customer(
                Method::POST,
                &format!("/v1/releases/{id}/{action}"),
                &api_key,
            )
            .send()
            .await
            .unwrap();
        assert_error(response, 401, "unauthorized").await;
    }
    let response = app
        .customer(Method::DELETE, &format!("/v1/releases/{id}"), &api_key)
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "unauthorized").await;
    assert_eq!(list(&app, "").await["releases"], json!([release]));
}

async fn list_filters_by_product_version_and_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(100)).await; // app 1.2.3
    create_release(&app, "app", "2.0.0").await;
    create_release(&app, "tool", "1.2.3").await;
    let tool_published = create_release(&app, "tool", "3.0.0").await;
    publish(&app, tool_published["id"].as_str().unwrap()).await;

    let all = list(&app, "").await;
    assert_eq!(
        (all["limit"].as_i64(), all["offset"].as_i64()),
        (Some(50), Some(0))
    );
    assert_eq!(
        sorted(listed(&all)),
        pairs(&[
            ("app", "1.2.3"),
            ("app", "2.0.0"),
            ("tool", "1.2.3"),
            ("tool", "3.0.0")
        ]),
        "an operator sees drafts and published releases"
    );
    for (query, expected) in [
        ("product=app", pairs(&[("app", "1.2.3"), ("app", "2.0.0")])),
        (
            "version=1.2.3",
            pairs(&[("app", "1.2.3"), ("tool", "1.2.3")]),
        ),
        (
            "status=published",
            pairs(&[("app", "1.2.3"), ("tool", "3.0.0")]),
        ),
        (
            "status=draft",
            pairs(&[("app", "2.0.0"), ("tool", "1.2.3")]),
        ),
        ("product=app&status=draft", pairs(&[("app", "2.0.0")])),
        ("product=tool&version=1.2.3", pairs(&[("tool", "1.2.3")])),
        ("product=tool&version=1.2.3&status=published", Vec::new()),
        ("product=nothing", Vec::new()),
        ("product=APP", Vec::new()),
        (
            "product=&version=&status=&include_artifacts=",
            sorted(listed(&all)),
        ),
    ] {
        assert_eq!(
            sorted(listed(&list(&app, query).await)),
            expected,
            "{query}"
        );
    }
    for release in all["releases"].as_array().unwrap() {
        let published = release["status"] == "published";
        assert_eq!(release["published_at"].is_i64(), published, "{release}");
    }

    // Artifacts only when asked for.
    for query in ["product=app", "product=app&include_artifacts=false"] {
        for release in list(&app, query).await["releases"].as_array().unwrap() {
            assert_eq!(release["artifacts"], Value::Null, "{query}");
        }
    }
    let with = list(&app, "product=app&include_artifacts=true").await;
    for release in with["releases"].as_array().unwrap() {
        let artifacts = release["artifacts"].as_array().unwrap();
        if release["version"] == "2.0.0" {
            assert!(artifacts.is_empty(), "a release without artifacts has []");
            continue;
        }
        assert_eq!(artifacts.len(), 1);
        let artifact = &artifacts[0];
        assert_eq!(
            fields(artifact),
            [
                "arch", // the release model (#14): derived from the platform, `linux-x86_64`
                "checksum",
                "created_at",
                "filetype", // and from the file name
                "id",
                "object_key",
                "os",
                "platform",
                "size",
                "verification"
            ]
        );
        assert_eq!(artifact["verification"], "verified");
        assert_eq!(artifact["id"], p.artifact_id.as_str());
        assert_eq!(artifact["object_key"], p.object_key.as_str());
        assert_eq!(artifact["checksum"], crate::flow::sha256_hex(&p.bytes));
        assert_eq!(artifact["size"], 100);
        assert_eq!(artifact["platform"], "linux-x86_64");
        assert!(artifact["created_at"].as_i64().unwrap() > 1_700_000_000);
    }
}

async fn list_pages_with_limit_and_offset(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..5 {
        create_release(&app, "app", &format!("1.0.{i}")).await;
    }
    let all = list(&app, "").await;
    let ids: Vec<&Value> = all["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids.len(), 5);

    let page = list(&app, "limit=2&offset=1").await;
    assert_eq!(
        (page["limit"].as_i64(), page["offset"].as_i64()),
        (Some(2), Some(1))
    );
    let page_ids: Vec<&Value> = page["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(
        page_ids,
        ids[1..3],
        "the page is a slice of the full listing"
    );

    let beyond = list(&app, "limit=200&offset=5").await;
    assert_eq!(beyond["releases"], json!([]));
    assert_eq!(
        (beyond["limit"].as_i64(), beyond["offset"].as_i64()),
        (Some(200), Some(5))
    );

    // Walking pages of one returns every release exactly once.
    let mut walked = HashSet::new();
    for offset in 0..5 {
        let page = list(&app, &format!("limit=1&offset={offset}")).await;
        assert_eq!(page["releases"].as_array().unwrap().len(), 1);
        walked.insert(page["releases"][0]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(walked.len(), 5);
}

async fn list_rejects_bad_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("status=archived", "status"),
        ("status=Published", "status"),
        ("include_artifacts=maybe", "include_artifacts"),
        ("include_artifacts=1", "include_artifacts"),
    ] {
        let response = app
            .admin(Method::GET, &format!("/v1/releases?{query}"))
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.starts_with(field), "{query}: {message}");
    }
}

async fn publish_and_unpublish_follow_the_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let id = release["id"].as_str().unwrap();

    let before = now();
    let published = publish(&app, id).await;
    assert_eq!(published["status"], "published");
    assert_eq!(published["id"], release["id"]);
    assert_eq!(published["created_at"], release["created_at"]);
    assert_eq!(published["artifacts"], Value::Null);
    let published_at = published["published_at"].as_i64().unwrap();
    assert!((before..=now()).contains(&published_at), "{published_at}");
    assert_eq!(list(&app, "").await["releases"][0], published);

    let again = transition(&app, id, "publish").await;
    assert_eq!(
        assert_error(again, 400, "bad_request").await,
        "release already published"
    );

    let unpublished = ok_json(transition(&app, id, "unpublish").await).await;
    assert_eq!(unpublished["status"], "draft");
    assert_eq!(unpublished["published_at"], Value::Null);
    assert_eq!(unpublished["created_at"], release["created_at"]);
    assert_eq!(list(&app, "").await["releases"][0], unpublished);

    let again = transition(&app, id, "unpublish").await;
    assert_eq!(
        assert_error(again, 400, "bad_request").await,
        "release already draft"
    );

    // A draft can be published again.
    assert_eq!(publish(&app, id).await["status"], "published");
}

async fn unknown_and_malformed_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for action in ["publish", "unpublish"] {
        let response = transition(&app, &unknown, action).await;
        assert_eq!(
            assert_error(response, 404, "not_found").await,
            "release not found",
            "{action}"
        );
        let response = transition(&app, "not-a-uuid", action).await;
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.starts_with("release_id"), "{action}: {message}");
    }
    let response = app
        .admin(Method::DELETE, &format!("/v1/releases/{unknown}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, 404, "not_found").await,
        "release not found"
    );
    let response = app
        .admin(Method::DELETE, "/v1/releases/12345")
        .send()
        .await
        .unwrap();
    let message = assert_error(response, 400, "bad_request").await;
    assert!(message.starts_with("release_id"), "{message}");
}

async fn delete_removes_the_release(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doomed = create_release(&app, "app", "1.0.0").await;
    let kept = create_release(&app, "app", "2.0.0").await;
    let id = doomed["id"].as_str().unwrap();
    let deleted = app
        .admin(Method::DELETE, &format!("/v1/releases/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty(), "204 has no body");
    assert_eq!(list(&app, "").await["releases"], json!([kept]));
    let again = app
        .admin(Method::DELETE, &format!("/v1/releases/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(again, 404, "not_found").await,
        "release not found"
    );
    let publish_gone = transition(&app, id, "publish").await;
    assert_eq!(
        assert_error(publish_gone, 404, "not_found").await,
        "release not found"
    );
    // The product and version are free again.
    create_release(&app, "app", "1.0.0").await;
}

/// Fires 8 concurrent `action` requests at one release and checks exactly one wins
/// while every loser gets `lost_message` (400) or the 409 retry answer.
async fn race(app: &TestApp, release_id: &str, action: &str, lost_message: &str) -> Value {
    let requests = (0..8).map(|_| {
        app.admin(Method::POST, &format!("/v1/releases/{release_id}/{action}"))
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut winners = Vec::new();
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            200 => winners.push(response.json::<Value>().await.unwrap()),
            400 => assert_eq!(
                assert_error(response, 400, "bad_request").await,
                lost_message
            ),
            409 => assert_eq!(
                assert_error(response, 409, "conflict").await,
                "release status changed, retry"
            ),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one {action} wins: {winners:?}");
    winners.remove(0)
}

async fn racing_publishes_have_one_winner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let id = release["id"].as_str().unwrap();
    let winner = race(&app, id, "publish", "release already published").await;
    assert_eq!(winner["status"], "published");
    let current = &list(&app, "").await["releases"][0];
    assert_eq!(current["status"], "published");
    assert_eq!(current["published_at"], winner["published_at"]);
}

async fn racing_unpublishes_have_one_winner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let id = release["id"].as_str().unwrap();
    publish(&app, id).await;
    let winner = race(&app, id, "unpublish", "release already draft").await;
    assert_eq!(winner["status"], "draft");
    assert_eq!(winner["published_at"], Value::Null);
    let current = &list(&app, "").await["releases"][0];
    assert_eq!(current["status"], "draft");
    assert_eq!(current["published_at"], Value::Null);
}

async fn create_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let create = |key: &str, body: Value| {
        app.admin(Method::POST, "/v1/releases")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let body = json!({"product": "app", "version": "1.0.0"});
    let first = create("release-1", body.clone()).await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    let replay = create("release-1", body.clone()).await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_eq!(
        list(&app, "").await["releases"].as_array().unwrap().len(),
        1,
        "one release"
    );

    let conflict = create("release-1", json!({"product": "app", "version": "2.0.0"}))
        .await
        .unwrap();
    assert_error(conflict, 409, "idempotency_conflict").await;

    // Another key with the same body is a new request: the duplicate rule applies.
    let duplicate = create("release-2", body).await.unwrap();
    assert_eq!(
        assert_error(duplicate, 409, "conflict").await,
        "release already exists"
    );
    assert_eq!(list(&app, "").await["releases"], json!([first]));
}

on_both_backends!(
    create_returns_a_draft,
    a_duplicate_product_and_version_is_409,
    create_validates_the_body,
    create_needs_operator_credentials,
    list_filters_by_product_version_and_status,
    list_pages_with_limit_and_offset,
    list_rejects_bad_parameters,
    publish_and_unpublish_follow_the_lifecycle,
    unknown_and_malformed_ids,
    delete_removes_the_release,
    racing_publishes_have_one_winner,
    racing_unpublishes_have_one_winner,
    create_is_idempotent,
);
