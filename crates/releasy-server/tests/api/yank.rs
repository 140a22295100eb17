//! `POST /v1/releases/{id}/yank` and `/unyank`: the record stays, downloads go on
//! unless blocked, and the refusals.

use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{download_url, publish_one_artifact};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, now, ok_json};

async fn yank(app: &TestApp, release_id: &str, body: Value) -> reqwest::Response {
    app.admin(Method::POST, &format!("/v1/releases/{release_id}/yank"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn unyank(app: &TestApp, release_id: &str) -> reqwest::Response {
    app.admin(Method::POST, &format!("/v1/releases/{release_id}/unyank"))
        .send()
        .await
        .unwrap()
}

async fn token_request(app: &TestApp, api_key: &str, artifact_id: &str) -> reqwest::Response {
    app.customer(Method::POST, "/v1/downloads/token", api_key)
        .json(&json!({"artifact_id": artifact_id}))
        .send()
        .await
        .unwrap()
}

async fn a_yank_marks_the_release_and_an_unyank_clears_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let id = release["id"].as_str().unwrap();
    let before = now();
    let yanked = ok_json(yank(&app, id, json!({"reason": "  data loss on upgrade "})).await).await;
    assert_eq!(yanked["yank_reason"], "data loss on upgrade");
    assert_eq!(yanked["yank_blocks_downloads"], false);
    let at = yanked["yanked_at"].as_i64().unwrap();
    assert!((before..=now()).contains(&at));
    assert_eq!(yanked["id"], release["id"], "the record stays");

    let again = yank(&app, id, json!({"reason": "twice"})).await;
    assert_eq!(
        assert_error(again, 400, "bad_request").await,
        "release already yanked"
    );
    let listed = ok_json(
        app.admin(Method::GET, "/v1/releases?product=app")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["releases"][0]["yank_reason"], "data loss on upgrade");
    let hidden = ok_json(
        app.admin(Method::GET, "/v1/releases?product=app&include_yanked=false")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(hidden["releases"], json!([]));

    let restored = ok_json(unyank(&app, id).await).await;
    for field in ["yanked_at", "yank_reason", "yank_blocks_downloads"] {
        assert!(restored.get(field).is_none(), "{field} is gone: {restored}");
    }
    assert_eq!(
        assert_error(unyank(&app, id).await, 400, "bad_request").await,
        "release not yanked"
    );
}

async fn yank_refusals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "app", "1.0.0").await;
    let id = release["id"].as_str().unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        assert_error(
            yank(&app, &unknown, json!({"reason": "x"})).await,
            404,
            "not_found"
        )
        .await,
        "release not found"
    );
    assert_eq!(
        assert_error(unyank(&app, &unknown).await, 404, "not_found").await,
        "release not found"
    );
    for (body, message) in [
        (json!({}), "reason"),
        (json!({"reason": "  "}), "reason must not be empty"),
        (
            json!({"reason": "x".repeat(1025)}),
            "reason must be at most 1024 characters",
        ),
        (
            json!({"reason": "x", "block_downloads": "yes"}),
            "block_downloads",
        ),
    ] {
        let got = assert_error(yank(&app, id, body.clone()).await, 400, "bad_request").await;
        assert!(got.contains(message), "{body}: {got}");
    }
    let (_, api_key, _) = app.customer_with_key().await;
    let customer = app
        .customer(Method::POST, &format!("/v1/releases/{id}/yank"), &api_key)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(customer, 401, "unauthorized").await;
}

async fn a_yank_keeps_downloads_unless_it_blocks_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let published = publish_one_artifact(&app, "pinned", b"pinned bytes".to_vec()).await;
    let (release, artifact) = (&published.release_id, &published.artifact_id);
    let earlier_link = download_url(&app, &published.api_key, artifact).await;

    ok_json(yank(&app, release, json!({"reason": "superseded"})).await).await;
    let still = token_request(&app, &published.api_key, artifact).await;
    assert_eq!(still.status(), 200, "pinned users still get tokens");

    ok_json(unyank(&app, release).await).await;
    ok_json(
        yank(
            &app,
            release,
            json!({"reason": "malware", "block_downloads": true}),
        )
        .await,
    )
    .await;
    let refused = token_request(&app, &published.api_key, artifact).await;
    assert_eq!(
        assert_error(refused, 403, "forbidden").await,
        "release yanked"
    );
    let resolve = app.client.get(&earlier_link).send().await.unwrap();
    assert_eq!(
        assert_error(resolve, 403, "forbidden").await,
        "release yanked",
        "a token issued before the yank stops resolving"
    );

    ok_json(unyank(&app, release).await).await;
    assert_eq!(
        app.client.get(&earlier_link).send().await.unwrap().status(),
        302,
        "an unyank restores the downloads"
    );
}

on_both_backends!(
    a_yank_marks_the_release_and_an_unyank_clears_it,
    yank_refusals,
    a_yank_keeps_downloads_unless_it_blocks_them,
);
