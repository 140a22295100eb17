#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]
//! The repository contract suite (`releasy_testkit::contract`) through the production
//! wrapping (read cache, audit write-behind, token group commit) on every store the
//! server runs on, and two instances sharing one PostgreSQL database.
//!
//! The bare stores are checked in `releasy-store-diesel/tests/contract.rs`; here the
//! decorators must keep every promise the stores make.

use std::time::Duration;

use releasy_domain::customer::{Customer, CustomerName, CustomerUpdate};
use releasy_domain::ports::Repositories;
use releasy_domain::{CustomerId, Timestamp};
use releasy_store_diesel::{ChangeEvent, ChangeFeedHandle, Database, DatabaseUrl};
use releasy_testkit::contract::change_event;
use releasy_testkit::contract::{run_all, run_all_beside_another_suite};
use releasy_testkit::{TestPostgres, TestSqlite};
use releasy_throughput::{ProductionStack, ThroughputSettings, Writers, wrap_for_production};
use tokio::sync::watch;

/// How long a change may take to reach another instance through the change feed
/// (typically milliseconds; generous for a loaded CI machine).
const FEED_DEADLINE: Duration = Duration::from_secs(10);

async fn migrated(url: &DatabaseUrl) -> Database {
    let db = Database::open(url, 5).expect("the pool is built");
    db.migrate().await.expect("migrations apply");
    db
}

fn production(store: Repositories, writers: Writers) -> ProductionStack {
    wrap_for_production(
        store,
        ThroughputSettings {
            concurrent_token_batches: 2,
            ..ThroughputSettings::new(writers)
        },
    )
}

/// One server instance on a shared PostgreSQL database: its production stack, with the
/// change feed reporting into its cache, and the cache listening before it is used.
struct Instance {
    stack: ProductionStack,
    _feed: ChangeFeedHandle,
}

impl Instance {
    async fn on(db: &Database) -> Self {
        let Database::Postgres(pg) = db else {
            panic!("instances share a PostgreSQL database")
        };
        let stack = production(db.repositories(), Writers::Shared);
        let invalidator = stack.invalidator.clone().expect("a shared cache has one");
        let (listening, mut is_listening) = watch::channel(false);
        let feed = pg.watch_changes(move |event| match event {
            ChangeEvent::Listening => {
                invalidator.listening();
                listening.send_replace(true);
            }
            ChangeEvent::Changed(table) => invalidator.changed_named(&table),
            ChangeEvent::Lost => {
                invalidator.lost();
                listening.send_replace(false);
            }
        });
        tokio::time::timeout(FEED_DEADLINE, is_listening.wait_for(|listening| *listening))
            .await
            .expect("the change feed listens")
            .unwrap();
        Self { stack, _feed: feed }
    }

    fn repos(&self) -> &Repositories {
        &self.stack.repositories
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_stores_honour_the_contract_through_the_production_stack() {
    let stack = production(Repositories::in_memory(), Writers::ThisProcessOnly);
    run_all(stack.repositories.clone()).await;
    stack.audit.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_honours_the_contract_through_the_production_stack() {
    let sqlite = TestSqlite::create();
    let db = migrated(&DatabaseUrl::sqlite_file(sqlite.path())).await;
    let stack = production(db.repositories(), Writers::ThisProcessOnly);
    run_all(stack.repositories.clone()).await;
    stack.audit.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_honours_the_contract_through_the_production_stack() {
    let db = migrated(&DatabaseUrl::SqliteMemory).await;
    let stack = production(db.repositories(), Writers::ThisProcessOnly);
    run_all(stack.repositories.clone()).await;
    stack.audit.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_honours_the_contract_through_the_production_stack() {
    let postgres = TestPostgres::create().await;
    let db = migrated(&DatabaseUrl::Postgres(postgres.url().to_owned())).await;
    let instance = Instance::on(&db).await;
    run_all(instance.repos().clone()).await;
    instance.stack.audit.shutdown().await.unwrap();
}

/// Both instances run the suite at once on one database: each one's writes invalidate
/// what the other cached, so neither sees a stale row. (All but the idempotency purge,
/// whose cutoff is global; idempotency records bypass the cache anyway.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database_honour_the_contract_together() {
    let postgres = TestPostgres::create().await;
    let url = DatabaseUrl::Postgres(postgres.url().to_owned());
    let (a, b) = (
        Instance::on(&migrated(&url).await).await,
        Instance::on(&migrated(&url).await).await,
    );
    tokio::join!(
        run_all_beside_another_suite(a.repos().clone()),
        run_all_beside_another_suite(b.repos().clone())
    );
}

fn customer(name: &str) -> Customer {
    Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse(name).unwrap(),
        plan: None,
        created_at: Timestamp::from_unix_seconds(1_735_312_000),
        suspended_at: None,
    }
}

/// Polls `read` until it returns `expected`, for at most [`FEED_DEADLINE`].
async fn eventually<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: T,
    read: impl AsyncFn() -> T,
) {
    let started = tokio::time::Instant::now();
    loop {
        let seen = read().await;
        if seen == expected {
            return;
        }
        assert!(
            started.elapsed() < FEED_DEADLINE,
            "{what}: still {seen:?} after {FEED_DEADLINE:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A row the second instance has cached is replaced there once the first instance
/// changes it: the write reaches the second cache through the change feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_instance_is_seen_by_reads_through_another() {
    let postgres = TestPostgres::create().await;
    let url = DatabaseUrl::Postgres(postgres.url().to_owned());
    let (a, b) = (
        Instance::on(&migrated(&url).await).await,
        Instance::on(&migrated(&url).await).await,
    );
    let acme = customer("Acme");
    a.repos()
        .customers
        .insert(&acme, &change_event())
        .await
        .unwrap();

    let read_on_b = async || {
        b.repos()
            .customers
            .get(acme.id)
            .await
            .unwrap()
            .map(|c| c.name.to_string())
    };
    eventually("the new customer on b", Some("Acme".to_owned()), read_on_b).await;
    // b answers from its cache now; a renames the customer.
    assert_eq!(read_on_b().await.as_deref(), Some("Acme"));
    let renamed = CustomerUpdate {
        name: Some(CustomerName::parse("Acme Corp").unwrap()),
        plan: None,
        suspended_at: None,
    };
    a.repos()
        .customers
        .update(acme.id, &renamed, &|_, _| vec![change_event()])
        .await
        .unwrap()
        .expect("the customer exists");
    eventually(
        "the renamed customer on b",
        Some("Acme Corp".to_owned()),
        read_on_b,
    )
    .await;
}
