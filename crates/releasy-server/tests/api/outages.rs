//! Dependencies going away under a running server: PostgreSQL and S3 are reached
//! through an [`OutageProxy`](releasy_testkit::OutageProxy) that the test cuts (every
//! connection closed, new ones refused, as when the service stops) and restores. The
//! server must answer 503 `service_unavailable` with `Retry-After` meanwhile, write
//! nothing by halves, and serve again when the dependency is back, without a restart.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::artifacts::{presign, register_body, register_request, upload};
use crate::flow::{artifact_bytes, download_url, publish_one_artifact};
use crate::helpers::{Backend, Storage, TestApp, assert_error};
use crate::releases::create_release;

/// One answer seen by the load: which create it was (if one), and what came back.
#[derive(Debug, Clone)]
struct Answer {
    create: Option<usize>,
    status: u16,
    code: Option<String>,
    retry_after: Option<String>,
}

async fn answer_of(create: Option<usize>, response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Answer {
        create,
        status,
        code: body["error"]["code"].as_str().map(str::to_owned),
        retry_after,
    }
}

fn create_request(app: &TestApp, i: usize) -> reqwest::RequestBuilder {
    app.admin(Method::POST, "/v1/admin/customers")
        .header("Idempotency-Key", format!("outage-{i}"))
        .json(&json!({"name": format!("Outage {i}")}))
}

