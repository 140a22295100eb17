#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]
//! A PostgreSQL write abandoned mid-transaction (its future dropped, as when a caller
//! times out) does not leave its transaction open on a pooled connection: the
//! connection is closed, so the row it locked is free for the next write at once.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use releasy_domain::audit::{AuditEvent, Origin};
use releasy_domain::customer::{Customer, CustomerName, CustomerUpdate};
use releasy_domain::{CustomerId, Timestamp};
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::TestPostgres;

fn customer() -> Customer {
    Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse("Locked").unwrap(),
        plan: None,
        created_at: Timestamp::from_unix_seconds(1_735_312_000),
        suspended_at: None,
    }
}

fn rename(to: &str) -> CustomerUpdate {
    CustomerUpdate {
        name: Some(CustomerName::parse(to).unwrap()),
        plan: None,
        suspended_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_abandoned_while_it_waits_for_a_row_lock_leaves_no_lock_behind() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 4).unwrap();
    db.migrate().await.unwrap();
    let repos = db.repositories();
    let c = customer();
    repos
        .customers
        .insert(&c, &AuditEvent::customer_created(&Origin::admin_key(), &c))
        .await
        .unwrap();

    // Four idle connections, so the next call is handed one the abandoned call did not
    // use (the pool hands them out in turn).
    let reads = (0..4).map(|_| repos.customers.get(CustomerId::generate()));
    for read in futures_util::future::join_all(reads).await {
        read.unwrap();
    }

    // Someone else holds the customer's row.
    let mut holder = AsyncPgConnection::establish(postgres.url()).await.unwrap();
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM customers WHERE id = '{}' FOR UPDATE",
            c.id
        ))
        .await
        .unwrap();
    let events = |before: &Customer, after: &Customer| {
        AuditEvent::customer_changes(&Origin::admin_key(), before, after, after.created_at)
    };
    let first = rename("First");
    let waited = tokio::time::timeout(
        Duration::from_millis(300),
        repos.customers.update(c.id, &first, &events),
    )
    .await;
    assert!(waited.is_err(), "the update waits inside its transaction");
    holder.batch_execute("COMMIT").await.unwrap();
    // Time for the abandoned update's session, first in the row's queue, to take it.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The abandoned update's connection was closed: its session ended as soon as it
    // found the client gone, and its transaction with it, uncommitted. (Back in the
    // pool it would hold the row until handed out again, and the update below, on
    // another connection, would wait for it.)
    let second = rename("Second");
    let updated = tokio::time::timeout(
        Duration::from_secs(5),
        repos.customers.update(c.id, &second, &events),
    )
    .await
    .expect("the row is free within 5 s")
    .unwrap()
    .expect("the customer exists");
    assert_eq!(updated.name.as_str(), "Second");
    let mut observer = AsyncPgConnection::establish(postgres.url()).await.unwrap();
    let idle: Vec<IdleInTransaction> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT count(*) AS sessions FROM pg_stat_activity \
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
        ),
        &mut observer,
    )
    .await
    .unwrap();
    assert_eq!(
        idle[0].sessions, 0,
        "no session is left inside a transaction"
    );
}

#[derive(diesel::QueryableByName)]
struct IdleInTransaction {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    sessions: i64,
}
