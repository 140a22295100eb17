//! Releases stored before the release model's migration (or by an older server since)
//! have no version order key; migrating fills it in, with the channel their version
//! implies, on both backends.
#![allow(clippy::expect_used, reason = "tests")]

use diesel::connection::SimpleConnection;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use releasy_domain::Timestamp;
use releasy_domain::pagination::PageRequest;
use releasy_domain::release::{Channel, Product, Release, ReleaseFilter, ReleaseOrder, Version};
use releasy_store_diesel::{Database, DatabaseUrl};
use releasy_testkit::contract::change_event;
use releasy_testkit::{TestPostgres, TestSqlite};

/// What a release row looks like before the migration filled it in: the columns'
/// defaults.
const FORGET_THE_ORDER: &str = "UPDATE releases SET version_order = '', channel = 'stable'";

/// Stores releases, lets `forget` blank their order keys, migrates again, and checks
/// the version order and the derived channels.
async fn check(db: &Database, forget: impl AsyncFnOnce()) {
    db.migrate().await.expect("migrate");
    let repos = db.repositories();
    let versions = ["1.0.0", "nightly", "2.0.0-rc.1", "1.10.0", "2.0.0-beta.3"];
    for (i, version) in versions.iter().enumerate() {
        let release = Release::draft(
            Product::parse("backfilled").expect("product"),
            Version::parse(version).expect("version"),
            None,
            Timestamp::from_unix_seconds(1_735_312_000 + i as i64),
        );
        repos
            .releases
            .insert(&release, &change_event())
            .await
            .expect("insert");
    }
    forget().await;
    db.migrate()
        .await
        .expect("migrating again fills the keys in");
    let filter = ReleaseFilter {
        product: Some("backfilled".to_owned()),
        order: ReleaseOrder::Version,
        ..ReleaseFilter::default()
    };
    let listed = repos
        .releases
        .list(&filter, PageRequest::default())
        .await
        .expect("list");
    let got: Vec<(String, Channel)> = listed
        .into_iter()
        .map(|r| (r.version.into_string(), r.channel))
        .collect();
    assert_eq!(
        got,
        [
            ("2.0.0-rc.1", Channel::Rc),
            ("2.0.0-beta.3", Channel::Beta),
            ("1.10.0", Channel::Stable),
            ("1.0.0", Channel::Stable),
            ("nightly", Channel::Dev),
        ]
        .map(|(v, c)| (v.to_owned(), c))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_fills_in_the_version_order_of_older_rows() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    let path = sqlite.path().to_owned();
    check(&db, async move || {
        use diesel::Connection;
        let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
            .expect("a second connection");
        conn.batch_execute(FORGET_THE_ORDER)
            .expect("blank the keys");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fills_in_the_version_order_of_older_rows() {
    let postgres = TestPostgres::create().await;
    let url = postgres.url().to_owned();
    let db = Database::open(&DatabaseUrl::Postgres(url.clone()), 2).expect("pool");
    check(&db, async move || {
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .expect("a second connection");
        conn.batch_execute(FORGET_THE_ORDER)
            .await
            .expect("blank the keys");
    })
    .await;
}

/// A release an earlier server (the reference checked no names) stored with a version
/// today's rules refuse (longer than 128 characters) and a product with spaces around
/// it: the version read as stored, the product trimmed as the rules read it, ordered
/// and filed by its version, listed, and deleted, not a 500 for every listing it is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_releases_an_earlier_server_stored_with_any_name() {
    use diesel::Connection;
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    db.migrate().await.expect("migrate");
    let version = format!("2.0.0-beta.1+{}", "b".repeat(200));
    let id = releasy_domain::ReleaseId::generate();
    let mut conn = diesel::SqliteConnection::establish(&sqlite.path().to_string_lossy())
        .expect("a second connection");
    conn.batch_execute(&format!(
        "INSERT INTO releases (id, product, version, status, created_at, published_at, \
         channel, version_order, yank_blocks_downloads) VALUES \
         ('{id}', ' carried ', '{version}', 'published', 1735312000, 1735312000, 'stable', '', 0);"
    ))
    .expect("a row as the reference stored it");
    db.migrate()
        .await
        .expect("migrating fills its order key in");

    let repos = db.repositories();
    let stored = repos
        .releases
        .get(id)
        .await
        .expect("read back")
        .expect("there");
    assert_eq!(stored.version.as_str(), version);
    assert_eq!(
        stored.product.as_str(),
        "carried",
        "trimmed, as it was always read"
    );
    // Its order key and channel from its version (a version refused by today's rules
    // was once ordered and filed as not semver, on `stable`).
    assert_eq!(stored.channel, Channel::Beta);
    let listed = repos
        .releases
        .list(&ReleaseFilter::default(), PageRequest::default())
        .await
        .expect("listed");
    assert!(listed.iter().any(|r| r.id == id));
    assert!(
        repos
            .releases
            .delete(id, &|_| change_event())
            .await
            .expect("deleted")
            .is_some()
    );
}

/// Sixteen published releases, a full read of `latest`, the newest of them stored as an
/// older server stores it (no order key, so below all the others) until a fill-in.
fn releases_one_without_an_order_key() -> String {
    let mut sql = String::new();
    let row = |i: usize, version: &str, order_key: &str| {
        format!(
            "INSERT INTO releases (id, product, version, status, created_at, published_at, \
             channel, version_order, yank_blocks_downloads) VALUES \
             ('{id}', 'stuck', '{version}', 'published', {at}, {at}, 'stable', '{order_key}', 0);\n",
            id = releasy_domain::ReleaseId::generate(),
            at = 1_735_312_000 + i,
        )
    };
    for i in 0..15 {
        let version = format!("1.0.{i}");
        let key = Version::parse(&version).expect("version").order_key();
        sql.push_str(&row(i, &version, &key));
    }
    sql.push_str(&row(15, "3.0.0", ""));
    sql
}

/// `latest` walks a product's releases in stored order, each read after the last
/// release of the one before. A row an older server stored without an order key sorts
/// below where its version puts it; a read ending on it must end the walk, not start it
/// over (it read the same sixteen releases for ever when none had the asked platform).
async fn latest_ends_on_a_row_without_an_order_key(db: &Database) {
    use releasy_domain::memory::{FixedClock, InMemoryObjects};
    use releasy_domain::release::{NewestQuery, ReleaseService, ReleaseViewer};
    let repos = db.repositories();
    let service = ReleaseService::new(
        repos.releases,
        repos.artifacts,
        repos.entitlements,
        std::sync::Arc::new(InMemoryObjects::default()),
        std::sync::Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_400_000))),
    );
    let query = NewestQuery {
        platform: Some(
            releasy_domain::artifact::Platform::parse("windows-x86_64").expect("platform"),
        ),
        ..NewestQuery::stable(Product::parse("stuck").expect("product"))
    };
    let found = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        service.newest(ReleaseViewer::Operator, &query),
    )
    .await
    .expect("the walk ends");
    assert_eq!(found.expect("newest"), None, "no release has the platform");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_latest_ends_on_a_row_without_an_order_key() {
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    db.migrate().await.expect("migrate");
    {
        use diesel::Connection;
        let mut conn = diesel::SqliteConnection::establish(&sqlite.path().to_string_lossy())
            .expect("a second connection");
        conn.batch_execute(&releases_one_without_an_order_key())
            .expect("insert the releases");
    }
    latest_ends_on_a_row_without_an_order_key(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_latest_ends_on_a_row_without_an_order_key() {
    let postgres = TestPostgres::create().await;
    let db = Database::open(&DatabaseUrl::Postgres(postgres.url().to_owned()), 2).expect("pool");
    db.migrate().await.expect("migrate");
    AsyncPgConnection::establish(postgres.url())
        .await
        .expect("a second connection")
        .batch_execute(&releases_one_without_an_order_key())
        .await
        .expect("insert the releases");
    latest_ends_on_a_row_without_an_order_key(&db).await;
}

/// During a rolling upgrade an older instance stores a release without an order key;
/// a channel set on it through a newer instance stays, though the fill-in that follows
/// gives rows without a key the channel their version implies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_set_before_the_fill_in_stays() {
    use diesel::Connection;
    use releasy_domain::release::ReleaseChanges;
    let sqlite = TestSqlite::create();
    let db = Database::open(&DatabaseUrl::sqlite_file(sqlite.path()), 2).expect("pool");
    db.migrate().await.expect("migrate");
    let id = releasy_domain::ReleaseId::generate();
    diesel::SqliteConnection::establish(&sqlite.path().to_string_lossy())
        .expect("a second connection")
        .batch_execute(&format!(
            "INSERT INTO releases (id, product, version, status, created_at, channel, \
             version_order, yank_blocks_downloads) VALUES \
             ('{id}', 'rolling', '3.0.0-preview.1', 'draft', 1735312000, 'stable', '', 0);"
        ))
        .expect("a row as an older server stores it");
    let changes = ReleaseChanges {
        channel: Some(Channel::Beta),
        ..ReleaseChanges::default()
    };
    let repos = db.repositories();
    repos
        .releases
        .update_draft(id, &changes, &|_, _| Vec::new())
        .await
        .expect("updated")
        .expect("a draft");
    db.fill_in_version_order().await.expect("fill in");
    let stored = repos.releases.get(id).await.expect("read").expect("there");
    assert_eq!(stored.channel, Channel::Beta);
}
