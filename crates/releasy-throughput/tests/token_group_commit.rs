#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
//! `TokenGroupCommit` and `insert_many` on SQLite (a file) and PostgreSQL: concurrent
//! inserts are committed together and each caller gets its own result; `insert_many`
//! stores all or none.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use releasy_domain::audit::AuditEvent;
use releasy_domain::customer::{Customer, CustomerName};
use releasy_domain::download::{DownloadGrant, DownloadToken, MaxUses};
use releasy_domain::ports::{DownloadTokenRepository, RepoError};
use releasy_domain::release::{Product, Release, ReleaseStatus, Version};
use releasy_domain::{ArtifactId, CustomerId, DownloadTokenId, ReleaseId, Timestamp};
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::contract::{change_event, with_events};
use releasy_testkit::{TestPostgres, TestSqlite};
use releasy_throughput::TokenGroupCommit;
use tokio::sync::{Notify, watch};

const T0: i64 = 1_735_312_000;

fn fresh() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A migrated database holding one customer and one artifact to issue tokens for.
struct Fixture {
    tokens: Arc<dyn DownloadTokenRepository>,
    customer: CustomerId,
    artifact: ArtifactId,
    // The `TestSqlite` or `TestPostgres`, dropped (deleting the database) last.
    _db: Box<dyn std::any::Any + Send>,
}

impl Fixture {
    async fn sqlite() -> Self {
        let sqlite = TestSqlite::create();
        let url = DatabaseUrl::sqlite_file(sqlite.path());
        Self::on(&url, Box::new(sqlite)).await
    }

    async fn postgres() -> Self {
        let postgres = TestPostgres::create().await;
        let url = DatabaseUrl::Postgres(postgres.url().to_owned());
        Self::on(&url, Box::new(postgres)).await
    }

    async fn on(url: &DatabaseUrl, db: Box<dyn std::any::Any + Send>) -> Self {
        let database = Database::open(url, 8).unwrap();
        database.migrate().await.unwrap();
        let repos = database.repositories();
        let customer = Customer {
            id: CustomerId::generate(),
            name: CustomerName::parse("Batch Downloader").unwrap(),
            plan: None,
            created_at: Timestamp::from_unix_seconds(T0),
            suspended_at: None,
        };
        repos
            .customers
            .insert(&customer, &change_event())
            .await
            .unwrap();
        let release = Release {
            id: ReleaseId::generate(),
            product: Product::parse("batched-app").unwrap(),
            version: Version::parse("1.0.0").unwrap(),
            status: ReleaseStatus::Published,
            created_at: Timestamp::from_unix_seconds(T0),
            published_at: Some(Timestamp::from_unix_seconds(T0 + 1)),
            ..Release::draft(
                Product::parse("batched-app").unwrap(),
                Version::parse("1.0.0").unwrap(),
                None,
                Timestamp::from_unix_seconds(T0),
            )
        };
        repos
            .releases
            .insert(&release, &change_event())
            .await
            .unwrap();
        let artifact = releasy_domain::memory::sample_artifact(
            &release,
            "linux",
            Timestamp::from_unix_seconds(T0),
        );
        repos
            .artifacts
            .insert(&artifact, &change_event())
            .await
            .unwrap();
        Self {
            tokens: repos.download_tokens,
            customer: customer.id,
            artifact: artifact.id,
            _db: db,
        }
    }

    fn token(&self) -> DownloadToken {
        DownloadToken {
            api_key_id: None,
            max_uses: None,
            allowed_networks: None,
            id: DownloadTokenId::generate(),
            token_hash: format!("{}{}", fresh(), fresh()),
            artifact_id: self.artifact,
            customer_id: self.customer,
            purpose: Some("batch test".to_owned()),
            created_at: Timestamp::from_unix_seconds(T0),
            expires_at: Timestamp::from_unix_seconds(T0 + 600),
        }
    }

    /// A token of an artifact that does not exist.
    fn orphan(&self) -> DownloadToken {
        DownloadToken {
            artifact_id: ArtifactId::generate(),
            ..self.token()
        }
    }

    async fn is_stored(&self, token: &DownloadToken) -> bool {
        let grant = self.tokens.find_grant(&token.token_hash).await.unwrap();
        grant.is_some_and(|g| g.token == *token)
    }
}

