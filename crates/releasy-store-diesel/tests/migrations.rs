//! Migrations apply, revert and re-apply on both backends, and concurrent starts on
//! PostgreSQL serialise on the advisory lock.
#![allow(clippy::expect_used, reason = "tests")]

use releasy_domain::customer::{Customer, CustomerName};
use releasy_domain::{CustomerId, Timestamp};
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::contract::change_event;
use releasy_testkit::{TestPostgres, TestSqlite};

/// The schema works: a customer can be stored and read back.
async fn assert_usable(db: &Database) {
    let repos = db.repositories();
    repos.health.ping().await.expect("the database answers");
    let customer = Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse("Migrated").expect("a valid name"),
        plan: None,
        created_at: Timestamp::from_unix_seconds(1_735_312_000),
        suspended_at: None,
    };
    repos
        .customers
        .insert(&customer, &change_event())
        .await
        .expect("insert after migrating");
    let got = repos
        .customers
        .get(customer.id)
        .await
        .expect("get after migrating");
    assert_eq!(got, Some(customer));
}

async fn round_trip(url: &DatabaseUrl) {
    let db = Database::open(url, 2).expect("the pool is built");
    db.migrate().await.expect("first migrate");
    assert_usable(&db).await;
    db.migrate().await.expect("migrating again is a no-op");
    db.revert_all_migrations()
        .await
        .expect("revert every migration");
    assert!(
        db.repositories()
            .customers
            .get(CustomerId::generate())
            .await
            .is_err(),
        "the tables are gone after reverting"
    );
    db.migrate().await.expect("migrate after reverting");
    assert_usable(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_revert_and_reapply() {
    let sqlite = TestSqlite::create();
    round_trip(&DatabaseUrl::sqlite_file(sqlite.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_migrations_revert_and_reapply() {
    round_trip(&DatabaseUrl::SqliteMemory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_revert_and_reapply() {
    let postgres = TestPostgres::create().await;
    round_trip(&DatabaseUrl::Postgres(postgres.url().to_owned())).await;
}

/// Listing the pending migrations writes nothing: not even diesel's bookkeeping table
/// in a database without one, and it works where writing is refused (a read-only
/// database, as for a read-only role), as `audit verify`, which walks the chain there,
/// must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pending_migrations_are_read_without_writing() {
    use diesel_async::{AsyncConnection as _, AsyncPgConnection, SimpleAsyncConnection as _};

    let postgres = TestPostgres::create().await;
    let url = DatabaseUrl::Postgres(postgres.url().to_owned());
    let fresh = Database::open(&url, 2).expect("the pool is built");
    let pending = fresh
        .pending_migrations()
        .await
        .expect("read on an empty database");
    assert!(
        pending.len() > 10,
        "every migration is pending: {pending:?}"
    );
    assert!(
        pending.windows(2).all(|pair| pair[0] < pair[1]),
        "oldest first"
    );
    let mut conn = AsyncPgConnection::establish(postgres.url())
        .await
        .expect("a connection");
    let found = diesel::sql_query(
        "DO $$ BEGIN IF to_regclass('__diesel_schema_migrations') IS NOT NULL \
         THEN RAISE EXCEPTION 'created'; END IF; END $$",
    );
    diesel_async::RunQueryDsl::execute(found, &mut conn)
        .await
        .expect("no bookkeeping table was created");

    fresh.migrate().await.expect("migrate");
    let event = releasy_domain::audit::AuditEvent::api_key_auth(
        releasy_domain::audit::AuthReason::NotFound,
        None,
        None,
        Timestamp::from_unix_seconds(1_735_312_000),
    );
    fresh
        .repositories()
        .audit
        .record_many(&[event])
        .await
        .expect("an event to walk");
    conn.batch_execute(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
        postgres.name()
    ))
    .await
    .expect("make the database read-only");
    let read_only = Database::open(&url, 2).expect("the pool is built");
    assert_eq!(
        read_only
            .pending_migrations()
            .await
            .expect("read on a read-only database"),
        Vec::<String>::new()
    );
    let chain = releasy_domain::audit::AuditService::new(read_only.repositories().audit)
        .verify()
        .await
        .expect("the audit chain is walked on a read-only database");
    assert_eq!(
        chain.events + chain.awaiting_link,
        1,
        "the event is read, linked or awaiting its link"
    );
    conn.batch_execute(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_read_only = off",
        postgres.name()
    ))
    .await
    .expect("writable again, for the database's removal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_migrations_all_succeed() {
    let postgres = TestPostgres::create().await;
    let url = DatabaseUrl::Postgres(postgres.url().to_owned());
    let instances: Vec<Database> = (0..4)
        .map(|_| Database::open(&url, 2).expect("the pool is built"))
        .collect();
    let starts: Vec<_> = instances
        .iter()
        .cloned()
        .map(|db| tokio::spawn(async move { db.migrate().await }))
        .collect();
    for (n, start) in starts.into_iter().enumerate() {
        start
            .await
            .expect("the migrating task panicked")
            .unwrap_or_else(|e| panic!("instance {n} failed to migrate: {e}"));
    }
    for db in &instances {
        assert_usable(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_migrations_on_one_file_all_succeed() {
    let sqlite = TestSqlite::create();
    let url = DatabaseUrl::sqlite_file(sqlite.path());
    let instances: Vec<Database> = (0..4)
        .map(|_| Database::open(&url, 2).expect("the pool is built"))
        .collect();
    let starts: Vec<_> = instances
        .iter()
        .cloned()
        .map(|db| tokio::spawn(async move { db.migrate().await }))
        .collect();
    for (n, start) in starts.into_iter().enumerate() {
        start
            .await
            .expect("the migrating task panicked")
            .unwrap_or_else(|e| panic!("instance {n} failed to migrate: {e}"));
    }
    for db in &instances {
        assert_usable(db).await;
    }
}

/// A migration waits for the write lock another process holds longer than the pool's
/// five-second busy timeout (another instance's migrations rebuilding an index over
/// every audit row), instead of failing with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_wait_for_a_long_held_write_lock() {
    let sqlite = TestSqlite::create();
    let url = DatabaseUrl::sqlite_file(sqlite.path());
    let holder = rusqlite::Connection::open(sqlite.path()).expect("open");
    // As a database the server has opened before (WAL is kept in the file).
    holder
        .execute_batch("PRAGMA journal_mode = WAL; BEGIN IMMEDIATE; CREATE TABLE held (x INTEGER);")
        .expect("the write lock");
    let db = Database::open(&url, 2).expect("the pool is built");
    let migrating = tokio::spawn(async move { db.migrate().await.map(|_| db) });
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    assert!(!migrating.is_finished(), "still waiting for the lock");
    holder.execute_batch("COMMIT").expect("release the lock");
    let db = migrating
        .await
        .expect("the migrating task panicked")
        .expect("migrated once the lock was released");
    assert_usable(&db).await;
}

/// `?mode=rwc` (as deployments of the reference carry) opens the file it names, not a
/// new file with the parameters in its name; `?mode=rw` never creates one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_url_parameters_open_the_named_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("releasy.db");
    let missing =
        DatabaseUrl::parse(&format!("sqlite://{}?mode=rw", file.display())).expect("a valid URL");
    let Err(refused) = Database::open(&missing, 2) else {
        panic!("mode=rw opened a file that does not exist");
    };
    assert!(refused.to_string().contains("does not exist"), "{refused}");
    assert!(!file.exists(), "mode=rw created nothing");

    let created =
        DatabaseUrl::parse(&format!("sqlite://{}?mode=rwc", file.display())).expect("a valid URL");
    let db = Database::open(&created, 2).expect("the pool is built");
    db.migrate().await.expect("migrate");
    assert_usable(&db).await;
    drop(db);
    assert!(file.is_file(), "the named file holds the database");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(
        names.iter().all(|name| !name.contains('?')),
        "no file named after the parameters: {names:?}"
    );

    let existing = Database::open(&missing, 2).expect("mode=rw opens the existing file");
    existing.migrate().await.expect("nothing left to apply");
    assert_usable(&existing).await;
}
