//! `/v1/admin/customers`: create, list (offset and cursor), get, update, and the admin
//! credentials that guard them.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, assert_error};
use crate::on_both_backends;

async fn create_returns_the_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("  Acme  ", Some("core")).await;
    assert_eq!(customer["name"], "Acme");
    assert_eq!(customer["plan"], "core");
    assert_eq!(customer["suspended_at"], Value::Null);
    assert!(customer["created_at"].as_i64().unwrap() > 1_700_000_000);
    uuid::Uuid::parse_str(customer["id"].as_str().unwrap()).unwrap();

    let fetched: Value = app
        .admin(
            Method::GET,
            &format!("/v1/admin/customers/{}", customer["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, customer);
}

async fn create_validates_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"name": "Acme", "plan": "p".repeat(65)}), "plan"),
    ] {
        let response = app
            .admin(Method::POST, "/v1/admin/customers")
            .json(&body)
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.starts_with(field), "{body}: {message}");
    }
}

async fn admin_credentials_are_required(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"name": "Acme"});
    let none = app
        .client
        .post(app.url("/v1/admin/customers"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(none, 401, "unauthorized").await;
    let wrong = app
        .client
        .post(app.url("/v1/admin/customers"))
        .header("x-releasy-admin-key", "nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
    // A customer key is no admin credential.
    let (_, api_key, _) = app.customer_with_key().await;
    let customer_key = app
        .customer(Method::POST, "/v1/admin/customers", &api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(customer_key, 401, "unauthorized").await;
    // The admin key also works as a bearer token (it has no dots, so it is no JWT).
    let bearer = app
        .client
        .post(app.url("/v1/admin/customers"))
        .bearer_auth(ADMIN_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    // The admin-key header is checked first, even beside a valid bearer value.
    let header_first = app
        .client
        .post(app.url("/v1/admin/customers"))
        .header("x-releasy-admin-key", "wrong")
        .bearer_auth(ADMIN_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(header_first, 401, "unauthorized").await;
    // A JWT-shaped bearer value is not an admin key, and JWTs are not enabled here.
    let jwt = app
        .client
        .get(app.url("/v1/admin/customers"))
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    assert_error(jwt, 401, "unauthorized").await;
}

async fn get_unknown_customer_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .admin(
            Method::GET,
            &format!("/v1/admin/customers/{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, 404, "not_found").await,
        "customer not found"
    );
}

async fn update_changes_only_what_is_given(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", Some("core")).await;
    let path = format!("/v1/admin/customers/{}", customer["id"].as_str().unwrap());
    let patch = |body: Value| app.admin(Method::PATCH, &path).json(&body).send();

    let renamed: Value = patch(json!({"name": "Acme Corp", "plan": "enterprise"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (renamed["name"].as_str(), renamed["plan"].as_str()),
        (Some("Acme Corp"), Some("enterprise"))
    );
    assert_eq!(renamed["created_at"], customer["created_at"]);

    let suspended: Value = patch(json!({"suspended": true}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        suspended["suspended_at"].as_i64().unwrap() >= customer["created_at"].as_i64().unwrap()
    );
    assert_eq!(suspended["name"], "Acme Corp");

    let resumed: Value = patch(json!({"suspended": false, "plan": null}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["suspended_at"], Value::Null);
    assert_eq!(resumed["plan"], Value::Null);
    assert_eq!(resumed["name"], "Acme Corp");
}

/// A blank plan is no plan, as the reference server reads it: none at creation, and
/// removed by a `PATCH`.
async fn a_blank_plan_is_no_plan(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for blank in ["", "   "] {
        let created = app
            .admin(Method::POST, "/v1/admin/customers")
            .json(&json!({"name": "Acme", "plan": blank}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 200);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["plan"], Value::Null, "{blank:?}");
    }
    let customer = app.create_customer("Acme", Some("core")).await;
    let path = format!("/v1/admin/customers/{}", customer["id"].as_str().unwrap());
    let updated = app
        .admin(Method::PATCH, &path)
        .json(&json!({"plan": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["plan"], Value::Null);
    let trimmed = app
        .admin(Method::PATCH, &path)
        .json(&json!({"plan": " enterprise "}))
        .send()
        .await
        .unwrap();
    let trimmed: Value = trimmed.json().await.unwrap();
    assert_eq!(trimmed["plan"], "enterprise");
}

async fn update_validates_and_404s(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let path = format!("/v1/admin/customers/{}", customer["id"].as_str().unwrap());
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"plan": "p".repeat(65)}),
        json!({"suspended": "yes"}),
    ] {
        let response = app
            .admin(Method::PATCH, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "bad_request").await;
    }
    let unknown = app
        .admin(
            Method::PATCH,
            &format!("/v1/admin/customers/{}", uuid::Uuid::new_v4()),
        )
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "not_found").await;
}

async fn list(app: &TestApp, query: &str) -> Value {
    app.admin_get_json(&format!("/v1/admin/customers?{query}"))
        .await
}

fn names(page: &Value) -> Vec<String> {
    page["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn list_filters_and_echoes_paging(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_customer("Acme Rockets", Some("Core")).await;
    app.create_customer("Globex", Some("enterprise")).await;
    app.create_customer("100% Real_Co", None).await;

    let all = list(&app, "").await;
    assert_eq!(
        (all["limit"].as_i64(), all["offset"].as_i64()),
        (Some(50), Some(0))
    );
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(names(&all).len(), 3);

    assert_eq!(names(&list(&app, "name=ROCKET").await), ["Acme Rockets"]);
    assert_eq!(
        names(&list(&app, "name=%25").await),
        ["100% Real_Co"],
        "% matches literally"
    );
    assert_eq!(
        names(&list(&app, "name=l_c").await),
        ["100% Real_Co"],
        "_ matches literally"
    );
    assert_eq!(names(&list(&app, "plan=core").await), ["Acme Rockets"]);
    assert!(
        names(&list(&app, "plan=cor").await).is_empty(),
        "plan matches exactly"
    );
    let by_id = list(
        &app,
        &format!("customer_id={}", acme["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(names(&by_id), ["Acme Rockets"]);
    assert_eq!(
        names(&list(&app, "name=&plan=").await).len(),
        3,
        "empty filters are ignored"
    );

    let paged = list(&app, "limit=2&offset=1").await;
    assert_eq!(
        (paged["limit"].as_i64(), paged["offset"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(names(&paged).len(), 2);
    assert_eq!(paged["next_cursor"], Value::Null);
}

async fn list_rejects_bad_paging(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customer("A", None).await;
    app.create_customer("B", None).await;
    let first = list(&app, "limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    for query in [
        "limit=0".to_owned(),
        "limit=201".to_owned(),
        "cursor=garbage".to_owned(),
        format!("cursor={cursor}&offset=0"),
        "customer_id=nope".to_owned(),
    ] {
        let response = app
            .admin(Method::GET, &format!("/v1/admin/customers?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "bad_request").await;
    }
}

async fn cursor_walk_returns_each_customer_once_while_customers_are_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut existing = HashSet::new();
    for i in 0..23 {
        let customer = app.create_customer(&format!("customer-{i}"), None).await;
        existing.insert(customer["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=5&cursor={}", urlencode(c)),
            None => "limit=5".to_owned(),
        };
        let page = list(&app, &query).await;
        assert_eq!(page["offset"], 0);
        seen.extend(
            page["customers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        // Customers created mid-walk are newer than the cursor: they never shift the walk.
        app.create_customer(&format!("late-{pages}"), None).await;
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 20, "the walk ends");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no customer is returned twice");
    for id in &existing {
        assert!(unique.contains(id), "every existing customer is returned");
    }
    // 23 existing customers need at least 5 pages of 5; customers created in the same
    // second as a cursor but sorting after it may add a page, and appear exactly once too.
    assert!(pages >= 5, "{pages} pages");
}

fn urlencode(value: &str) -> String {
    value
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

async fn create_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let create = |key: &str, body: Value| {
        app.admin(Method::POST, "/v1/admin/customers")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = create("key-1", json!({"name": "Acme"})).await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let replay = create("key-1", json!({"name": "Acme"})).await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_eq!(
        names(&list(&app, "").await),
        ["Acme"],
        "nothing was created twice"
    );

    let conflict = create("key-1", json!({"name": "Globex"})).await.unwrap();
    assert_error(conflict, 409, "idempotency_conflict").await;

    let invalid = create(&"k".repeat(129), json!({"name": "Acme"}))
        .await
        .unwrap();
    assert_error(invalid, 400, "bad_request").await;

    // A request that fails creates nothing and leaves the key free for a corrected retry.
    let failed = create("key-2", json!({"name": ""})).await.unwrap();
    assert_error(failed, 400, "bad_request").await;
    let retried = create("key-2", json!({"name": "Initech"})).await.unwrap();
    assert_eq!(retried.status(), 200);
}

async fn concurrent_duplicates_create_exactly_one_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let requests = (0..12).map(|_| {
        app.admin(Method::POST, "/v1/admin/customers")
            .header("Idempotency-Key", "burst")
            .json(&json!({"name": "Burst"}))
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = HashSet::new();
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            200 => {
                ids.insert(
                    response.json::<Value>().await.unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            409 => {
                assert_error(response, 409, "idempotency_in_progress").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ids.len(), 1, "every success is the same customer");
    assert_eq!(
        names(&list(&app, "name=Burst").await),
        ["Burst"],
        "exactly one row"
    );
}

on_both_backends!(
    create_returns_the_customer,
    create_validates_every_field,
    admin_credentials_are_required,
    get_unknown_customer_is_404,
    update_changes_only_what_is_given,
    a_blank_plan_is_no_plan,
    update_validates_and_404s,
    list_filters_and_echoes_paging,
    list_rejects_bad_paging,
    cursor_walk_returns_each_customer_once_while_customers_are_created,
    create_is_idempotent,
    concurrent_duplicates_create_exactly_one_customer,
);