/// Passes writes to the store, recording each `insert_many` (its size and whether it
/// failed). While closed, every write waits at the gate, so a test can queue requests
/// behind the first and have them written as one batch.
#[derive(Debug)]
struct Gated {
    inner: Arc<dyn DownloadTokenRepository>,
    open: watch::Receiver<bool>,
    entered: Notify,
    batches: Mutex<Vec<(usize, bool)>>,
    inserts: Mutex<usize>,
}

impl Gated {
    fn new(
        inner: Arc<dyn DownloadTokenRepository>,
        open: bool,
    ) -> (Arc<Self>, watch::Sender<bool>) {
        let (gate, receiver) = watch::channel(open);
        let gated = Arc::new(Self {
            inner,
            open: receiver,
            entered: Notify::new(),
            batches: Mutex::new(Vec::new()),
            inserts: Mutex::new(0),
        });
        (gated, gate)
    }

    async fn pass(&self) {
        self.entered.notify_one();
        self.open.clone().wait_for(|open| *open).await.unwrap();
    }

    /// Sizes of the batches that failed.
    fn failed_batches(&self) -> Vec<usize> {
        let batches = self.batches.lock().unwrap();
        batches
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| *n)
            .collect()
    }

    fn writes(&self) -> usize {
        self.batches.lock().unwrap().len() + *self.inserts.lock().unwrap()
    }
}

#[async_trait]
impl DownloadTokenRepository for Gated {
    async fn insert(&self, token: &DownloadToken, event: &AuditEvent) -> Result<(), RepoError> {
        self.pass().await;
        *self.inserts.lock().unwrap() += 1;
        self.inner.insert(token, event).await
    }

    async fn insert_many(&self, issued: &[(DownloadToken, AuditEvent)]) -> Result<(), RepoError> {
        self.pass().await;
        let result = self.inner.insert_many(issued).await;
        self.batches
            .lock()
            .unwrap()
            .push((issued.len(), result.is_ok()));
        result
    }

    async fn purge_expired_before(
        &self,
        cutoff: releasy_domain::Timestamp,
        limit: u32,
    ) -> Result<u64, RepoError> {
        self.inner.purge_expired_before(cutoff, limit).await
    }

    async fn find_grant(&self, token_hash: &str) -> Result<Option<DownloadGrant>, RepoError> {
        self.inner.find_grant(token_hash).await
    }

    async fn consume_use(&self, id: DownloadTokenId, max_uses: MaxUses) -> Result<bool, RepoError> {
        self.inner.consume_use(id, max_uses).await
    }

    async fn return_use(&self, id: DownloadTokenId) -> Result<(), RepoError> {
        self.inner.return_use(id).await
    }
}

fn spawn_insert(
    repo: &TokenGroupCommit,
    token: &DownloadToken,
) -> tokio::task::JoinHandle<Result<(), RepoError>> {
    let (repo, token) = (repo.clone(), token.clone());
    tokio::spawn(async move { repo.insert(&token, &change_event()).await })
}

/// Inserts `first` and holds its write at the gate, queues `rest` behind it, then opens
/// the gate: `rest` is written as one batch. Returns each token's result, in order.
async fn insert_as_one_batch(
    gated: &Arc<Gated>,
    gate: &watch::Sender<bool>,
    first: &DownloadToken,
    rest: &[DownloadToken],
) -> (Result<(), RepoError>, Vec<Result<(), RepoError>>) {
    let grouped = TokenGroupCommit::start(gated.clone());
    let first = spawn_insert(&grouped, first);
    gated.entered.notified().await;
    let rest: Vec<_> = rest.iter().map(|t| spawn_insert(&grouped, t)).collect();
    // The spawned callers only have to reach the (roomy) queue; this is ample.
    tokio::time::sleep(Duration::from_millis(300)).await;
    gate.send(true).unwrap();
    let first = first.await.unwrap();
    let mut results = Vec::new();
    for task in rest {
        results.push(task.await.unwrap());
    }
    (first, results)
}

