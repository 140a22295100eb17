//! The audit chain on real databases: events written by changes (linked by the linker on
//! PostgreSQL) and by the write-behind path (linked as each batch is written) form one
//! chain; an event altered, deleted
//! or slipped in by hand (SQL run behind Releasy's back) is named by the walk; events
//! stored before the chain existed are linked like any other; linkers racing writers
//! link every event once; and retention cuts the chain at its start only.
#![allow(clippy::expect_used, reason = "tests")]

use std::future::Future;
use std::pin::Pin;

use diesel::connection::SimpleConnection;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use releasy_domain::audit::{
    AuditEvent, AuditService, AuthReason, ChainBreak, ChainLink, Origin, VerifyError,
};
use releasy_domain::customer::{Customer, CustomerName};
use releasy_domain::ports::ErrorChain;
use releasy_domain::{CustomerId, Timestamp};
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::contract::audit_chain::batches_of_two_instances_keep_one_chain;
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

/// Stores a batch of two authentication events (linked as the batch is written) and
/// three customers (their events written with the change, unlinked on PostgreSQL until
/// the linker's turn); returns the five events in chain order.
async fn five_events(db: &Database) -> Vec<AuditEvent> {
    let repos = db.repositories();
    let mut events: Vec<AuditEvent> = (3..5)
        .map(|i| {
            AuditEvent::api_key_auth(
                AuthReason::NotFound,
                None,
                None,
                Timestamp::from_unix_seconds(T0 + i),
            )
        })
        .collect();
    repos.audit.record_many(&events).await.expect("record");
    for i in 0..3 {
        let c = customer(i);
        let event = AuditEvent::customer_created(&Origin::admin_key(), &c);
        repos.customers.insert(&c, &event).await.expect("insert");
        events.push(event);
    }
    events
}

/// Who links a change's events: SQLite's writes link their own (its write lock already
/// runs them one at a time); on PostgreSQL the linker does, after the commit. A batch
/// (`record_many`, the write-behind's path) links its events as it writes them on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linking {
    AtOnce,
    ByLinker,
}

impl Linking {
    /// What a linker turn links after changes wrote `written` events.
    fn left_to_the_linker(self, written: u64) -> u64 {
        match self {
            Linking::AtOnce => 0,
            Linking::ByLinker => written,
        }
    }
}

async fn link(db: &Database) -> u64 {
    AuditService::new(db.repositories().audit)
        .link_pending()
        .await
        .expect("link")
}

async fn verify(db: &Database) -> Result<u64, VerifyError> {
    AuditService::new(db.repositories().audit)
        .verify()
        .await
        .map(|chain| chain.events)
}

/// Inserts `pruned` (an `audit.pruned` event) by hand, created at `created_at`, with
/// no chain link: a row slipped in by someone with write access.
async fn insert_unlinked_pruned(tamper: &Tamper, pruned: &AuditEvent, created_at: i64) {
    tamper(format!(
        "INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at) \
         VALUES ('{}', NULL, 'system', 'audit.pruned', '{}', {created_at})",
        pruned.id, pruned.payload,
    ))
    .await;
}

