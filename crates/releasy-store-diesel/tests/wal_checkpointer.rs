#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
//! `SqliteStore::checkpoint_in_background` on a real database file: pages written to
//! the write-ahead log reach the database file without any commit checkpointing them,
//! again after the checkpointer has backed off, within moments of each write while
//! writes keep coming (not an idle interval later), and the thread stops once the store
//! is gone.
//!
//! One test, in a binary of its own: it counts this process's checkpoint threads.

use std::path::Path;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use releasy_store_diesel::{Database, DatabaseUrl, SqliteStore};
use releasy_testkit::TestSqlite;

/// The checkpointer's idle interval in this test.
const IDLE: Duration = Duration::from_millis(100);

async fn migrated_store(path: &Path) -> SqliteStore {
    let Database::Sqlite(store) = Database::open(&DatabaseUrl::sqlite_file(path), 2).unwrap()
    else {
        unreachable!("a SQLite URL opens SQLite")
    };
    store.migrate().await.unwrap();
    store
}

/// A connection that never checkpoints by itself, so only the checkpointer copies its
/// pages into the database file.
fn writer(path: &Path) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 0;")
        .unwrap();
    conn
}

/// Writes about `mib` MiB of rows in one transaction.
fn write_rows(conn: &mut SqliteConnection, mib: usize) {
    conn.batch_execute(&format!(
        "BEGIN; \
         CREATE TABLE IF NOT EXISTS filler (body BLOB NOT NULL); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
         INSERT INTO filler SELECT randomblob(1024) FROM n; \
         COMMIT;",
        mib * 1024
    ))
    .unwrap();
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// Waits up to five seconds for `done`.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// This process's threads named like the checkpointer's.
fn checkpoint_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .filter(|name| name.trim() == "wal-checkpoint")
        .count()
}

#[tokio::test]
async fn the_log_is_copied_into_the_database_file_in_the_background() {
    let Database::Sqlite(in_memory) = Database::open(&DatabaseUrl::SqliteMemory, 1).unwrap() else {
        unreachable!("a SQLite URL opens SQLite")
    };
    in_memory.checkpoint_in_background(IDLE).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(checkpoint_threads(), 0, "an in-memory database has no log");

    let sqlite = TestSqlite::create();
    let path = sqlite.path();
    let store = migrated_store(&path).await;
    let mut conn = writer(&path);
    write_rows(&mut conn, 1);
    let unchecked = file_size(&path);
    assert!(
        unchecked < 1024 * 1024,
        "nothing copies the log yet: {unchecked} bytes"
    );

    store.checkpoint_in_background(IDLE).unwrap();
    store.checkpoint_in_background(IDLE).unwrap();
    eventually("the checkpoint thread runs", || checkpoint_threads() > 0);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(checkpoint_threads(), 1, "a second call starts nothing");
    eventually("the first MiB is in the database file", || {
        file_size(&path) > 1024 * 1024
    });

    // After the checkpointer has backed off to its idle interval.
    std::thread::sleep(IDLE * 3);
    write_rows(&mut conn, 2);
    eventually("the next two MiB are in the database file", || {
        file_size(&path) > 3 * 1024 * 1024
    });

    let clone = store.clone();
    drop(store);
    std::thread::sleep(IDLE * 3);
    assert_eq!(checkpoint_threads(), 1, "a clone keeps it running");
    drop(clone);
    eventually("the checkpoint thread has stopped", || {
        checkpoint_threads() == 0
    });

    // While writes keep coming the passes follow each other: every write is copied
    // within moments, though the idle interval is a minute.
    let sqlite = TestSqlite::create();
    let path = sqlite.path();
    let store = migrated_store(&path).await;
    let mut conn = writer(&path);
    store
        .checkpoint_in_background(Duration::from_secs(60))
        .unwrap();
    for round in 1..=5 {
        let before = file_size(&path);
        write_rows(&mut conn, 1);
        eventually(&format!("write {round} is in the database file"), || {
            file_size(&path) > before
        });
    }
}
