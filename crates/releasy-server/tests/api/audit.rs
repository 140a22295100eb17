//! `GET /v1/admin/audit-events`: order, filters, inclusive time bounds, paging, query
//! validation and the admin credentials that guard it. Events are produced the way the
//! server produces them: customer-key authentication attempts (`actor=api_key`), and
//! the changes that set the customers and keys up (`actor=admin_key`, see
//! `change_events.rs`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{ADMIN_KEY, Backend, TestApp, assert_error};
use crate::on_both_backends;

const AUDIT: &str = "/v1/admin/audit-events";

/// Sleeps into the next wall-clock second, so later events get a later `created_at`.
async fn next_second() {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1000;
    let wait = 1000 - u64::try_from(millis).unwrap() + 50;
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// One authentication attempt with `api_key` (`None`: no header), which leaves one event.
async fn attempt(app: &TestApp, api_key: Option<&str>) {
    let request = app.client.post(app.url("/v1/auth/introspect"));
    let request = match api_key {
        Some(key) => request.header("x-releasy-api-key", key),
        None => request,
    };
    request.send().await.unwrap();
}

async fn list(app: &TestApp, query: &str) -> Value {
    app.admin_get_json(&format!("{AUDIT}?{query}")).await
}

fn events(page: &Value) -> &Vec<Value> {
    page["events"].as_array().unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    events(page)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn customer_ids(page: &Value) -> Vec<Value> {
    events(page)
        .iter()
        .map(|e| e["customer_id"].clone())
        .collect()
}

async fn lists_newest_first_with_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (acme, acme_key, acme_key_id) = app.customer_with_key().await;
    let (globex, globex_key, _) = app.customer_with_key().await;
    attempt(&app, Some(&acme_key)).await;
    next_second().await;
    attempt(&app, Some(&globex_key)).await;
    next_second().await;
    attempt(&app, None).await;

    let page = list(&app, "actor=api_key").await;
    assert_eq!(
        (page["limit"].as_i64(), page["offset"].as_i64()),
        (Some(50), Some(0))
    );
    assert_eq!(
        customer_ids(&page),
        [Value::Null, Value::from(globex), Value::from(acme.clone())],
        "newest first"
    );
    let times: Vec<i64> = events(&page)
        .iter()
        .map(|e| e["created_at"].as_i64().unwrap())
        .collect();
    assert!(times[0] > times[1] && times[1] > times[2], "{times:?}");

    let oldest = &events(&page)[2];
    let mut fields: Vec<&str> = oldest
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "actor",
            "created_at",
            "customer_id",
            "event",
            "id",
            "payload"
        ]
    );
    uuid::Uuid::parse_str(oldest["id"].as_str().unwrap()).unwrap();
    assert_eq!(oldest["customer_id"], acme.as_str());
    assert_eq!(oldest["actor"], "api_key");
    assert_eq!(oldest["event"], "api_key.auth");
    assert_eq!(
        oldest["payload"],
        serde_json::json!({
            "outcome": "accept",
            "reason": "ok",
            "api_key_id": acme_key_id,
            "client_address": "127.0.0.1",
        })
    );
    assert!(oldest["created_at"].as_i64().unwrap() > 1_700_000_000);
}

async fn filters_by_customer_actor_and_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (acme, acme_key, _) = app.customer_with_key().await;
    let (globex, globex_key, _) = app.customer_with_key().await;
    attempt(&app, Some(&acme_key)).await;
    attempt(&app, Some(&acme_key)).await;
    attempt(&app, Some(&globex_key)).await;
    attempt(&app, None).await;

    let by_acme = list(&app, &format!("customer_id={acme}&actor=api_key")).await;
    assert_eq!(
        customer_ids(&by_acme),
        [Value::from(acme.clone()), Value::from(acme.clone())]
    );
    let by_globex = list(&app, &format!("customer_id={globex}&actor=api_key")).await;
    assert_eq!(customer_ids(&by_globex), [Value::from(globex.clone())]);
    let nobody = list(&app, &format!("customer_id={}", uuid::Uuid::new_v4())).await;
    assert!(events(&nobody).is_empty());

    assert_eq!(events(&list(&app, "actor=api_key").await).len(), 4);
    assert!(events(&list(&app, "actor=admin").await).is_empty());
    assert!(
        events(&list(&app, "actor=API_KEY").await).is_empty(),
        "actor matches exactly"
    );
    assert_eq!(events(&list(&app, "event=api_key.auth").await).len(), 4);
    assert!(
        events(&list(&app, "event=api_key").await).is_empty(),
        "event matches exactly"
    );

    let combined = list(
        &app,
        &format!("customer_id={globex}&actor=api_key&event=api_key.auth"),
    )
    .await;
    assert_eq!(customer_ids(&combined), [Value::from(globex)]);
    let created = list(&app, &format!("customer_id={acme}&event=customer.created")).await;
    assert_eq!(customer_ids(&created), [Value::from(acme.clone())]);
    let contradicting = list(
        &app,
        &format!("customer_id={acme}&event=customer.suspended"),
    )
    .await;
    assert!(events(&contradicting).is_empty());

    // Empty filter values are ignored.
    let empty = list(
        &app,
        "customer_id=&actor=&event=&created_from=&created_to=&limit=&offset=",
    )
    .await;
    // Four attempts, and each customer's `customer.created` and `key.created`.
    assert_eq!(events(&empty).len(), 8);
    assert_eq!(
        (empty["limit"].as_i64(), empty["offset"].as_i64()),
        (Some(50), Some(0))
    );
}

