//! The audit chain on real databases: events written by changes and by the
//! write-behind path form one chain; an event altered, deleted or slipped in by hand
//! (SQL run behind Releasy's back) is named by the walk; events stored before the
//! chain existed are chained once, at the next migration; and retention cuts the chain
//! at its start only.
#![allow(clippy::expect_used, reason = "tests")]

use std::future::Future;
use std::pin::Pin;

use diesel::connection::SimpleConnection;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use releasy_domain::audit::{
    AuditEvent, AuditService, AuthReason, ChainBreak, Origin, VerifyError,
};
use releasy_domain::customer::{Customer, CustomerName};
use releasy_domain::{CustomerId, Timestamp};
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::{TestPostgres, TestSqlite};

const T0: i64 = 1_735_312_000;

/// Runs SQL on a connection of the test's own, as someone editing the database would.
type Tamper = Box<dyn Fn(String) -> Pin<Box<dyn Future<Output = ()>>>>;

fn customer(i: i64) -> Customer {
    Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse(&format!("Chained {i}")).expect("name"),
        plan: None,
        created_at: Timestamp::from_unix_seconds(T0 + i),
        suspended_at: None,
    }
}

/// Stores three customers (their events chained with the change) and a batch of two
/// authentication events; returns the five events in chain order.
async fn five_events(db: &Database) -> Vec<AuditEvent> {
    let repos = db.repositories();
    let mut events = Vec::new();
    for i in 0..3 {
        let c = customer(i);
        let event = AuditEvent::customer_created(&Origin::admin_key(), &c);
        repos.customers.insert(&c, &event).await.expect("insert");
        events.push(event);
    }
    let refusals: Vec<AuditEvent> = (3..5)
        .map(|i| {
            AuditEvent::api_key_auth(
                AuthReason::NotFound,
                None,
                None,
                Timestamp::from_unix_seconds(T0 + i),
            )
        })
        .collect();
    repos.audit.record_many(&refusals).await.expect("record");
    events.extend(refusals);
    events
}

async fn verify(db: &Database) -> Result<u64, VerifyError> {
    AuditService::new(db.repositories().audit)
        .verify()
        .await
        .map(|chain| chain.events)
}

fn broken(result: Result<u64, VerifyError>) -> ChainBreak {
    match result {
        Err(VerifyError::Broken(found)) => found,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

async fn check(db: &Database, tamper: Tamper) {
    db.migrate().await.expect("migrate");
    let events = five_events(db).await;
    assert_eq!(verify(db).await.expect("an intact chain verifies"), 5);

    // Altered: the payload of the second event.
    let second = events[1].id.to_string();
    tamper(format!(
        "UPDATE audit_events SET payload = '{{\"forged\":true}}' WHERE id = '{second}'"
    ))
    .await;
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Altered {
            event_id: second.clone(),
            position: 2
        }
    );

    // Deleted: the altered one, which leaves a gap.
    tamper(format!("DELETE FROM audit_events WHERE id = '{second}'")).await;
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Deleted {
            first: 2,
            last: 2,
            next_event_id: events[2].id.to_string()
        }
    );

    // Inserted: a row written without a link, even with the gap closed again.
    tamper("DELETE FROM audit_events".to_owned()).await;
    tamper(
        "UPDATE audit_chain SET head_position = 0, head_hash = \
         '0000000000000000000000000000000000000000000000000000000000000000'"
            .to_owned(),
    )
    .await;
    let repos = db.repositories();
    let c = customer(9);
    repos
        .customers
        .insert(&c, &AuditEvent::customer_created(&Origin::admin_key(), &c))
        .await
        .expect("insert");
    tamper(
        "INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at) \
         VALUES ('0191f0a0-0000-7000-8000-000000000001', NULL, 'admin_key', \
         'customer.deleted', '{}', 1735312100)"
            .to_owned(),
    )
    .await;
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Inserted {
            event_id: "0191f0a0-0000-7000-8000-000000000001".to_owned(),
            why: "it carries no chain link"
        }
    );
}