async fn concurrent_inserts_are_all_committed(fixture: Fixture) {
    let (gated, _gate) = Gated::new(fixture.tokens.clone(), true);
    let grouped = TokenGroupCommit::start(gated.clone());
    let tokens: Vec<_> = (0..200).map(|_| fixture.token()).collect();
    let tasks: Vec<_> = tokens.iter().map(|t| spawn_insert(&grouped, t)).collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for token in &tokens {
        assert!(
            fixture.is_stored(token).await,
            "every inserted token is stored"
        );
    }
    let writes = gated.writes();
    assert!(writes < 200, "200 concurrent inserts took {writes} writes");
}

async fn a_bad_token_fails_alone(fixture: Fixture) {
    let (gated, gate) = Gated::new(fixture.tokens.clone(), false);
    let first = fixture.token();
    let mut rest: Vec<_> = (0..20).map(|_| fixture.token()).collect();
    rest[7] = fixture.orphan();
    let (first_result, results) = insert_as_one_batch(&gated, &gate, &first, &rest).await;
    first_result.unwrap();
    assert_eq!(
        gated.failed_batches(),
        vec![20],
        "the batch with the orphan failed"
    );
    for (i, (token, result)) in rest.iter().zip(&results).enumerate() {
        if i == 7 {
            assert!(
                matches!(result, Err(RepoError::MissingReference)),
                "the orphan: {result:?}"
            );
            assert!(!fixture.is_stored(token).await);
        } else {
            assert!(result.is_ok(), "token {i}: {result:?}");
            assert!(fixture.is_stored(token).await, "token {i} is stored");
        }
    }
    assert!(fixture.is_stored(&first).await);
}

async fn duplicates_fail_alone(fixture: Fixture) {
    let stored = fixture.token();
    fixture
        .tokens
        .insert(&stored, &change_event())
        .await
        .unwrap();
    let (gated, gate) = Gated::new(fixture.tokens.clone(), false);
    let first = fixture.token();
    let twin = fixture.token();
    let rest = vec![
        fixture.token(),
        // The hash of a stored token, then the id of one.
        DownloadToken {
            token_hash: stored.token_hash.clone(),
            ..fixture.token()
        },
        DownloadToken {
            id: stored.id,
            ..fixture.token()
        },
        fixture.token(),
        // Two new tokens sharing a hash: the first written wins.
        twin.clone(),
        DownloadToken {
            token_hash: twin.token_hash.clone(),
            ..fixture.token()
        },
    ];
    let (first_result, results) = insert_as_one_batch(&gated, &gate, &first, &rest).await;
    first_result.unwrap();
    assert_eq!(gated.failed_batches(), vec![6]);
    let conflict = |r: &Result<(), RepoError>| matches!(r, Err(RepoError::Conflict));
    assert!(results[0].is_ok() && results[3].is_ok(), "{results:?}");
    assert!(conflict(&results[1]), "a stored hash: {:?}", results[1]);
    assert!(conflict(&results[2]), "a stored id: {:?}", results[2]);
    assert_eq!(
        results[4..].iter().filter(|r| conflict(r)).count(),
        1,
        "one of two tokens sharing a hash: {:?}",
        &results[4..]
    );
    assert!(fixture.is_stored(&rest[0]).await && fixture.is_stored(&rest[3]).await);
    assert!(
        fixture.is_stored(&stored).await,
        "the stored token is untouched"
    );
}

async fn insert_many_is_all_or_none(fixture: Fixture) {
    let tokens = &fixture.tokens;
    tokens.insert_many(&[]).await.unwrap();

    let good: Vec<_> = (0..5).map(|_| fixture.token()).collect();
    tokens.insert_many(&with_events(&good)).await.unwrap();
    for token in &good {
        assert!(fixture.is_stored(token).await);
    }

    let mut spoiled: Vec<_> = (0..5).map(|_| fixture.token()).collect();
    spoiled.insert(3, fixture.orphan());
    let result = tokens.insert_many(&with_events(&spoiled)).await;
    assert!(
        matches!(result, Err(RepoError::MissingReference)),
        "{result:?}"
    );
    for token in &spoiled {
        assert!(
            !fixture.is_stored(token).await,
            "nothing of a failed batch is stored"
        );
    }

    let mut duplicated: Vec<_> = (0..5).map(|_| fixture.token()).collect();
    duplicated.push(DownloadToken {
        token_hash: good[0].token_hash.clone(),
        ..fixture.token()
    });
    let result = tokens.insert_many(&with_events(&duplicated)).await;
    assert!(matches!(result, Err(RepoError::Conflict)), "{result:?}");
    for token in &duplicated[..5] {
        assert!(
            !fixture.is_stored(token).await,
            "nothing of a failed batch is stored"
        );
    }

    // Through the batcher, `insert_many` is the store's own.
    let grouped = TokenGroupCommit::start(tokens.clone());
    let result = grouped.insert_many(&with_events(&spoiled)).await;
    assert!(
        matches!(result, Err(RepoError::MissingReference)),
        "{result:?}"
    );
    assert!(!fixture.is_stored(&spoiled[0]).await);
}

