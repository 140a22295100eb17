//! What shared caches may keep: nothing of the API's answers, which callers
//! authenticate with headers of their own (`no-store` unless an answer sets its own
//! policy), and the release answers updaters revalidate are `private, no-cache`.

use reqwest::Method;

use crate::flow::{artifact_bytes, publish_one_artifact};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

fn cache_control(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("cache-control")
        .map(|value| value.to_str().unwrap())
}

async fn api_answers_are_not_kept_by_shared_caches(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let published = publish_one_artifact(&app, "agent", artifact_bytes(100)).await;

    let customers = app
        .admin(Method::GET, "/v1/admin/customers")
        .send()
        .await
        .unwrap();
    assert_eq!(customers.status(), 200);
    assert_eq!(cache_control(&customers), Some("no-store"));
    let audit = app
        .admin(Method::GET, "/v1/admin/audit-events")
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status(), 200);
    assert_eq!(cache_control(&audit), Some("no-store"));
    // Errors too: a 401 and a 404.
    let unauthorized = app
        .client
        .get(app.url("/v1/releases"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(cache_control(&unauthorized), Some("no-store"));
    let missing = app
        .admin(Method::GET, "/v1/nothing-here")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(cache_control(&missing), Some("no-store"));

    // The listing an updater polls keeps its own policy, revalidated by its ETag.
    let releases = app
        .customer(Method::GET, "/v1/releases", &published.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(releases.status(), 200);
    assert_eq!(cache_control(&releases), Some("private, no-cache"));
    // Outside the API, the probes set none.
    let live = app.client.get(app.url("/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(cache_control(&live), None);
}

on_both_backends!(api_answers_are_not_kept_by_shared_caches);
