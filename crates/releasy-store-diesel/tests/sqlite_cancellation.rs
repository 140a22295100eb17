#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]
//! A SQLite repository call may be abandoned mid-statement, on a current-thread runtime
//! like each of actix-web's workers: the statement finishes on its own, nothing
//! panics, and the connection serves the next call, or is replaced when it was left
//! inside a transaction.
//!
//! Each test holds SQLite's write lock from a plain connection of its own, so that a
//! repository write waits (up to the 5 s busy timeout) and can be abandoned while its
//! statement runs.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use releasy_domain::api_key::{ApiKey, ApiKeySecret, KeyType, ScopeSet, StoredKeyHash};
use releasy_domain::customer::{Customer, CustomerName};
use releasy_domain::ports::Repositories;
use releasy_domain::release::{Product, Release, ReleaseStatus, Version};
use releasy_domain::{ApiKeyId, CustomerId, ReleaseId, Timestamp};
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::TestSqlite;
use releasy_testkit::contract::change_event;

const T0: i64 = 1_735_312_000;

/// Runs `test` on a current-thread runtime, as an actix-web worker would.
fn on_a_worker_thread(test: impl AsyncFnOnce()) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(test());
}

/// A migrated database whose shared pool holds one connection, so that every call
/// reuses the connection an abandoned call used.
async fn one_connection(sqlite: &TestSqlite) -> Repositories {
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 1).unwrap();
    db.migrate().await.unwrap();
    db.repositories()
}

/// Takes the database's write lock on a connection of its own, until committed.
fn hold_write_lock(sqlite: &TestSqlite) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(&sqlite.path().to_string_lossy()).unwrap();
    conn.batch_execute("BEGIN IMMEDIATE").unwrap();
    conn
}

fn customer(name: &str) -> Customer {
    Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse(name).unwrap(),
        plan: None,
        created_at: Timestamp::from_unix_seconds(T0),
        suspended_at: None,
    }
}

fn api_key(customer_id: CustomerId) -> ApiKey {
    let secret = ApiKeySecret::from_generated("releasy_cancellation-test-key".into());
    ApiKey {
        allowed_networks: None,
        id: ApiKeyId::generate(),
        customer_id,
        name: None,
        key_type: KeyType::Ci.into(),
        scopes: ScopeSet::parse(&["releases:read"]).unwrap().into(),
        hash: StoredKeyHash::LegacySha256("0".repeat(64)),
        lookup: secret.lookup(),
        created_at: Timestamp::from_unix_seconds(T0),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        last_used_address: None,
    }
}

/// Polls `done` every 10 ms for up to 5 s.
async fn eventually(what: &str, done: impl AsyncFn() -> bool) {
    for _ in 0..500 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 5 s");
}

#[test]
fn an_abandoned_write_finishes_and_its_connection_serves_the_next_call() {
    on_a_worker_thread(async || {
        let sqlite = TestSqlite::create();
        let repos = one_connection(&sqlite).await;
        let owner = customer("Owner");
        repos
            .customers
            .insert(&owner, &change_event())
            .await
            .unwrap();
        let key = api_key(owner.id);
        repos.api_keys.insert(&key, &change_event()).await.unwrap();
        let mut lock = hold_write_lock(&sqlite);

        // Recording a key's use is one statement, outside any transaction.
        let used_at = Timestamp::from_unix_seconds(T0 + 60);
        let waited = tokio::time::timeout(
            Duration::from_millis(100),
            repos.api_keys.touch_last_used(key.id, used_at, None),
        )
        .await;
        assert!(waited.is_err(), "the update waits for the write lock");

        lock.batch_execute("COMMIT").unwrap();
        // The next call waits for the abandoned statement, then reuses its connection.
        eventually("the abandoned update is stored", async || {
            let stored = repos.api_keys.get(key.id).await.unwrap();
            stored.is_some_and(|k| k.last_used_at == Some(used_at))
        })
        .await;
        let next = customer("Next");
        repos
            .customers
            .insert(&next, &change_event())
            .await
            .unwrap();
        assert!(repos.customers.get(next.id).await.unwrap().is_some());
    });
}

#[test]
fn a_transaction_abandoned_before_its_commit_is_rolled_back_and_frees_the_lock() {
    on_a_worker_thread(async || {
        let sqlite = TestSqlite::create();
        let repos = one_connection(&sqlite).await;
        let release = Release {
            id: ReleaseId::generate(),
            product: Product::parse("app").unwrap(),
            version: Version::parse("1.0.0").unwrap(),
            status: ReleaseStatus::Draft,
            created_at: Timestamp::from_unix_seconds(T0),
            published_at: None,
            ..Release::draft(
                Product::parse("app").unwrap(),
                Version::parse("1.0.0").unwrap(),
                None,
                Timestamp::from_unix_seconds(T0),
            )
        };
        repos
            .releases
            .insert(&release, &change_event())
            .await
            .unwrap();
        let mut lock = hold_write_lock(&sqlite);

        // Deleting a release is one BEGIN IMMEDIATE transaction; it is abandoned while
        // BEGIN waits for the lock, so no one is left to commit it.
        let waited = tokio::time::timeout(
            Duration::from_millis(100),
            repos.releases.delete(release.id, &|_| change_event()),
        )
        .await;
        assert!(waited.is_err(), "the delete waits for the write lock");
        lock.batch_execute("COMMIT").unwrap();

        // The half-begun transaction is discarded with its connection: the release is
        // still there, and writes go through on a fresh connection.
        eventually("the release is read back", async || {
            repos.releases.get(release.id).await.unwrap().is_some()
        })
        .await;
        let next = customer("After");
        repos
            .customers
            .insert(&next, &change_event())
            .await
            .unwrap();
        // Another connection can write too: no transaction still holds the lock.
        let mut other = hold_write_lock(&sqlite);
        other.batch_execute("COMMIT").unwrap();
    });
}

#[test]
fn a_transaction_abandoned_on_a_pool_of_several_frees_the_lock_at_once() {
    on_a_worker_thread(async || {
        let sqlite = TestSqlite::create();
        let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 4).unwrap();
        db.migrate().await.unwrap();
        let repos = db.repositories();
        // Four idle connections, so the next call is handed one the abandoned call
        // did not use (the pool hands them out in turn).
        let reads = (0..4).map(|_| repos.customers.get(CustomerId::generate()));
        for read in futures_util::future::join_all(reads).await {
            read.unwrap();
        }
        let mut lock = hold_write_lock(&sqlite);

        let abandoned = customer("Abandoned");
        let waited = tokio::time::timeout(
            Duration::from_millis(100),
            repos.customers.insert(&abandoned, &change_event()),
        )
        .await;
        assert!(waited.is_err(), "the insert waits for the write lock");
        lock.batch_execute("COMMIT").unwrap();
        // Time for the abandoned BEGIN to take the lock.
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Its connection was held back when the call was dropped: once its BEGIN ended
        // the transaction was rolled back, and the write lock went with it. (Back in
        // the pool as it was, it would hold them until handed out again, and the write
        // below, on another connection, would fail after the 5 s busy timeout.)
        let next = customer("Next");
        let written = tokio::time::timeout(
            Duration::from_secs(3),
            repos.customers.insert(&next, &change_event()),
        )
        .await;
        assert!(
            matches!(written, Ok(Ok(()))),
            "a write on another connection goes through: {written:?}"
        );
        assert!(repos.customers.get(abandoned.id).await.unwrap().is_none());
    });
}