/// Larger than one statement holds: split, but still one transaction.
async fn a_large_insert_many_is_all_or_none(fixture: Fixture) {
    let mut tokens: Vec<_> = (0..2500).map(|_| fixture.token()).collect();
    tokens.push(fixture.orphan());
    let result = fixture.tokens.insert_many(&with_events(&tokens)).await;
    assert!(
        matches!(result, Err(RepoError::MissingReference)),
        "{result:?}"
    );
    assert!(!fixture.is_stored(&tokens[0]).await);
    tokens.pop();
    fixture
        .tokens
        .insert_many(&with_events(&tokens))
        .await
        .unwrap();
    assert!(fixture.is_stored(&tokens[0]).await && fixture.is_stored(&tokens[2499]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_concurrent_inserts_are_all_committed() {
    concurrent_inserts_are_all_committed(Fixture::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_concurrent_inserts_are_all_committed() {
    concurrent_inserts_are_all_committed(Fixture::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_a_bad_token_fails_alone() {
    a_bad_token_fails_alone(Fixture::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_bad_token_fails_alone() {
    a_bad_token_fails_alone(Fixture::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_duplicates_fail_alone() {
    duplicates_fail_alone(Fixture::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_duplicates_fail_alone() {
    duplicates_fail_alone(Fixture::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_insert_many_is_all_or_none() {
    insert_many_is_all_or_none(Fixture::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_insert_many_is_all_or_none() {
    insert_many_is_all_or_none(Fixture::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_a_large_insert_many_is_all_or_none() {
    a_large_insert_many_is_all_or_none(Fixture::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_large_insert_many_is_all_or_none() {
    a_large_insert_many_is_all_or_none(Fixture::postgres().await).await;
}

/// PostgreSQL refuses a NUL character in text: that token's own value spoils the batch
/// (an internal error, not a conflict), and still only its caller fails.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_value_the_database_rejects_fails_alone() {
    let fixture = Fixture::postgres().await;
    let (gated, gate) = Gated::new(fixture.tokens.clone(), false);
    let first = fixture.token();
    let rest = vec![
        fixture.token(),
        DownloadToken {
            purpose: Some("nul \0 inside".to_owned()),
            ..fixture.token()
        },
        fixture.token(),
    ];
    let (first_result, results) = insert_as_one_batch(&gated, &gate, &first, &rest).await;
    first_result.unwrap();
    assert_eq!(gated.failed_batches(), vec![3]);
    assert!(
        matches!(results[1], Err(RepoError::Internal(_))),
        "{results:?}"
    );
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(fixture.is_stored(&rest[0]).await && fixture.is_stored(&rest[2]).await);
}

/// With several batches written at once (as on PostgreSQL), every caller still gets its
/// own token committed, and a bad token still fails alone.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_batches_written_concurrently_commit_every_token() {
    let fixture = Fixture::postgres().await;
    let grouped = TokenGroupCommit::with_concurrent_batches(fixture.tokens.clone(), 3);
    let mut tokens: Vec<_> = (0..300).map(|_| fixture.token()).collect();
    let bad = DownloadToken {
        artifact_id: releasy_domain::ArtifactId::generate(),
        ..fixture.token()
    };
    tokens.insert(150, bad.clone());
    let tasks: Vec<_> = tokens.iter().map(|t| spawn_insert(&grouped, t)).collect();
    for (token, task) in tokens.iter().zip(tasks) {
        let result = task.await.unwrap();
        if token.id == bad.id {
            assert!(
                matches!(result, Err(RepoError::MissingReference)),
                "{result:?}"
            );
            assert!(!fixture.is_stored(token).await);
        } else {
            result.unwrap();
            assert!(fixture.is_stored(token).await, "every good token is stored");
        }
    }
}
