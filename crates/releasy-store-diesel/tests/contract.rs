//! The repository contract suite (`releasy_testkit::contract`) against every store:
//! the in-memory fakes, SQLite on a file and in memory, and PostgreSQL. The same suite
//! runs through the production wrapping in `releasy-throughput`'s tests.
#![allow(clippy::expect_used, reason = "tests")]

use releasy_domain::ports::Repositories;
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::contract::run_all;
use releasy_testkit::{TestPostgres, TestSqlite};

async fn migrated(url: &DatabaseUrl, max_connections: usize) -> Database {
    let db = Database::open(url, max_connections).expect("the pool is built");
    db.migrate().await.expect("migrations apply");
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_ports_honour_the_contract() {
    run_all(Repositories::in_memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_honours_the_contract() {
    let sqlite = TestSqlite::create();
    let db = migrated(&DatabaseUrl::sqlite_file(sqlite.path()), 5).await;
    run_all(db.repositories()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_honours_the_contract() {
    let postgres = TestPostgres::create().await;
    let db = migrated(&DatabaseUrl::Postgres(postgres.url().to_owned()), 5).await;
    run_all(db.repositories()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_honours_the_contract() {
    let db = migrated(&DatabaseUrl::SqliteMemory, 5).await;
    run_all(db.repositories()).await;
}