async fn time_bounds_are_inclusive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, _) = app.customer_with_key().await;
    attempt(&app, Some(&api_key)).await;
    let page = list(&app, "").await;
    let event = &events(&page)[0];
    let id = event["id"].as_str().unwrap().to_owned();
    let at = event["created_at"].as_i64().unwrap();

    for (query, included) in [
        (format!("created_from={at}&created_to={at}"), true),
        (format!("created_from={at}"), true),
        (format!("created_to={at}"), true),
        (
            format!("created_from={}&created_to={}", at - 1, at + 1),
            true,
        ),
        (format!("created_from={}", at + 1), false),
        (format!("created_to={}", at - 1), false),
        (
            format!("created_from={}&created_to={}", at + 1, at - 1),
            false,
        ),
    ] {
        let found = ids(&list(&app, &query).await).contains(&id);
        assert_eq!(found, included, "{query}");
    }
}

async fn limit_and_offset_are_applied_and_echoed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, _) = app.customer_with_key().await;
    for _ in 0..5 {
        attempt(&app, Some(&api_key)).await;
    }
    let list = async |query: &str| list(&app, &format!("actor=api_key&{query}")).await;
    let all = ids(&list("").await);
    assert_eq!(all.len(), 5);

    let first = list("limit=2").await;
    assert_eq!(
        (first["limit"].as_i64(), first["offset"].as_i64()),
        (Some(2), Some(0))
    );
    let second = list("limit=2&offset=2").await;
    assert_eq!(
        (second["limit"].as_i64(), second["offset"].as_i64()),
        (Some(2), Some(2))
    );
    let third = list("limit=2&offset=4").await;
    assert_eq!(ids(&third).len(), 1);
    let walked: Vec<String> = [first, second, third].iter().flat_map(ids).collect();
    assert_eq!(walked, all, "pages follow the listing's order");

    let past_the_end = list("offset=10").await;
    assert!(events(&past_the_end).is_empty());
    assert_eq!(past_the_end["offset"], 10);
    let widest = list("limit=200").await;
    assert_eq!(
        (widest["limit"].as_i64(), events(&widest).len()),
        (Some(200), 5)
    );
    assert_eq!(ids(&list("limit=1").await), all[..1]);
}

async fn rejects_bad_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("created_from=yesterday", "created_from"),
        ("created_from=1.5", "created_from"),
        ("created_to=tomorrow", "created_to"),
        ("created_from=-1", "created_from"),
        ("created_to=-1700000000", "created_to"),
        ("created_to=253402300800", "created_to"),
        ("created_from=9223372036854775808", "created_from"),
        ("customer_id=not-a-uuid", "customer_id"),
    ] {
        let response = app
            .admin(Method::GET, &format!("{AUDIT}?{query}"))
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.starts_with(field), "{query}: {message}");
    }
}

async fn admin_credentials_are_required(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, _) = app.customer_with_key().await;
    let none = app.client.get(app.url(AUDIT)).send().await.unwrap();
    assert_error(none, 401, "unauthorized").await;
    let wrong = app
        .client
        .get(app.url(AUDIT))
        .header("x-releasy-admin-key", "not-the-admin-key")
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
    // A customer key, even one holding `audit:read`, is no admin credential.
    let customer = app
        .customer(Method::GET, AUDIT, &api_key)
        .send()
        .await
        .unwrap();
    assert_error(customer, 401, "unauthorized").await;
    // The admin key as a bearer token works.
    let bearer = app
        .client
        .get(app.url(AUDIT))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    // Refused requests leave no customer-key event: only operator auth ran.
    let page = list(&app, "actor=api_key").await;
    assert!(events(&page).is_empty(), "{page}");
}

on_both_backends!(
    lists_newest_first_with_every_field,
    filters_by_customer_actor_and_event,
    time_bounds_are_inclusive,
    limit_and_offset_are_applied_and_echoed,
    rejects_bad_parameters,
    admin_credentials_are_required,
);
