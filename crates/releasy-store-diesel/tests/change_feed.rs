#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
//! The PostgreSQL change feed: the migration's triggers and `PgStore::watch_changes`.
//!
//! Notifications reach the listener in commit order, so "this write is not reported" is
//! shown by making a reported write after it and receiving that one next.

use std::time::Duration;

use diesel::sql_types::{BigInt, Bool, Integer};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use releasy_domain::customer::{Customer, CustomerName};
use releasy_domain::ports::CustomerRepository;
use releasy_domain::{CustomerId, Timestamp};
use releasy_store_diesel::{BarrierOutcome, ChangeEvent, ChangeFeedHandle, PgStore};
use releasy_testkit::TestPostgres;
use releasy_testkit::contract::change_event;
use tokio::sync::mpsc;

/// Generous: this checks what is reported, not how fast.
const DEADLINE: Duration = Duration::from_secs(10);

/// A migrated store with one customer, API key, release, artifact and download token
/// (made before any feed listens, so they are not reported).
async fn seeded_store(postgres: &TestPostgres) -> PgStore {
    let store = PgStore::connect(postgres.url(), 2).unwrap();
    store.migrate().await.unwrap();
    sql(postgres)
        .await
        .batch_execute(
            "INSERT INTO customers (id, name, created_at) VALUES ('c1', 'Seed', 1);
             INSERT INTO api_keys (id, customer_id, key_type, scopes, key_hash, created_at)
                 VALUES ('k1', 'c1', 'customer', 'downloads:read', 'hash', 1);
             INSERT INTO releases (id, product, version, status, created_at)
                 VALUES ('r1', 'app', '1.0.0', 'draft', 1);
             INSERT INTO artifacts (id, release_id, object_key, checksum, size, platform, created_at)
                 VALUES ('a1', 'r1', 'app/1.0.0/app.tar.gz', 'sha256:00', 1, 'linux-x86_64', 1);
             INSERT INTO download_tokens (id, token_hash, artifact_id, customer_id, created_at, expires_at)
                 VALUES ('t1', 'token-hash-1', 'a1', 'c1', 1, 2);",
        )
        .await
        .unwrap();
    store
}

/// A plain connection of its own, like another instance's or an operator's.
async fn sql(postgres: &TestPostgres) -> AsyncPgConnection {
    AsyncPgConnection::establish(postgres.url()).await.unwrap()
}

fn watch(store: &PgStore) -> (ChangeFeedHandle, mpsc::UnboundedReceiver<ChangeEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = store.watch_changes(move |event| {
        let _ = tx.send(event);
    });
    (handle, rx)
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<ChangeEvent>) -> ChangeEvent {
    tokio::time::timeout(DEADLINE, events.recv())
        .await
        .unwrap_or_else(|_| panic!("no change event within {DEADLINE:?}"))
        .expect("the feed's callback is gone")
}

async fn expect_event(events: &mut mpsc::UnboundedReceiver<ChangeEvent>, expected: ChangeEvent) {
    assert_eq!(next_event(events).await, expected);
}

fn changed(table: &str) -> ChangeEvent {
    ChangeEvent::Changed(table.to_owned())
}

async fn insert_customer_through_the_port(store: &PgStore) {
    let customer = Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse("Watched").unwrap(),
        plan: None,
        created_at: Timestamp::from_unix_seconds(1_735_312_000),
        suspended_at: None,
    };
    CustomerRepository::insert(store, &customer, &change_event())
        .await
        .unwrap();
}

/// The `pg_stat_activity` condition for the feed's backends on this test's database.
const OUR_LISTENER: &str =
    "application_name = 'releasy-change-feed' AND datname = current_database()";

/// Backends of this test's database that the feed opened.
async fn listener_count(conn: &mut AsyncPgConnection) -> i64 {
    diesel::select(diesel::dsl::sql::<BigInt>(&format!(
        "(SELECT count(*) FROM pg_stat_activity WHERE {OUR_LISTENER})"
    )))
    .get_result(conn)
    .await
    .unwrap()
}

