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

    // Answers to an operator, an error without credentials, an unknown route.
    for (request, status) in [
        (app.admin(Method::GET, "/v1/admin/customers"), 200),
        (app.admin(Method::GET, "/v1/admin/audit-events"), 200),
        (app.client.get(app.url("/v1/releases")), 401),
        (app.admin(Method::GET, "/v1/nothing-here"), 404),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{}", response.url());
        assert_eq!(
            cache_control(&response),
            Some("no-store"),
            "{}",
            response.url()
        );
    }

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