/// Creates (each with its own `Idempotency-Key`) and customer reads, from `workers`
/// tasks, until `stop`; every answer is recorded.
fn start_load(
    app: &Arc<TestApp>,
    api_key: &str,
    workers: usize,
    stop: &Arc<AtomicBool>,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<Mutex<Vec<Answer>>>) {
    let answers = Arc::new(Mutex::new(Vec::new()));
    let tasks = (0..workers)
        .map(|w| {
            let (app, api_key, stop, answers) = (
                app.clone(),
                api_key.to_owned(),
                stop.clone(),
                answers.clone(),
            );
            tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = n * workers + w;
                    let created =
                        answer_of(Some(i), create_request(&app, i).send().await.unwrap()).await;
                    let read = app
                        .customer(Method::GET, "/v1/releases", &api_key)
                        .send()
                        .await
                        .unwrap();
                    let read = answer_of(None, read).await;
                    answers.lock().unwrap().extend([created, read]);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();
    (tasks, answers)
}

async fn wait_for(what: &str, within: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status_of(app: &TestApp, path: &str) -> u16 {
    app.client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Every customer named `Outage ...`, by name.
async fn outage_customers(app: &TestApp) -> HashMap<String, String> {
    let mut stored = HashMap::new();
    for offset in (0..).step_by(200) {
        let page: Value = app
            .admin(
                Method::GET,
                &format!("/v1/admin/customers?name=Outage&limit=200&offset={offset}"),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let customers = page["customers"].as_array().unwrap();
        for customer in customers {
            let name = customer["name"].as_str().unwrap().to_owned();
            let id = customer["id"].as_str().unwrap().to_owned();
            assert!(stored.insert(name, id).is_none(), "one customer per name");
        }
        if customers.len() < 200 {
            return stored;
        }
    }
    unreachable!("the pages end")
}

/// PostgreSQL stops under load: requests answer 503 `service_unavailable` with
/// `Retry-After` (never 500, never a hang), `/ready` turns 503 while `/live` stays 200,
/// and once PostgreSQL is back the same server serves again. Every create answered 200
/// is stored; every create answered 503 can be retried with its key and is then stored
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopping_under_load_answers_503_and_service_returns_with_it() {
    let app = Arc::new(TestApp::spawn_through_proxies(Backend::Postgres, Storage::Embedded).await);
    let (_, api_key, _) = app.customer_with_key().await;
    let database = app.outages().database.as_ref().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (workers, answers) = start_load(&app, &api_key, 4, &stop);
    wait_for("the load is served", Duration::from_secs(10), async || {
        answers
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.status == 200)
            .count()
            >= 40
    })
    .await;

    database.cut();
    let cut_at = answers.lock().unwrap().len();
    wait_for("requests answer 503", Duration::from_secs(10), async || {
        answers.lock().unwrap()[cut_at..]
            .iter()
            .any(|a| a.status == 503)
    })
    .await;
    assert_eq!(
        status_of(&app, "/ready").await,
        503,
        "not ready without its database"
    );
    assert_eq!(status_of(&app, "/live").await, 200, "but alive");
    tokio::time::sleep(Duration::from_secs(1)).await;

    database.restore().await;
    let restored = Instant::now();
    let restored_at = answers.lock().unwrap().len();
    wait_for(
        "creates succeed again",
        Duration::from_secs(20),
        async || {
            answers.lock().unwrap()[restored_at..]
                .iter()
                .any(|a| a.create.is_some() && a.status == 200)
        },
    )
    .await;
    let recovery = restored.elapsed();
    assert_eq!(status_of(&app, "/ready").await, 200, "ready again");
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }

    let answers = answers.lock().unwrap().clone();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status != 200).collect();
    assert!(!refused.is_empty());
    for answer in &refused {
        assert_eq!(answer.status, 503, "{answer:?}");
        assert_eq!(
            answer.code.as_deref(),
            Some("service_unavailable"),
            "{answer:?}"
        );
        assert_eq!(answer.retry_after.as_deref(), Some("2"), "{answer:?}");
    }
    let acknowledged: HashSet<usize> = answers
        .iter()
        .filter(|a| a.status == 200)
        .filter_map(|a| a.create)
        .collect();
    let stored = outage_customers(&app).await;
    for i in &acknowledged {
        assert!(
            stored.contains_key(&format!("Outage {i}")),
            "acknowledged create {i} is stored"
        );
    }

    // Each refused create, retried with its key, is stored once (a claim its refusal
    // could not release holds the key for 10 s).
    let retried = Instant::now();
    let mut attempted: HashSet<usize> = acknowledged.clone();
    for i in refused.iter().filter_map(|a| a.create) {
        attempted.insert(i);
        loop {
            let response = create_request(&app, i).send().await.unwrap();
            if response.status() == 409 && retried.elapsed() < Duration::from_secs(15) {
                assert_error(response, 409, "idempotency_in_progress").await;
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            assert_eq!(response.status(), 200, "retry of create {i}");
            break;
        }
    }
    let stored = outage_customers(&app).await;
    let expected: HashSet<String> = attempted.iter().map(|i| format!("Outage {i}")).collect();
    assert_eq!(stored.keys().cloned().collect::<HashSet<_>>(), expected);
    eprintln!(
        "postgres outage: {} answers, {} of them 503, {} creates acknowledged, {} retried; served again {recovery:?} after PostgreSQL returned",
        answers.len(),
        refused.len(),
        acknowledged.len(),
        attempted.len() - acknowledged.len()
    );
}

/// S3 unreachable: registering an uploaded artifact and resolving a download link
/// (which looks at the stored object) answer 503 with `Retry-After`; the refused
/// registration leaves no artifact behind. Once S3 is back both work, and the bytes
/// delivered are the bytes uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unreachable_answers_503_and_leaves_nothing_half_written() {
    let app = TestApp::spawn_through_proxies(Backend::Sqlite, Storage::S3).await;
    let storage = app.outages().storage.as_ref().unwrap();
    let published = publish_one_artifact(&app, "agent", artifact_bytes(100_000)).await;
    let link = download_url(&app, &published.api_key, &published.artifact_id).await;
    let release = create_release(&app, "agent", "2.0.0").await;
    let release_id = release["id"].as_str().unwrap();
    let presigned = presign(&app, release_id, "agent.tgz", "linux-x86_64").await;
    let bytes = artifact_bytes(50_000);
    upload(&app, &presigned, &bytes).await;
    let body = register_body(&presigned, "linux-x86_64", &bytes);

    storage.cut();
    let refused = register_request(&app, release_id, &body).await;
    assert_eq!(refused.headers()["retry-after"], "2");
    assert_error(refused, 503, "service_unavailable").await;
    let resolved = app.client.get(&link).send().await.unwrap();
    assert_eq!(resolved.headers()["retry-after"], "2");
    assert_error(resolved, 503, "service_unavailable").await;
    let drafts: Value = app
        .admin(
            Method::GET,
            "/v1/releases?product=agent&version=2.0.0&include_artifacts=true",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        drafts["releases"][0]["artifacts"],
        json!([]),
        "no artifact half-registered"
    );

    storage.restore().await;
    let registered = register_request(&app, release_id, &body).await;
    assert_eq!(registered.status(), 200);
    let resolved = app.client.get(&link).send().await.unwrap();
    assert_eq!(resolved.status(), 302);
    let location = resolved.headers()["location"].to_str().unwrap().to_owned();
    let delivered = app.client.get(location).send().await.unwrap();
    assert_eq!(delivered.status(), 200);
    assert_eq!(delivered.bytes().await.unwrap().to_vec(), published.bytes);
}
