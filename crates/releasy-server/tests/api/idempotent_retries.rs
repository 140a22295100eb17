//! A create cut off after its change committed but before its response was kept (its
//! instance killed in between) leaves its `Idempotency-Key` claimed, in progress. Once
//! the claim is older than the bound (10 s), a retry takes the key over; the ids the
//! create makes derive from the key, so the retry finds the change the first run
//! committed and answers with it: nothing is created twice. (A registration's id is
//! the presign's: its retry is refused as a duplicate instead.) The crash is simulated by
//! setting the completed record back to an old, unfinished claim, as the killed
//! instance would have left it.

use diesel_async::SimpleAsyncConnection;
use reqwest::Method;
use serde_json::{Value, json};

use crate::database::{Db, with_conn};
use crate::flow::{artifact_bytes, sha256_hex};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;

/// Puts the test's one idempotency record back as an unfinished claim made `age`
/// seconds earlier. (The database holds only a digest of the key, so the record is
/// found as the only one there is.)
async fn cut_off(app: &TestApp, age: i64) {
    use diesel_async::RunQueryDsl;

    let mut db = Db::connect(app).await;
    let records: Vec<StoredRecord> = with_conn!(&mut db, conn => {
        diesel::sql_query("SELECT idem_key, response_body FROM idempotency_keys")
            .load(conn)
            .await
            .unwrap()
    });
    assert_eq!(records.len(), 1, "the test's key is the only one stored");
    let sql = format!(
        "UPDATE idempotency_keys SET state = 'in_progress', response_status = NULL, \
         response_body = NULL, created_at = created_at - {age}"
    );
    with_conn!(&mut db, conn => conn.batch_execute(&sql).await.unwrap());
}

async fn post(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.admin(Method::POST, path)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Creates through `path`, cuts the request off, and retries: the retry answers with
/// what the first run created. Returns that answer.
async fn retry_finds_the_first_run(app: &TestApp, path: &str, body: Value) -> Value {
    let first = post(app, path, "cut-off", &body).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();

    // Cut off a moment ago: the claim still holds the key.
    cut_off(app, 0).await;
    let held = post(app, path, "cut-off", &body).await;
    assert_error(held, 409, "idempotency_in_progress").await;

    // Cut off longer ago than the bound: the retry takes over and finds the first run.
    cut_off(app, 11).await;
    let retried = post(app, path, "cut-off", &body).await;
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.json::<Value>().await.unwrap(), first);

    // And its answer is kept for the next retry.
    let replayed = post(app, path, "cut-off", &body).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<Value>().await.unwrap(), first);
    first
}

async fn a_customer_cut_off_after_its_commit_is_created_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = retry_finds_the_first_run(
        &app,
        "/v1/admin/customers",
        json!({"name": "Cut Off", "plan": "gold"}),
    )
    .await;
    let listed: Value = app
        .admin(Method::GET, "/v1/admin/customers?name=Cut%20Off")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = listed["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&created["id"]], "one customer");
}

async fn a_release_cut_off_after_its_commit_is_created_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = retry_finds_the_first_run(
        &app,
        "/v1/releases",
        json!({"product": "cut-off", "version": "1.0.0"}),
    )
    .await;
    assert_eq!(created["status"], "draft");
}

async fn an_entitlement_cut_off_after_its_commit_is_created_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Entitled", None).await;
    let customer_id = customer["id"].as_str().unwrap();
    let path = format!("/v1/admin/customers/{customer_id}/entitlements");
    let created = retry_finds_the_first_run(
        &app,
        &path,
        json!({"product": "agent", "starts_at": 1_700_000_000}),
    )
    .await;
    let listed: Value = app
        .admin(Method::GET, &path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = listed["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, [&created["id"]], "one entitlement");
}

async fn a_registration_cut_off_after_its_commit_is_not_registered_twice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release: Value = app
        .admin(Method::POST, "/v1/releases")
        .json(&json!({"product": "cut-off", "version": "2.0.0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let release_id = release["id"].as_str().unwrap();
    let presigned: Value = app
        .admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts/presign"),
        )
        .json(&json!({"filename": "agent.tgz", "platform": "linux-x86_64"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bytes = artifact_bytes(4096);
    let uploaded = app
        .client
        .put(presigned["upload_url"].as_str().unwrap())
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(uploaded.status().is_success());
    let registration = json!({
        "artifact_id": presigned["artifact_id"],
        "object_key": presigned["object_key"],
        "checksum": sha256_hex(&bytes),
        "size": bytes.len(),
        "platform": "linux-x86_64",
    });
    let path = format!("/v1/releases/{release_id}/artifacts");
    let first = post(&app, &path, "cut-off", &registration).await;
    assert_eq!(first.status(), 200);

    // The artifact id is the presign's, so nothing tells the first run's registration
    // from another request's: the retry is refused as a duplicate, as documented.
    cut_off(&app, 11).await;
    let retried = post(&app, &path, "cut-off", &registration).await;
    let message = assert_error(retried, 409, "conflict").await;
    assert!(message.contains("artifact already exists"), "{message}");
    let listed: Value = app
        .admin(
            Method::GET,
            "/v1/releases?product=cut-off&include_artifacts=true",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let artifacts = listed["releases"][0]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "registered once: {listed}");
}

on_both_backends!(
    a_registration_cut_off_after_its_commit_is_not_registered_twice,
    a_customer_cut_off_after_its_commit_is_created_once,
    a_release_cut_off_after_its_commit_is_created_once,
    an_entitlement_cut_off_after_its_commit_is_created_once,
    the_database_keeps_no_secret_of_an_idempotent_answer,
);

#[derive(diesel::QueryableByName)]
struct StoredRecord {
    #[diesel(sql_type = diesel::sql_types::Text)]
    idem_key: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    response_body: Option<String>,
}

/// A download token asked with an `Idempotency-Key` is answered again on a retry, but
/// the database holds neither the client's key nor the download link: what a backup or
/// a query log shows of the record is a digest and a sealed body. (Key creation refuses
/// `Idempotency-Key`, so a new API key is never kept at all; a rotation's is, sealed
/// the same way.)
async fn the_database_keeps_no_secret_of_an_idempotent_answer(backend: Backend) {
    use diesel_async::RunQueryDsl;

    let app = TestApp::spawn(backend).await;
    let published = crate::flow::publish_one_artifact(&app, "app", artifact_bytes(64)).await;
    let ask = || {
        app.customer(Method::POST, "/v1/downloads/token", &published.api_key)
            .header("Idempotency-Key", "token-for-acme-7")
            .json(&json!({"artifact_id": published.artifact_id}))
            .send()
    };
    let first = ask().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let link = first["download_url"].as_str().unwrap().to_owned();
    let token = link.rsplit('/').next().unwrap().to_owned();

    let mut db = Db::connect(&app).await;
    let records: Vec<StoredRecord> = with_conn!(&mut db, conn => {
        diesel::sql_query("SELECT idem_key, response_body FROM idempotency_keys")
            .load(conn)
            .await
            .unwrap()
    });
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert!(
        !record.idem_key.contains("token-for-acme"),
        "{}",
        record.idem_key
    );
    let kept = record.response_body.as_deref().unwrap();
    assert!(kept.starts_with("sealed-v1:"), "{kept}");
    assert!(
        !kept.contains(&token) && !kept.contains("releasy_dl_"),
        "{kept}"
    );

    let replayed = ask().await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<Value>().await.unwrap(), first);
}
