//! Servers before 2026-12-06 recorded the `null` version id of a bucket whose
//! versioning is suspended, which pins nothing (the next `PUT` under the key replaces
//! that version): such rows, and those an older instance writes during a rolling
//! upgrade, read as holding no version, on both backends, so their objects are judged
//! by their entity tags.
#![allow(clippy::expect_used, reason = "tests")]

use releasy_domain::artifact::{Artifact, Verification};
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::contract::artifacts::new_artifact;
use releasy_testkit::contract::change_event;
use releasy_testkit::contract::releases::{new_release, store_release};
use releasy_testkit::{TestPostgres, TestSqlite};

async fn check(db: &Database) {
    db.migrate().await.expect("migrate");
    let repos = db.repositories();
    let release = new_release("versioned", "1.0.0", 1_735_312_000);
    store_release(&repos.releases, &release).await;
    for (version, read_as) in [("null", None), ("v2", Some("v2"))] {
        let artifact = Artifact {
            verification: Verification::Pending,
            object_etag: Some("\"e1\"".to_owned()),
            // As an older server recorded it.
            object_version: Some(version.to_owned()),
            ..new_artifact(&release, "linux", 1_735_312_000)
        };
        repos
            .artifacts
            .insert(&artifact, &change_event())
            .await
            .expect("insert the artifact");
        let (read, _) = repos
            .artifacts
            .get_with_release(artifact.id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(read.object_version.as_deref(), read_as, "{version}");
        assert_eq!(read.object_etag.as_deref(), Some("\"e1\""));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_a_null_version_as_none() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    check(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_a_null_version_as_none() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 2).expect("pool");
    check(&db).await;
}