/// Events stored before the chain (no link, an empty chain) are chained by the next
/// migration, in time order, and verify.
async fn legacy_events_are_chained(db: &Database, tamper: Tamper) {
    db.migrate().await.expect("migrate");
    for i in 0..3 {
        tamper(format!(
            "INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at) \
             VALUES ('0191f0a0-0000-7000-8000-00000000010{i}', NULL, 'api_key', \
             'api_key.auth', '{{\"outcome\":\"reject\"}}', {})",
            T0 + 10 - i
        ))
        .await;
    }
    assert!(
        matches!(broken(verify(db).await), ChainBreak::Inserted { .. }),
        "unlinked rows are not verified"
    );
    let migrated = db.migrate().await.expect("migrate again");
    assert_eq!(migrated.audit_events_chained, 3);
    assert_eq!(verify(db).await.expect("chained"), 3);
    let again = db.migrate().await.expect("and again");
    assert_eq!(again.audit_events_chained, 0, "chaining happens once");
}

/// Retention cuts the chain at its start only: the leading events older than the
/// cutoff go, the new start is recorded, the trail still verifies, and a later
/// deletion inside it is still found.
async fn retention_cuts_the_chain_at_its_start(db: &Database, tamper: Tamper) {
    db.migrate().await.expect("migrate");
    let repos = db.repositories();
    let at = Timestamp::from_unix_seconds;
    // Times in chain order: three old ones, one inside the window, then an old one
    // again (chained after it, so it stays).
    let events: Vec<AuditEvent> = [0, 1, 2, 100, 3]
        .iter()
        .map(|&t| AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at(T0 + t)))
        .collect();
    repos.audit.record_many(&events).await.expect("record");
    let audit = AuditService::new(repos.audit.clone());

    let pruned = audit.prune(at(T0 + 50), at(T0 + 200)).await.expect("prune");
    assert_eq!(pruned, 3);
    let bounds = repos.audit.chain_bounds().await.expect("bounds");
    assert_eq!(
        bounds.start.position, 3,
        "the chain now starts after position 3"
    );
    // Two events kept, and the sweep's own `audit.pruned` event.
    assert_eq!(verify(db).await.expect("a cut chain verifies"), 3);
    let recorded = repos
        .audit
        .list(
            &releasy_domain::audit::AuditFilter {
                event: Some("audit.pruned".to_owned()),
                ..Default::default()
            },
            releasy_domain::pagination::PageRequest::default(),
        )
        .await
        .expect("list");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].payload["pruned"], 3);
    assert_eq!(recorded[0].payload["chain_start"]["position"], 3);

    assert_eq!(
        audit.prune(at(T0 + 50), at(T0 + 201)).await.expect("again"),
        0,
        "the event inside the window stops the cut"
    );
    let kept_old = events[4].id.to_string();
    tamper(format!("DELETE FROM audit_events WHERE id = '{kept_old}'")).await;
    assert!(matches!(
        broken(verify(db).await),
        ChainBreak::Deleted {
            first: 5,
            last: 5,
            ..
        }
    ));
}

fn sqlite_tamper(sqlite: &TestSqlite) -> Tamper {
    let path = sqlite.path().to_string_lossy().into_owned();
    Box::new(move |sql: String| {
        let path = path.clone();
        Box::pin(async move {
            use diesel::Connection;
            let mut conn = diesel::SqliteConnection::establish(&path).expect("a second connection");
            conn.batch_execute(&sql).expect("tamper");
        })
    })
}

fn postgres_tamper(url: String) -> Tamper {
    Box::new(move |sql: String| {
        let url = url.clone();
        Box::pin(async move {
            let mut conn = AsyncPgConnection::establish(&url)
                .await
                .expect("a second connection");
            conn.batch_execute(&sql).await.expect("tamper");
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_names_the_first_altered_deleted_or_inserted_event() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    check(&db, sqlite_tamper(&sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_names_the_first_altered_deleted_or_inserted_event() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 2).expect("pool");
    check(&db, postgres_tamper(postgres.url().to_owned())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_chains_the_events_stored_before_the_chain() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    legacy_events_are_chained(&db, sqlite_tamper(&sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_chains_the_events_stored_before_the_chain() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 2).expect("pool");
    legacy_events_are_chained(&db, postgres_tamper(postgres.url().to_owned())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_retention_cuts_the_chain_at_its_start() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    retention_cuts_the_chain_at_its_start(&db, sqlite_tamper(&sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_retention_cuts_the_chain_at_its_start() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 2).expect("pool");
    retention_cuts_the_chain_at_its_start(&db, postgres_tamper(postgres.url().to_owned())).await;
}