async fn wait_for_listener_count(conn: &mut AsyncPgConnection, expected: i64) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let count = listener_count(conn).await;
        if count == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} listener backends after {DEADLINE:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A seeded database whose feed is listening, and an operator's connection to it.
struct Listening {
    store: PgStore,
    feed: ChangeFeedHandle,
    events: mpsc::UnboundedReceiver<ChangeEvent>,
    operator: AsyncPgConnection,
    /// Last, so the database is dropped after everything connected to it.
    _postgres: TestPostgres,
}

async fn listening() -> Listening {
    let postgres = TestPostgres::create().await;
    let store = seeded_store(&postgres).await;
    let (feed, mut events) = watch(&store);
    expect_event(&mut events, ChangeEvent::Listening).await;
    Listening {
        operator: sql(&postgres).await,
        store,
        feed,
        events,
        _postgres: postgres,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_comes_first_then_repository_writes_are_reported() {
    let mut db = listening().await;

    insert_customer_through_the_port(&db.store).await;
    expect_event(&mut db.events, changed("customers")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_sql_writes_on_another_connection_are_reported() {
    let mut db = listening().await;

    db.operator
        .batch_execute("UPDATE releases SET status = status")
        .await
        .unwrap();
    expect_event(&mut db.events, changed("releases")).await;

    db.operator
        .batch_execute("DELETE FROM entitlements WHERE id = 'none'")
        .await
        .unwrap();
    expect_event(&mut db.events, changed("entitlements")).await;

    db.operator
        .batch_execute("UPDATE artifacts SET size = 2")
        .await
        .unwrap();
    expect_event(&mut db.events, changed("artifacts")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rolled_back_writes_are_not_reported() {
    let mut db = listening().await;

    db.operator
        .batch_execute("BEGIN; UPDATE customers SET name = 'Never'; ROLLBACK;")
        .await
        .unwrap();
    db.operator
        .batch_execute("UPDATE releases SET status = status")
        .await
        .unwrap();
    expect_event(&mut db.events, changed("releases")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn last_use_updates_alone_are_not_reported() {
    let mut db = listening().await;

    db.operator
        .batch_execute(
            "UPDATE api_keys SET last_used_at = 1735312000, last_used_address = '192.0.2.1' \
             WHERE id = 'k1'",
        )
        .await
        .unwrap();
    insert_customer_through_the_port(&db.store).await;
    expect_event(&mut db.events, changed("customers")).await;

    // Any other column is reported, even alongside last_used_at.
    db.operator
        .batch_execute("UPDATE api_keys SET revoked_at = 5, last_used_at = 6 WHERE id = 'k1'")
        .await
        .unwrap();
    expect_event(&mut db.events, changed("api_keys")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_rule_change_is_reported() {
    let mut db = listening().await;
    db.operator
        .batch_execute("UPDATE api_keys SET allowed_cidrs = '10.0.0.0/8' WHERE id = 'k1'")
        .await
        .unwrap();
    expect_event(&mut db.events, changed("api_keys")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn download_token_inserts_are_not_reported_but_deletes_are() {
    let mut db = listening().await;

    db.operator
        .batch_execute(
            "INSERT INTO download_tokens (id, token_hash, artifact_id, customer_id, created_at, expires_at)
                 VALUES ('t2', 'token-hash-2', 'a1', 'c1', 1, 2)",
        )
        .await
        .unwrap();
    insert_customer_through_the_port(&db.store).await;
    expect_event(&mut db.events, changed("customers")).await;

    db.operator
        .batch_execute("DELETE FROM download_tokens WHERE id = 't2'")
        .await
        .unwrap();
    expect_event(&mut db.events, changed("download_tokens")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminated_listener_is_lost_then_listens_again() {
    let mut db = listening().await;

    assert_eq!(listener_count(&mut db.operator).await, 1);
    // Looked up first and terminated by pid: a terminate call in the WHERE clause may run
    // before the other conditions and end every backend on the server.
    let listener: i32 = diesel::select(diesel::dsl::sql::<Integer>(&format!(
        "(SELECT pid FROM pg_stat_activity WHERE {OUR_LISTENER})"
    )))
    .get_result(&mut db.operator)
    .await
    .unwrap();
    let terminated: bool = diesel::select(diesel::dsl::sql::<Bool>(&format!(
        "pg_terminate_backend({listener})"
    )))
    .get_result(&mut db.operator)
    .await
    .unwrap();
    assert!(terminated, "the listener backend is terminated");

    expect_event(&mut db.events, ChangeEvent::Lost).await;
    expect_event(&mut db.events, ChangeEvent::Listening).await;

    insert_customer_through_the_port(&db.store).await;
    expect_event(&mut db.events, changed("customers")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_handle_closes_the_listener() {
    let mut db = listening().await;
    assert_eq!(listener_count(&mut db.operator).await, 1);

    drop(db.feed);
    wait_for_listener_count(&mut db.operator, 0).await;
    // The task ended: its last word was that nothing listens any more, then it dropped
    // the callback, closing the channel.
    expect_event(&mut db.events, ChangeEvent::Lost).await;
    assert_eq!(
        tokio::time::timeout(DEADLINE, db.events.recv())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_waits_until_the_listener_is_closed() {
    let mut db = listening().await;

    db.feed.stop().await;
    assert_eq!(db.events.recv().await, Some(ChangeEvent::Lost));
    assert_eq!(db.events.recv().await, None, "the task has ended");
    wait_for_listener_count(&mut db.operator, 0).await;
}

/// The feed pings an idle listener every second; it keeps listening and reporting
/// through the pings, which are no changes.
#[tokio::test(flavor = "multi_thread")]
async fn changes_are_reported_after_idle_liveness_checks() {
    let mut db = listening().await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    insert_customer_through_the_port(&db.store).await;
    expect_event(&mut db.events, changed("customers")).await;
}

/// A listener cut off without a word (packets dropped, nothing closed) hears nothing,
/// and would let its cache serve what other instances withdrew: the feed reports it
/// lost within 1.7 s (it must hear its own ping within 1.2 s of sending it, each half
/// second of silence), and listens again once the database is reachable.
#[tokio::test(flavor = "multi_thread")]
async fn a_listener_cut_off_silently_is_lost_within_seconds() {
    let postgres = TestPostgres::create().await;
    let _seeded = seeded_store(&postgres).await;
    let proxy = releasy_testkit::OutageProxy::start(postgres.server_addr().await).await;
    let store = PgStore::connect(&postgres.url_through(proxy.addr()), 2).unwrap();
    let (_feed, mut events) = watch(&store);
    expect_event(&mut events, ChangeEvent::Listening).await;

    proxy.stall();
    let started = tokio::time::Instant::now();
    let lost = tokio::time::timeout(Duration::from_secs(8), events.recv()).await;
    assert_eq!(lost.ok().flatten(), Some(ChangeEvent::Lost));
    // 1.7 s at most by design (the 2 s a withdrawal waits for a listener must
    // outlast it); the rest is slack for a busy machine.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    proxy.restore().await;
    expect_event(&mut events, ChangeEvent::Listening).await;
}

/// A backend that looks like a listener but never answers a barrier (an instance of a
/// version before barriers, or one that hangs).
async fn mute_listener(postgres: &TestPostgres) -> AsyncPgConnection {
    let mut conn = sql(postgres).await;
    conn.batch_execute("SET application_name = 'releasy-change-feed'; LISTEN releasy_changes")
        .await
        .unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread")]
async fn a_barrier_returns_once_every_listener_has_relayed_what_came_before() {
    let mut first = listening().await;
    // A second instance on the same database.
    let second_store = PgStore::connect(first._postgres.url(), 2).unwrap();
    let (_second_feed, mut second_events) = watch(&second_store);
    expect_event(&mut second_events, ChangeEvent::Listening).await;

    insert_customer_through_the_port(&first.store).await;
    let outcome = first.feed.barrier().confirm(DEADLINE).await.unwrap();
    assert_eq!(outcome, BarrierOutcome::Confirmed { listeners: 2 });
    // Reported before the second feed answered, so before the barrier returned.
    assert_eq!(second_events.try_recv().ok(), Some(changed("customers")));
    expect_event(&mut first.events, changed("customers")).await;
    // Barriers are no changes: neither feed reported one.
    assert!(second_events.try_recv().is_err());
    assert!(first.events.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_listener_is_waited_for_until_the_bound_and_a_departed_one_not_at_all() {
    let first = listening().await;
    let mute = mute_listener(&first._postgres).await;
    let bound = Duration::from_millis(300);
    let outcome = first.feed.barrier().confirm(bound).await.unwrap();
    assert_eq!(outcome, BarrierOutcome::Unconfirmed { missing: 1 });

    let barrier = first.feed.barrier();
    let started = tokio::time::Instant::now();
    let waiting = tokio::spawn(async move { barrier.confirm(DEADLINE).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(mute);
    let outcome = waiting.await.unwrap().unwrap();
    assert_eq!(outcome, BarrierOutcome::Confirmed { listeners: 2 });
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the departed listener was waited for: {:?}",
        started.elapsed()
    );
}

/// A feed that does not listen hears no answer, so its barrier cannot confirm; it waits
/// out the bound (the other instances drop what the write changed when its notification
/// reaches them, or stop serving from memory once cut off).
#[tokio::test(flavor = "multi_thread")]
async fn a_barrier_of_a_feed_that_does_not_listen_waits_out_its_bound() {
    let db = listening().await;
    let second_store = PgStore::connect(db._postgres.url(), 2).unwrap();
    let (_second_feed, mut second_events) = watch(&second_store);
    expect_event(&mut second_events, ChangeEvent::Listening).await;

    let barrier = db.feed.barrier();
    db.feed.stop().await;
    let bound = Duration::from_millis(500);
    let started = tokio::time::Instant::now();
    let outcome = barrier.confirm(bound).await.unwrap();
    assert_eq!(
        outcome,
        BarrierOutcome::NotListening { others: 1 },
        "the other listener's answer could not be heard"
    );
    assert!(started.elapsed() >= bound, "{:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A single instance whose feed does not listen has nobody to wait for.
#[tokio::test(flavor = "multi_thread")]
async fn a_barrier_of_a_lone_feed_that_does_not_listen_returns_at_once() {
    let db = listening().await;
    let barrier = db.feed.barrier();
    db.feed.stop().await;
    let started = tokio::time::Instant::now();
    let outcome = barrier.confirm(DEADLINE).await.unwrap();
    assert_eq!(outcome, BarrierOutcome::NotListening { others: 0 });
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// The bound holds whatever holds a barrier up: here a pool whose one connection waits
/// on an operator's lock, so the barrier cannot even be sent (the pool alone would
/// keep it waiting 5 s).
#[tokio::test(flavor = "multi_thread")]
async fn a_barrier_ends_at_its_bound_when_no_connection_is_free() {
    let postgres = TestPostgres::create().await;
    let _seeded = seeded_store(&postgres).await;
    let store = PgStore::connect(postgres.url(), 1).unwrap();
    let (feed, mut events) = watch(&store);
    expect_event(&mut events, ChangeEvent::Listening).await;
    let mut operator = sql(&postgres).await;
    operator
        .batch_execute("BEGIN; LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let blocked = {
        let store = store.clone();
        tokio::spawn(async move { insert_customer_through_the_port(&store).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!blocked.is_finished(), "the write waits on the lock");

    let started = tokio::time::Instant::now();
    let outcome = feed.barrier().confirm(Duration::from_millis(300)).await;
    let took = started.elapsed();
    assert!(outcome.is_err(), "no barrier was sent: {outcome:?}");
    assert!(
        took < Duration::from_secs(2),
        "the bound was not kept: {took:?}"
    );

    operator.batch_execute("ROLLBACK").await.unwrap();
    blocked.await.unwrap();
}

/// A feed whose task ends by a panic (here the callback's own) still tells the consumer
/// it is lost: a cache must not go on trusting a feed that is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_feed_ended_by_a_panic_reports_lost_last() {
    let postgres = TestPostgres::create().await;
    let store = seeded_store(&postgres).await;
    let (tx, mut events) = mpsc::unbounded_channel();
    let _feed = store.watch_changes(move |event| {
        let listening = event == ChangeEvent::Listening;
        let _ = tx.send(event);
        assert!(!listening, "a callback that fails on Listening");
    });
    expect_event(&mut events, ChangeEvent::Listening).await;
    expect_event(&mut events, ChangeEvent::Lost).await;
    assert_eq!(
        tokio::time::timeout(DEADLINE, events.recv()).await.unwrap(),
        None,
        "the task ended"
    );
}
