//! `/v1/admin/customers/{customer_id}/entitlements`: list, create, update, delete,
//! validation of the window and metadata, and idempotent creation.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{now, ok_json};

fn path(customer_id: &str) -> String {
    format!("/v1/admin/customers/{customer_id}/entitlements")
}

/// `POST` an entitlement with `body` for the customer.
pub async fn create_request(app: &TestApp, customer_id: &str, body: &Value) -> reqwest::Response {
    app.admin(Method::POST, &path(customer_id))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Grants the customer an entitlement; returns its JSON.
pub async fn grant(app: &TestApp, customer_id: &str, body: Value) -> Value {
    ok_json(create_request(app, customer_id, &body).await).await
}

async fn patch(app: &TestApp, customer_id: &str, id: &str, body: Value) -> reqwest::Response {
    app.admin(Method::PATCH, &format!("{}/{id}", path(customer_id)))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, customer_id: &str, id: &str) -> reqwest::Response {
    app.admin(Method::DELETE, &format!("{}/{id}", path(customer_id)))
        .send()
        .await
        .unwrap()
}

async fn list(app: &TestApp, customer_id: &str, query: &str) -> Value {
    app.admin_get_json(&format!("{}?{query}", path(customer_id)))
        .await
}

fn ids(page: &Value) -> Vec<String> {
    page["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn id(entitlement: &Value) -> &str {
    entitlement["id"].as_str().unwrap()
}

async fn customer(app: &TestApp, name: &str) -> String {
    app.create_customer(name, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits for the next wall-clock second, so rows created after it sort as newer.
async fn next_second() {
    let start = now();
    while now() == start {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create_returns_the_entitlement(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer_id = customer(&app, "Acme").await;
    let created = grant(
        &app,
        &customer_id,
        json!({
            "product": "releasy-server",
            "starts_at": 0,
            "ends_at": null,
            "metadata": {"seats": 5, "tier": {"name": "gold"}},
        }),
    )
    .await;
    let entitlement_id = id(&created).to_owned();
    uuid::Uuid::parse_str(&entitlement_id).unwrap();
    assert_eq!(
        created,
        json!({
            "id": entitlement_id,
            "customer_id": customer_id,
            "product": "releasy-server",
            "starts_at": 0,
            "ends_at": null,
            "metadata": {"seats": 5, "tier": {"name": "gold"}},
        })
    );
    assert_eq!(
        list(&app, &customer_id, "").await["entitlements"],
        json!([created])
    );

    // Optional fields may be left out; an end equal to the start is allowed.
    let minimal = grant(
        &app,
        &customer_id,
        json!({"product": "other", "starts_at": 100, "ends_at": 100}),
    )
    .await;
    assert_eq!(
        (
            minimal["starts_at"].as_i64(),
            minimal["ends_at"].as_i64(),
            &minimal["metadata"]
        ),
        (Some(100), Some(100), &Value::Null)
    );
    let empty_metadata = grant(
        &app,
        &customer_id,
        json!({"product": "third", "starts_at": 0, "metadata": {}}),
    )
    .await;
    assert_eq!(empty_metadata["metadata"], json!({}));
}

async fn create_validates_the_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer_id = customer(&app, "Acme").await;
    for (body, field) in [
        (json!({"product": "app", "starts_at": -1}), "starts_at"),
        (
            json!({"product": "app", "starts_at": 100, "ends_at": 99}),
            "ends_at",
        ),
        (
            json!({"product": "app", "starts_at": 0, "metadata": [1]}),
            "metadata",
        ),
        (
            json!({"product": "app", "starts_at": 0, "metadata": "x"}),
            "metadata",
        ),
        (
            json!({"product": "app", "starts_at": 0, "metadata": 5}),
            "metadata",
        ),
        (json!({"product": "", "starts_at": 0}), "product"),
        (json!({"product": "  ", "starts_at": 0}), "product"),
        (json!({"product": "app"}), "starts_at"),
        (json!({"starts_at": 0}), "product"),
        (json!({"product": "app", "starts_at": "0"}), "starts_at"),
        (json!({"product": "app", "starts_at": 1.5}), "starts_at"),
        (json!({"product": "app", "starts_at": null}), "starts_at"),
        (
            json!({"product": "app", "starts_at": 0, "ends_at": "never"}),
            "ends_at",
        ),
    ] {
        let response = create_request(&app, &customer_id, &body).await;
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    assert_eq!(
        list(&app, &customer_id, "").await["entitlements"],
        json!([])
    );
}

async fn an_unknown_customer_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let listed = app
        .admin(Method::GET, &path(&unknown))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(listed, 404, "not_found").await,
        "customer not found"
    );
    let created = create_request(&app, &unknown, &json!({"product": "app", "starts_at": 0})).await;
    assert_eq!(
        assert_error(created, 404, "not_found").await,
        "customer not found"
    );
    let entitlement = uuid::Uuid::new_v4().to_string();
    let patched = patch(&app, &unknown, &entitlement, json!({"product": "x"})).await;
    assert_eq!(
        assert_error(patched, 404, "not_found").await,
        "customer not found"
    );
    let deleted = delete(&app, &unknown, &entitlement).await;
    assert_eq!(
        assert_error(deleted, 404, "not_found").await,
        "customer not found"
    );
    let malformed = app.admin(Method::GET, &path("acme")).send().await.unwrap();
    let message = assert_error(malformed, 400, "bad_request").await;
    assert!(message.starts_with("customer_id"), "{message}");
}

async fn list_is_newest_first_and_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer_id = customer(&app, "Acme").await;
    let other_customer = customer(&app, "Globex").await;
    assert_eq!(
        list(&app, &customer_id, "").await,
        json!({"entitlements": [], "limit": 50, "offset": 0})
    );

    let first = grant(
        &app,
        &customer_id,
        json!({"product": "app", "starts_at": 0}),
    )
    .await;
    next_second().await;
    let second = grant(
        &app,
        &customer_id,
        json!({"product": "tool", "starts_at": 0}),
    )
    .await;
    next_second().await;
    let third = grant(
        &app,
        &customer_id,
        json!({"product": "app", "starts_at": 5}),
    )
    .await;
    grant(
        &app,
        &other_customer,
        json!({"product": "app", "starts_at": 0}),
    )
    .await;

    let all = list(&app, &customer_id, "").await;
    assert_eq!(ids(&all), [id(&third), id(&second), id(&first)]);
    assert_eq!(all["entitlements"], json!([third, second, first]));

    assert_eq!(
        ids(&list(&app, &customer_id, "product=app").await),
        [id(&third), id(&first)]
    );
    assert_eq!(
        ids(&list(&app, &customer_id, "product=tool").await),
        [id(&second)]
    );
    assert!(ids(&list(&app, &customer_id, "product=none").await).is_empty());
    assert_eq!(
        ids(&list(&app, &customer_id, "product=").await).len(),
        3,
        "an empty filter is ignored"
    );

    let page = list(&app, &customer_id, "limit=1&offset=1").await;
    assert_eq!(
        (page["limit"].as_i64(), page["offset"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(ids(&page), [id(&second)]);
    let page = list(&app, &customer_id, "limit=2&offset=2").await;
    assert_eq!(ids(&page), [id(&first)]);
    assert!(ids(&list(&app, &customer_id, "offset=3").await).is_empty());

    for query in ["limit=0", "limit=201", "offset=-1", "limit=x"] {
        let response = app
            .admin(Method::GET, &format!("{}?{query}", path(&customer_id)))
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "bad_request").await;
    }
}

async fn update_changes_and_clears_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer_id = customer(&app, "Acme").await;
    let created = grant(
        &app,
        &customer_id,
        json!({"product": "app", "starts_at": 10, "ends_at": 100, "metadata": {"seats": 1}}),
    )
    .await;
    let eid = id(&created).to_owned();

    let renamed = ok_json(patch(&app, &customer_id, &eid, json!({"product": "tool"})).await).await;
    let mut expected = created.clone();
    expected["product"] = json!("tool");
    assert_eq!(renamed, expected, "only the product changed");

    let ends_cleared =
        ok_json(patch(&app, &customer_id, &eid, json!({"ends_at": null})).await).await;
    expected["ends_at"] = Value::Null;
    assert_eq!(ends_cleared, expected);

    let metadata_cleared =
        ok_json(patch(&app, &customer_id, &eid, json!({"metadata": null})).await).await;
    expected["metadata"] = Value::Null;
    assert_eq!(metadata_cleared, expected);

    let reset = ok_json(
        patch(
            &app,
            &customer_id,
            &eid,
            json!({"starts_at": 0, "ends_at": 100, "metadata": {"seats": 2}}),
        )
        .await,
    )
    .await;
    expected["starts_at"] = json!(0);
    expected["ends_at"] = json!(100);
    expected["metadata"] = json!({"seats": 2});
    assert_eq!(reset, expected);

    // An empty change leaves everything as it was.
    let unchanged = ok_json(patch(&app, &customer_id, &eid, json!({})).await).await;
    assert_eq!(unchanged, expected);

    // The stored row is what the last answer said.
    assert_eq!(
        list(&app, &customer_id, "").await["entitlements"],
        json!([expected])
    );
}

async fn update_validates_the_merged_result(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer_id = customer(&app, "Acme").await;
    let created = grant(
        &app,
        &customer_id,
        json!({"product": "app", "starts_at": 0, "ends_at": 100}),
    )
    .await;
    let eid = id(&created).to_owned();
    for (body, field) in [
        (json!({"starts_at": 500}), "ends_at"),
        (json!({"ends_at": 0, "starts_at": 1}), "ends_at"),
        (json!({"starts_at": -1}), "starts_at"),
        (json!({"product": ""}), "product"),
        (json!({"metadata": [1]}), "metadata"),
        (json!({"metadata": "x"}), "metadata"),
        (json!({"starts_at": "5"}), "starts_at"),
    ] {
        let response = patch(&app, &customer_id, &eid, body.clone()).await;
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    // Moving the start past the old end works when the end moves too, or is cleared.
    let moved = ok_json(
        patch(
            &app,
            &customer_id,
            &eid,
            json!({"starts_at": 500, "ends_at": null}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (moved["starts_at"].as_i64(), &moved["ends_at"]),
        (Some(500), &Value::Null)
    );
}

async fn unknown_and_foreign_entitlements_are_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer_id = customer(&app, "Acme").await;
    let other_customer = customer(&app, "Globex").await;
    let foreign = grant(
        &app,
        &other_customer,
        json!({"product": "app", "starts_at": 0}),
    )
    .await;
    for eid in [uuid::Uuid::new_v4().to_string(), id(&foreign).to_owned()] {
        let patched = patch(&app, &customer_id, &eid, json!({"product": "x"})).await;
        assert_eq!(
            assert_error(patched, 404, "not_found").await,
            "entitlement not found"
        );
        let deleted = delete(&app, &customer_id, &eid).await;
        assert_eq!(
            assert_error(deleted, 404, "not_found").await,
            "entitlement not found"
        );
    }
    // The other customer's entitlement is untouched.
    assert_eq!(
        list(&app, &other_customer, "").await["entitlements"],
        json!([foreign])
    );
    let malformed = patch(&app, &customer_id, "nope", json!({"product": "x"})).await;
    let message = assert_error(malformed, 400, "bad_request").await;
    assert!(message.starts_with("entitlement_id"), "{message}");
}

async fn delete_removes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer_id = customer(&app, "Acme").await;
    let doomed = grant(
        &app,
        &customer_id,
        json!({"product": "app", "starts_at": 0}),
    )
    .await;
    let kept = grant(
        &app,
        &customer_id,
        json!({"product": "tool", "starts_at": 0}),
    )
    .await;
    let deleted = delete(&app, &customer_id, id(&doomed)).await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty());
    let again = delete(&app, &customer_id, id(&doomed)).await;
    assert_eq!(
        assert_error(again, 404, "not_found").await,
        "entitlement not found"
    );
    let patched = patch(&app, &customer_id, id(&doomed), json!({"product": "x"})).await;
    assert_eq!(
        assert_error(patched, 404, "not_found").await,
        "entitlement not found"
    );
    assert_eq!(
        list(&app, &customer_id, "").await["entitlements"],
        json!([kept])
    );
}

async fn create_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer_id = customer(&app, "Acme").await;
    let other_customer = customer(&app, "Globex").await;
    let send = |customer: &str, key: &str, body: Value| {
        app.admin(Method::POST, &path(customer))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let body = json!({"product": "app", "starts_at": 0, "metadata": {"seats": 3}});
    let first = ok_json(send(&customer_id, "grant-1", body.clone()).await.unwrap()).await;
    let replay = send(&customer_id, "grant-1", body.clone()).await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_eq!(
        list(&app, &customer_id, "").await["entitlements"],
        json!([first]),
        "one row"
    );

    let conflict = send(
        &customer_id,
        "grant-1",
        json!({"product": "app", "starts_at": 1}),
    )
    .await
    .unwrap();
    assert_error(conflict, 409, "idempotency_conflict").await;

    // The same key under another customer is another request.
    let elsewhere = ok_json(send(&other_customer, "grant-1", body).await.unwrap()).await;
    assert_eq!(elsewhere["customer_id"], other_customer.as_str());
    assert_eq!(
        list(&app, &customer_id, "").await["entitlements"],
        json!([first])
    );
}

on_both_backends!(
    create_returns_the_entitlement,
    create_validates_the_body,
    an_unknown_customer_is_404,
    list_is_newest_first_and_filters_and_pages,
    update_changes_and_clears_fields,
    update_validates_the_merged_result,
    unknown_and_foreign_entitlements_are_404,
    delete_removes_it,
    create_is_idempotent,
);