fn broken(result: Result<u64, VerifyError>) -> ChainBreak {
    match result {
        Err(VerifyError::Broken(found)) => found,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

async fn check(db: &Database, tamper: Tamper, linking: Linking) {
    db.migrate().await.expect("migrate");
    let events = five_events(db).await;
    let before = AuditService::new(db.repositories().audit)
        .verify()
        .await
        .expect("what awaits its link is not broken");
    assert_eq!(
        (before.events, before.awaiting_link),
        (
            5 - linking.left_to_the_linker(3),
            linking.left_to_the_linker(3)
        )
    );
    assert_eq!(link(db).await, linking.left_to_the_linker(3));
    assert_eq!(link(db).await, 0, "each event is linked once");
    assert_eq!(verify(db).await.expect("an intact chain verifies"), 5);

    // Inserted below the walk: a row at the start's position (0 here), where retention
    // leaves none, shown by listings though the walk never reaches it.
    let forged = "0191f0a0-0000-7000-8000-0000000000f0";
    tamper(format!(
        "INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at, \
         chain_position, chain_hash) VALUES ('{forged}', NULL, 'admin_key', \
         'customer.deleted', '{{}}', 1735312100, 0, \
         '2222222222222222222222222222222222222222222222222222222222222222')"
    ))
    .await;
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Inserted {
            event_id: forged.to_owned(),
            why: "its position is at or below the chain's recorded start"
        }
    );
    tamper(format!("DELETE FROM audit_events WHERE id = '{forged}'")).await;
    assert_eq!(verify(db).await.expect("intact again"), 5);

    // Inserted: an unlinked `audit.pruned` row, which no linker links.
    let pruned = AuditEvent::audit_pruned(
        1,
        Timestamp::from_unix_seconds(T0),
        ChainLink::START,
        Timestamp::from_unix_seconds(T0 + 9),
    );
    insert_unlinked_pruned(&tamper, &pruned, T0 + 9).await;
    assert_eq!(link(db).await, 0);
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Inserted {
            event_id: pruned.id.to_string(),
            why: "an audit.pruned event is linked by its cut, and this one is not"
        }
    );
    tamper(format!(
        "DELETE FROM audit_events WHERE id = '{}'",
        pruned.id
    ))
    .await;
    assert_eq!(verify(db).await.expect("intact again"), 5);

    // Altered: a customer id rewritten in upper case. The same UUID, but listings match
    // its text exactly, so the customer's history would no longer show the event.
    let third = events[2].id.to_string();
    tamper(format!(
        "UPDATE audit_events SET customer_id = upper(customer_id) WHERE id = '{third}'"
    ))
    .await;
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Altered {
            event_id: third.clone(),
            position: 3
        }
    );
    tamper(format!(
        "UPDATE audit_events SET customer_id = lower(customer_id) WHERE id = '{third}'"
    ))
    .await;
    assert_eq!(verify(db).await.expect("intact again"), 5);

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

    // Inserted: a row given a link past the head, even with the gap closed again.
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
    assert_eq!(link(db).await, linking.left_to_the_linker(1));
    tamper(
        "INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at, \
         chain_position, chain_hash) VALUES ('0191f0a0-0000-7000-8000-000000000001', NULL, \
         'admin_key', 'customer.deleted', '{}', 1735312100, 2, \
         '1111111111111111111111111111111111111111111111111111111111111111')"
            .to_owned(),
    )
    .await;
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Inserted {
            event_id: "0191f0a0-0000-7000-8000-000000000001".to_owned(),
            why: "its position is past the chain's recorded head"
        }
    );

    // And a row with a position but no hash: the linker writes both.
    tamper(
        "UPDATE audit_events SET chain_position = 1, chain_hash = NULL \
         WHERE id <> '0191f0a0-0000-7000-8000-000000000001'"
            .to_owned(),
    )
    .await;
    assert!(matches!(
        broken(verify(db).await),
        ChainBreak::Inserted {
            why: "it carries a chain position without a hash",
            ..
        }
    ));
}

