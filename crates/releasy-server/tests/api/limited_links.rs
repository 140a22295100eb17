//! N-use download links: `max_uses` on `POST /v1/downloads/token`; a resolve past the
//! limit is 404 `download token used up`, exactly `max_uses` resolves succeed even when
//! several instances answer them at once, and refusals are audited.

use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{Published, artifact_bytes, follow_link, limited_link, publish_one_artifact};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;

async fn token_request(app: &TestApp, p: &Published, body: Value) -> reqwest::Response {
    app.customer(Method::POST, "/v1/downloads/token", &p.api_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn a_single_use_link_works_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(2_000)).await;
    let url = limited_link(&app, &p, 1).await;

    let first = follow_link(&app, &url).await;
    assert_eq!(first.status(), 302);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let bytes = app
        .client
        .get(&location)
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    assert_eq!(bytes.unwrap().as_ref(), p.bytes.as_slice());

    for _ in 0..2 {
        let message = assert_error(follow_link(&app, &url).await, 404, "not_found").await;
        assert_eq!(message, "download token used up");
    }
    let refusals = app.audit_events("event=download.refused").await;
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(refusals.iter().all(|e| e["payload"]["reason"] == "used_up"));
    assert_eq!(
        refusals[0]["payload"]["artifact_id"],
        p.artifact_id.as_str()
    );

    // Without max_uses the answer is what it always was, and the link is not limited.
    let open = token_request(&app, &p, json!({"artifact_id": p.artifact_id})).await;
    let open: Value = open.json().await.unwrap();
    let mut fields: Vec<&String> = open.as_object().unwrap().keys().collect();
    fields.sort_unstable();
    assert_eq!(fields, ["download_url", "expires_at"]);
    for _ in 0..3 {
        let response = follow_link(&app, open["download_url"].as_str().unwrap()).await;
        assert_eq!(response.status(), 302);
    }
}

async fn max_uses_out_of_range_is_400_and_issues_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "app", artifact_bytes(100)).await;
    for bad in [
        json!(0),
        json!(-1),
        json!(1_000_001),
        json!("2"),
        json!(1.5),
    ] {
        let response = token_request(
            &app,
            &p,
            json!({"artifact_id": p.artifact_id, "max_uses": bad}),
        )
        .await;
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains("max_uses"), "{bad}: {message}");
    }
    let issued = app.audit_events("event=download_token.issued").await;
    assert!(issued.is_empty(), "{issued:?}");
}

async fn concurrent_resolves_on_three_instances_spend_exactly_the_limit(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let (second, third) = (first.spawn_beside().await, first.spawn_beside().await);
    let p = publish_one_artifact(&first, "app", artifact_bytes(100)).await;
    let url = limited_link(&first, &p, 5).await;

    let instances = [&first, &second, &third];
    let resolves = (0..30).map(|i| follow_link(instances[i % 3], &url));
    let responses = futures_util::future::join_all(resolves).await;
    let mut found = 0;
    let mut used_up = 0;
    for response in responses {
        match response.status().as_u16() {
            302 => found += 1,
            404 => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["message"], "download token used up");
                used_up += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((found, used_up), (5, 25));
}

on_both_backends!(
    a_single_use_link_works_once,
    max_uses_out_of_range_is_400_and_issues_nothing,
    concurrent_resolves_on_three_instances_spend_exactly_the_limit,
);
