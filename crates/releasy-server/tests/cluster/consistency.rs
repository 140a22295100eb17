//! What one instance does, the others see: migrations applied once, an idempotent
//! create answered once whichever instances its retries reach, a revoked key refused
//! everywhere.

use std::collections::HashSet;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::deployment::{Deployment, INSTANCES};

/// Migrations the server carries.
fn migration_count() -> usize {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    std::fs::read_dir(folder).unwrap().count()
}

/// The `applied` figure of the startup line "database migrations applied".
fn migrations_applied_at_startup(log: &str) -> usize {
    let line = log
        .lines()
        .find(|line| line.contains("database migrations applied"))
        .unwrap_or_else(|| panic!("no migration line in the log:\n{log}"));
    let entry: Value = serde_json::from_str(line).unwrap();
    usize::try_from(entry["applied"].as_u64().unwrap()).unwrap()
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_started_at_once_on_an_empty_database_migrate_it_once() {
    let deployment = Deployment::start().await;
    let applied: Vec<usize> = (0..INSTANCES)
        .map(|n| migrations_applied_at_startup(&deployment.log_of(n)))
        .collect();
    assert_eq!(
        applied.iter().sum::<usize>(),
        migration_count(),
        "each migration applied by exactly one instance: {applied:?}"
    );
    let mut connection = AsyncPgConnection::establish(deployment.database.url())
        .await
        .unwrap();
    let recorded: Count = diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
        .get_result(&mut connection)
        .await
        .unwrap();
    assert_eq!(usize::try_from(recorded.n).unwrap(), migration_count());
    // And all three serve the schema.
    for n in 0..INSTANCES {
        let base = deployment.instance_url(n);
        let response = deployment
            .admin_at(&base, Method::GET, "/v1/admin/customers")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "instance {n}");
    }
}

/// Sends the create with `key` to `base` until it is answered 200 (a 409 says the same
/// key is being answered elsewhere right now); the answer.
async fn create_until_answered(deployment: &Deployment, base: &str, key: &str) -> Value {
    for _ in 0..200 {
        let response = deployment
            .admin_at(base, Method::POST, "/v1/admin/customers")
            .header("Idempotency-Key", key)
            .json(&json!({"name": "Twice Sent"}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        match status {
            StatusCode::OK => return body,
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "idempotency_in_progress", "{body}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => panic!("{other}: {body}"),
        }
    }
    panic!("{key} never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_create_sent_to_every_instance_at_once_creates_one_customer() {
    let deployment = Deployment::start().await;
    let bases: Vec<String> = (0..INSTANCES).map(|n| deployment.instance_url(n)).collect();
    for round in 0..10 {
        let key = format!("twice-sent-{round}");
        let answers = futures_util::future::join_all(
            bases
                .iter()
                .map(|base| create_until_answered(&deployment, base, &key)),
        )
        .await;
        for answer in &answers[1..] {
            assert_eq!(
                answer, &answers[0],
                "{key}: every instance gives one answer"
            );
        }
    }
    let listed: Value = deployment
        .admin(
            Method::GET,
            "/v1/admin/customers?name=Twice%20Sent&limit=100",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: HashSet<&str> = listed["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 10, "one customer per key: {listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_instance_is_refused_by_the_others_on_their_next_request() {
    let deployment = Deployment::start().await;
    for revoker in 0..INSTANCES {
        let (_, api_key, api_key_id) = deployment.entitled_customer("agent").await;
        // Every instance has accepted the key, so each may answer from its cache.
        for n in 0..INSTANCES {
            let base = deployment.instance_url(n);
            let response = deployment
                .customer_at(&base, Method::GET, "/v1/releases", &api_key)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "instance {n} before the revocation");
        }
        let revoked = deployment
            .admin_at(
                &deployment.instance_url(revoker),
                Method::POST,
                "/v1/admin/keys/revoke",
            )
            .json(&json!({"api_key_id": api_key_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 200);
        for n in (0..INSTANCES).filter(|&n| n != revoker) {
            let base = deployment.instance_url(n);
            let response = deployment
                .customer_at(&base, Method::GET, "/v1/releases", &api_key)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                401,
                "instance {n}, right after instance {revoker} revoked the key"
            );
        }
    }
}