/// Rows Releasy did not write as they stand, slipped in by hand: awaiting their link,
/// an id in upper case and a payload that is not JSON are each linked once (by the id
/// as stored; the linker neither stops at them nor moves the head past links it did not
/// store) and verify; once linked, a payload edited into text that is not JSON is named
/// as altered, not reported as a database failure.
async fn rows_releasy_did_not_write(db: &Database, tamper: Tamper) {
    db.migrate().await.expect("migrate");
    five_events(db).await;
    link(db).await;
    let upper = "0191F0A0-0000-7000-8000-0000000000A1";
    let not_json = "0191f0a0-0000-7000-8000-0000000000a2";
    for (id, payload, at) in [(upper, "{}", T0 + 10), (not_json, "not json", T0 + 11)] {
        tamper(format!(
            "INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at) \
             VALUES ('{id}', 'not-a-uuid', 'admin_key', 'customer.deleted', '{payload}', {at})"
        ))
        .await;
    }
    assert_eq!(link(db).await, 2, "both linked");
    assert_eq!(link(db).await, 0, "each once");
    assert_eq!(verify(db).await.expect("an intact chain verifies"), 7);

    let third = db
        .repositories()
        .audit
        .chained_after(2, 1)
        .await
        .expect("chained")
        .pop()
        .expect("position 3");
    tamper(format!(
        "UPDATE audit_events SET payload = 'not json' WHERE id = '{}'",
        third.event.id
    ))
    .await;
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Altered {
            event_id: third.event.id.to_string(),
            position: 3
        }
    );
    // The altered event can be looked at: a listing reads rows as the walk does.
    let listed = db
        .repositories()
        .audit
        .list(
            &releasy_domain::audit::AuditFilter::default(),
            releasy_domain::pagination::PageRequest::default(),
        )
        .await
        .expect("a page holding altered rows");
    let altered = listed
        .iter()
        .find(|event| event.id == third.event.id)
        .expect("the altered event is listed");
    assert_eq!(altered.payload, serde_json::json!("not json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_links_and_verifies_rows_releasy_did_not_write() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    rows_releasy_did_not_write(&db, sqlite_tamper(&sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_links_and_verifies_rows_releasy_did_not_write() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 2).expect("pool");
    rows_releasy_did_not_write(&db, postgres_tamper(postgres.url().to_owned())).await;
}

/// Events stored before the chain existed carry no link: the next migration links
/// them, while the chain is still empty, in time order, and they verify.
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
    let before = AuditService::new(db.repositories().audit)
        .verify()
        .await
        .expect("verify");
    assert_eq!(before.awaiting_link, 3);
    assert_eq!(
        before.oldest_awaiting,
        Some(Timestamp::from_unix_seconds(T0 + 8))
    );
    let migrated = db.migrate().await.expect("migrate again");
    assert_eq!(migrated.audit_events_linked, 3);
    assert_eq!(verify(db).await.expect("chained"), 3);
    let again = db.migrate().await.expect("and again");
    assert_eq!(again.audit_events_linked, 0, "linking happens once");
    // A row slipped in by hand once the chain has begun is not linked by a start: on
    // SQLite, where Releasy links every event as it writes it, such a row stays
    // reported as inserted (docs/security.md).
    tamper(
        "INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at) \
         VALUES ('0191f0a0-0000-7000-8000-000000000110', NULL, 'api_key', \
         'api_key.auth', '{\"outcome\":\"reject\"}', 1735312020)"
            .to_owned(),
    )
    .await;
    let restarted = db.migrate().await.expect("migrate with a row slipped in");
    assert_eq!(restarted.audit_events_linked, 0);
    tamper("DELETE FROM audit_events WHERE id = '0191f0a0-0000-7000-8000-000000000110'".to_owned())
        .await;
    let first = db
        .repositories()
        .audit
        .chained_after(0, 1)
        .await
        .expect("read")
        .remove(0);
    assert_eq!(
        first.event.id.to_string(),
        "0191f0a0-0000-7000-8000-000000000102",
        "the oldest is linked first"
    );
}

