//! Errors the stores report in the ports' vocabulary.
#![allow(clippy::expect_used, reason = "tests")]

use releasy_domain::ports::RepoError;
use releasy_store_diesel::{Database, DatabaseUrl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_postgres_is_unavailable() {
    // Nothing listens on port 1; the pool gives up within its 5 s timeout.
    let url = DatabaseUrl::Postgres("postgres://postgres@127.0.0.1:1/releasy".to_owned());
    let db = Database::open(&url, 1).expect("the pool is built lazily");
    let repos = db.repositories();
    match repos.health.ping().await {
        Err(RepoError::Unavailable(_)) => {}
        other => panic!("ping of a closed port: expected Err(Unavailable), got {other:?}"),
    }
    match repos
        .customers
        .get(releasy_domain::CustomerId::generate())
        .await
    {
        Err(RepoError::Unavailable(_)) => {}
        other => panic!("get on a closed port: expected Err(Unavailable), got {other:?}"),
    }
}