/// Writers of changes, writers of batches and two linkers at once (as on several
/// instances): every event is linked exactly once, the chain verifies, and nothing is
/// left waiting.
async fn linkers_racing_writers_link_every_event_once(db: &Database, linking: Linking) {
    db.migrate().await.expect("migrate");
    let repos = db.repositories();
    let mut writers: Vec<_> = (0..4)
        .map(|w| {
            let repos = repos.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let c = customer(w * 100 + i);
                    let event = AuditEvent::customer_created(&Origin::admin_key(), &c);
                    repos.customers.insert(&c, &event).await.expect("insert");
                }
            })
        })
        .collect();
    writers.extend((0..2).map(|w| {
        let repos = repos.clone();
        tokio::spawn(async move {
            for batch in 0..10 {
                let events: Vec<AuditEvent> = (0..5)
                    .map(|i| {
                        AuditEvent::api_key_auth(
                            AuthReason::NotFound,
                            None,
                            None,
                            Timestamp::from_unix_seconds(T0 + w * 100 + batch * 5 + i),
                        )
                    })
                    .collect();
                repos.audit.record_many(&events).await.expect("record");
            }
        })
    }));
    let linkers: Vec<_> = (0..2)
        .map(|_| {
            let audit = AuditService::new(repos.audit.clone());
            tokio::spawn(async move {
                let mut linked = 0;
                for _ in 0..20 {
                    linked += audit.link_pending().await.expect("link");
                    tokio::task::yield_now().await;
                }
                linked
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let mut linked = 0;
    for linker in linkers {
        linked += linker.await.expect("linker");
    }
    linked += link(db).await;
    assert_eq!(
        linked,
        linking.left_to_the_linker(100),
        "each event linked once"
    );
    let chain = AuditService::new(repos.audit.clone())
        .verify()
        .await
        .expect("verifies");
    assert_eq!((chain.events, chain.awaiting_link), (200, 0));
}

/// Retention cuts the chain at its start only: the leading events older than the
/// cutoff go, the new start is recorded, the trail still verifies, and a later
/// deletion inside it is still found.
async fn retention_cuts_the_chain_at_its_start(db: &Database, tamper: Tamper) {
    db.migrate().await.expect("migrate");
    let repos = db.repositories();
    let at = Timestamp::from_unix_seconds;
    // Times in chain order: three old ones, one inside the window, then an old one
    // again (linked on a later turn, after it, so it stays).
    let events: Vec<AuditEvent> = [0, 1, 2, 100, 3]
        .iter()
        .map(|&t| AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at(T0 + t)))
        .collect();
    repos.audit.record_many(&events[..4]).await.expect("record");
    assert_eq!(
        link(db).await,
        0,
        "a batch links its events as it writes them"
    );
    repos.audit.record_many(&events[4..]).await.expect("record");
    assert_eq!(
        link(db).await,
        0,
        "a batch links its events as it writes them"
    );
    let audit = AuditService::new(repos.audit.clone());

    let pruned = audit.prune(at(T0 + 50), at(T0 + 200)).await.expect("prune");
    assert_eq!(pruned, 3);
    let bounds = repos.audit.chain_bounds().await.expect("bounds");
    assert_eq!(
        bounds.start.position, 3,
        "the chain now starts after position 3"
    );
    // Two events kept, and the cut's own `audit.pruned` event, linked by the cut on
    // both backends.
    assert_eq!(
        verify(db)
            .await
            .expect("a cut chain verifies with its record"),
        3
    );
    assert_eq!(link(db).await, 0, "the cut linked its event");
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
    // The first kept event deleted and the start moved over it: no hash to compute,
    // but no retention batch named that start.
    let first_kept = repos
        .audit
        .chained_after(3, 1)
        .await
        .expect("chained")
        .pop()
        .expect("position 4");
    let link_at_4 = first_kept.link.expect("linked");
    assert_eq!((link_at_4.position, first_kept.event.id), (4, events[3].id));
    tamper(format!(
        "DELETE FROM audit_events WHERE id = '{}'",
        events[3].id
    ))
    .await;
    tamper(format!(
        "UPDATE audit_chain SET start_position = 4, start_hash = '{}'",
        link_at_4.hash
    ))
    .await;
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::StartNotPruned { position: 4 }
    );
    // An `audit.pruned` row slipped in to name the moved start is no part of the
    // chain: no linker links it, and the start stays named by none.
    let forged = AuditEvent::audit_pruned(1, at(T0 + 50), link_at_4, at(T0 + 300));
    insert_unlinked_pruned(&tamper, &forged, T0 + 300).await;
    assert_eq!(link(db).await, 0, "the linker leaves it out");
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::StartNotPruned { position: 4 }
    );
    tamper(format!(
        "DELETE FROM audit_events WHERE id = '{}'",
        forged.id
    ))
    .await;

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

/// Retention removes no event it cannot verify. Times moved into the past to have
/// recent events removed (and a cut then record a start past them, from which the
/// chain would verify): the cut stops at the first altered event, the next sweep
/// fails naming it, and `audit verify` still finds it.
async fn retention_never_removes_what_it_cannot_verify(db: &Database, tamper: Tamper) {
    db.migrate().await.expect("migrate");
    let repos = db.repositories();
    let at = Timestamp::from_unix_seconds;
    let events: Vec<AuditEvent> = [0, 1, 100, 101].into_iter().map(auth_at).collect();
    repos.audit.record_many(&events).await.expect("record");
    link(db).await;
    tamper(format!(
        "UPDATE audit_events SET created_at = {T0} WHERE id IN ('{}', '{}')",
        events[2].id, events[3].id
    ))
    .await;
    let audit = AuditService::new(repos.audit.clone());

    let pruned = audit.prune(at(T0 + 50), at(T0 + 200)).await;
    assert_eq!(pruned.expect("the verified run goes"), 2);
    let stopped = audit
        .prune(at(T0 + 50), at(T0 + 200))
        .await
        .expect_err("the altered event stops retention");
    let message = ErrorChain(&stopped).to_string();
    assert!(
        message.contains(&format!(
            "audit event {} at position 3 was altered",
            events[2].id
        )),
        "{message}"
    );
    assert_eq!(
        broken(verify(db).await),
        ChainBreak::Altered {
            event_id: events[2].id.to_string(),
            position: 3
        }
    );
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
    check(&db, sqlite_tamper(&sqlite), Linking::AtOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_names_the_first_altered_deleted_or_inserted_event() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 2).expect("pool");
    check(
        &db,
        postgres_tamper(postgres.url().to_owned()),
        Linking::ByLinker,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_links_the_events_stored_before_the_chain() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    legacy_events_are_chained(&db, sqlite_tamper(&sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_links_the_events_stored_before_the_chain() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_retention_never_removes_what_it_cannot_verify() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    retention_never_removes_what_it_cannot_verify(&db, sqlite_tamper(&sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_retention_never_removes_what_it_cannot_verify() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 2).expect("pool");
    retention_never_removes_what_it_cannot_verify(&db, postgres_tamper(postgres.url().to_owned()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_linkers_racing_writers_link_every_event_once() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 4).expect("pool");
    linkers_racing_writers_link_every_event_once(&db, Linking::AtOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_linkers_racing_writers_link_every_event_once() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 8).expect("pool");
    linkers_racing_writers_link_every_event_once(&db, Linking::ByLinker).await;
}

/// Two `Database`s on one database file or server: two instances' batch writers.
async fn two_instances(url: &DatabaseUrl) -> (Database, Database) {
    let a = Database::open(url, 4).expect("pool");
    a.migrate().await.expect("migrate");
    let b = Database::open(url, 4).expect("pool");
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_batches_of_two_instances_keep_one_chain() {
    let sqlite = TestSqlite::create();
    let (a, b) = two_instances(&DatabaseUrl::sqlite_file(sqlite.path())).await;
    batches_of_two_instances_keep_one_chain(a.repositories(), b.repositories()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batches_of_two_instances_keep_one_chain() {
    let postgres = TestPostgres::create().await;
    let (a, b) = two_instances(&DatabaseUrl::Postgres(postgres.url().to_owned())).await;
    batches_of_two_instances_keep_one_chain(a.repositories(), b.repositories()).await;
    // The check's first six batches, one after the other (a, a, b, a, a, b): each
    // instance's first batch knows no head and locks it; a's second and fifth follow
    // its own; a's fourth and b's second find the head moved by the other and lock.
    let (a, b) = (
        a.linked_batches().expect("PostgreSQL counts"),
        b.linked_batches().expect("PostgreSQL counts"),
    );
    assert!(a.conditional >= 2 && a.locking >= 2, "instance a: {a:?}");
    assert!(b.locking >= 2, "instance b: {b:?}");
}

/// Waits until `sessions` sessions of the test's database wait for a lock.
async fn until_waiting_for_locks(conn: &mut AsyncPgConnection, sessions: i64) {
    use diesel_async::RunQueryDsl;
    let since = std::time::Instant::now();
    loop {
        let waiting: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND backend_type = 'client backend' AND wait_event_type = 'Lock')",
        ))
        .get_result(conn)
        .await
        .expect("pg_stat_activity");
        if waiting >= sessions {
            return;
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(10),
            "{waiting} sessions wait for a lock, not {sessions}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Three old authentication events on `db`, and a session holding their rows (its
/// transaction open), so that a cut's delete waits; plus a connection to watch locks.
async fn old_rows_held(db: &Database, url: &str) -> (AsyncPgConnection, AsyncPgConnection) {
    let old: Vec<AuditEvent> = (0..3).map(auth_at).collect();
    db.repositories()
        .audit
        .record_many(&old)
        .await
        .expect("record");
    let mut holder = AsyncPgConnection::establish(url)
        .await
        .expect("a second connection");
    holder
        .batch_execute("BEGIN; SELECT id FROM audit_events FOR UPDATE")
        .await
        .expect("hold the old rows");
    let watcher = AsyncPgConnection::establish(url)
        .await
        .expect("a third connection");
    (holder, watcher)
}

fn auth_at(t: i64) -> AuditEvent {
    AuditEvent::api_key_auth(
        AuthReason::NotFound,
        None,
        None,
        Timestamp::from_unix_seconds(T0 + t),
    )
}

/// Cuts every event older than `T0 + 50`, as the sweep at `T0 + 200` would.
async fn cut_old_events(db: &Database) -> Result<u64, releasy_domain::ports::RepoError> {
    let at = Timestamp::from_unix_seconds;
    AuditService::new(db.repositories().audit)
        .prune(at(T0 + 50), at(T0 + 200))
        .await
}

/// A retention cut does not hold the chain's head while it deletes: with its delete
/// waiting on old rows another session holds, a batch of events is written and linked
/// (before, the cut held the head from its start, and every write waited for it), and
/// the cut goes on once the rows are free, its event linked after the batch's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_go_on_while_a_cut_deletes() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 4).expect("pool");
    db.migrate().await.expect("migrate");
    let (mut holder, mut watcher) = old_rows_held(&db, postgres.url()).await;
    let cutting = db.clone();
    let cut = tokio::spawn(async move { cut_old_events(&cutting).await });
    until_waiting_for_locks(&mut watcher, 1).await;

    let written = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        db.repositories().audit.record_many(&[auth_at(100)]),
    )
    .await;
    assert!(
        matches!(written, Ok(Ok(()))),
        "a write waited for the cut: {written:?}"
    );
    assert!(!cut.is_finished(), "the cut waits for the rows");
    holder.batch_execute("COMMIT").await.expect("free the rows");
    assert_eq!(cut.await.expect("the cut ran").expect("the cut"), 3);
    assert_eq!(verify(&db).await.expect("the chain verifies"), 2);
    let bounds = db
        .repositories()
        .audit
        .chain_bounds()
        .await
        .expect("bounds");
    assert_eq!(bounds.head.position, 5, "the batch's event, then the cut's");
}

/// The cuts of two instances take turns: the second waits for the first (held in its
/// delete here), then reads the start the first moved and finds nothing left to cut.
/// (Without turns, both read one start: the second removed nothing, and would have
/// recorded the first's cut as its own, or, as now checked, failed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cuts_of_two_instances_take_turns() {
    let postgres = TestPostgres::create().await;
    let (a, b) = two_instances(&DatabaseUrl::Postgres(postgres.url().to_owned())).await;
    let (mut holder, mut watcher) = old_rows_held(&a, postgres.url()).await;
    let first_db = a.clone();
    let first = tokio::spawn(async move { cut_old_events(&first_db).await });
    until_waiting_for_locks(&mut watcher, 1).await;
    let second_db = b.clone();
    let second = tokio::spawn(async move { cut_old_events(&second_db).await });
    until_waiting_for_locks(&mut watcher, 2).await;

    holder.batch_execute("COMMIT").await.expect("free the rows");
    assert_eq!(
        first
            .await
            .expect("the first cut ran")
            .expect("the first cut"),
        3
    );
    assert_eq!(
        second
            .await
            .expect("the second cut ran")
            .expect("the second cut"),
        0
    );
    assert_eq!(
        verify(&a).await.expect("the chain verifies"),
        1,
        "one cut's event"
    );
    let bounds = b.repositories().audit.chain_bounds().await.expect("bounds");
    assert_eq!(bounds.start.position, 3);
    assert_eq!(bounds.head.position, 4);
}
