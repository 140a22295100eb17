//! The cache never answers with data a write has replaced: writes through the cache
//! are seen at once, writes from elsewhere once the change feed reports them (and
//! while the feed is not listening nothing is served from memory), time-dependent
//! rules are applied at every request, and a write racing a read leaves nothing stale.
//!
//! Two "instances" share one set of in-memory repositories, as two servers share one
//! database; each has its own cache.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use releasy_domain::api_key::{AuthFailure, IssuedKey, KeyType, NewApiKeyRequest, ScopeSet};
use releasy_domain::audit::{AuditEvent, AuthReason, Origin};
use releasy_domain::customer::{
    Customer, CustomerChanges, CustomerFilter, CustomerName, CustomerUpdate,
};
use releasy_domain::entitlement::{EntitlementScope, EntitlementWindow, NewEntitlement};
use releasy_domain::memory::{FixedClock, InMemoryCustomers};
use releasy_domain::pagination::{CursorPage, PageLimit, PageRequest, PageStart};
use releasy_domain::ports::{ChangeEvents, CustomerRepository, RepoError};
use releasy_domain::release::{
    Product, Release, ReleaseFilter, ReleaseNotes, ReleaseQuery, ReleaseViewer, Version,
};
use releasy_domain::{CustomerId, Ports, Services, Timestamp};
use releasy_testkit::contract::change_event;
use releasy_throughput::read_cache::{PeerCaches, ReadCache, Table};
use tokio::sync::Notify;

const T0: Timestamp = Timestamp::from_unix_seconds(1_735_312_000);

/// One server: services over the shared repositories, through its own cache.
struct Instance {
    cache: ReadCache,
    services: Services,
}

impl Instance {
    fn new(cache: ReadCache, shared: &Ports) -> Self {
        Self {
            services: Services::new(Ports {
                repositories: cache.wrap(shared.repositories.clone()),
                ..shared.clone()
            }),
            cache,
        }
    }

    async fn authenticate(&self, key: &IssuedKey) -> Result<CustomerId, AuthReason> {
        match self
            .services
            .authenticator
            .authenticate(Some(key.secret.expose()))
            .await
        {
            Ok(key) => Ok(key.customer_id),
            Err(AuthFailure::Rejected(reason)) => Err(reason),
            Err(other) => panic!("authentication failed: {other}"),
        }
    }

    async fn customer_view(&self, customer: CustomerId) -> Vec<String> {
        self.services
            .releases
            .list(
                ReleaseViewer::Customer(customer),
                &ReleaseQuery::default(),
                PageRequest::default(),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|l| format!("{}@{}", l.release.product, l.release.version))
            .collect()
    }
}

struct World {
    clock: Arc<FixedClock>,
    shared: Ports,
}

impl World {
    fn new() -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        Self {
            shared: Ports::in_memory(clock.clone()),
            clock,
        }
    }

    fn instance(&self) -> Instance {
        Instance::new(ReadCache::new(10_000), &self.shared)
    }

    async fn customer_with_key(&self, on: &Instance) -> (Customer, IssuedKey) {
        let customer = on
            .services
            .customers
            .create(
                &Origin::admin_key(),
                CustomerName::parse("Acme").unwrap(),
                None,
            )
            .await
            .unwrap();
        let key = on
            .services
            .api_keys
            .create(
                &Origin::admin_key(),
                NewApiKeyRequest {
                    allowed_networks: None,
                    customer_id: customer.id,
                    name: None,
                    key_type: KeyType::Ci,
                    scopes: ScopeSet::parse(&["releases:read"]).unwrap(),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        (customer, key)
    }
}

fn suspension() -> CustomerChanges {
    CustomerChanges::new(None, None, Some(true)).unwrap()
}

#[tokio::test]
async fn writes_through_an_instance_are_seen_by_it_at_once() {
    let world = World::new();
    let a = world.instance();
    let (customer, key) = world.customer_with_key(&a).await;
    assert_eq!(a.authenticate(&key).await, Ok(customer.id));
    assert_eq!(
        a.authenticate(&key).await,
        Ok(customer.id),
        "now from memory"
    );

    a.services
        .customers
        .update(&Origin::admin_key(), customer.id, suspension())
        .await
        .unwrap();
    assert_eq!(a.authenticate(&key).await, Err(AuthReason::Suspended));

    let (other, other_key) = world.customer_with_key(&a).await;
    assert_eq!(a.authenticate(&other_key).await, Ok(other.id));
    a.services
        .api_keys
        .revoke(&Origin::admin_key(), other_key.key.id)
        .await
        .unwrap();
    assert_eq!(a.authenticate(&other_key).await, Err(AuthReason::Revoked));
}

#[tokio::test]
async fn another_instances_writes_are_seen_once_the_feed_reports_them() {
    let world = World::new();
    let a = world.instance();
    let b = world.instance();
    let (customer, key) = world.customer_with_key(&b).await;
    assert_eq!(a.authenticate(&key).await, Ok(customer.id));

    b.services
        .api_keys
        .revoke(&Origin::admin_key(), key.key.id)
        .await
        .unwrap();
    // Unreported, A's cached answer is still the one it read: what the feed is for.
    assert_eq!(a.authenticate(&key).await, Ok(customer.id));
    a.cache.invalidator().changed_named("api_keys");
    assert_eq!(a.authenticate(&key).await, Err(AuthReason::Revoked));

    let (customer, key) = world.customer_with_key(&b).await;
    assert_eq!(a.authenticate(&key).await, Ok(customer.id));
    b.services
        .customers
        .update(&Origin::admin_key(), customer.id, suspension())
        .await
        .unwrap();
    // A table the cache does not know counts as every table.
    a.cache.invalidator().changed_named("some_new_table");
    assert_eq!(a.authenticate(&key).await, Err(AuthReason::Suspended));
}

#[tokio::test]
async fn nothing_is_served_from_memory_while_the_feed_is_not_listening() {
    let world = World::new();
    let a = Instance::new(ReadCache::awaiting_change_feed(10_000), &world.shared);
    let b = world.instance();
    let (customer, key) = world.customer_with_key(&b).await;
    assert_eq!(a.authenticate(&key).await, Ok(customer.id));
    b.services
        .api_keys
        .revoke(&Origin::admin_key(), key.key.id)
        .await
        .unwrap();
    assert_eq!(
        a.authenticate(&key).await,
        Err(AuthReason::Revoked),
        "before the feed listens every read goes to the database"
    );

    let (customer, key) = world.customer_with_key(&b).await;
    a.cache.invalidator().listening();
    assert_eq!(a.authenticate(&key).await, Ok(customer.id));
    a.cache.invalidator().lost();
    b.services
        .customers
        .update(&Origin::admin_key(), customer.id, suspension())
        .await
        .unwrap();
    assert_eq!(
        a.authenticate(&key).await,
        Err(AuthReason::Suspended),
        "a lost feed turns the cache off at once"
    );
}

#[tokio::test]
async fn an_entitlement_stops_counting_when_it_ends_without_any_write() {
    let world = World::new();
    let a = world.instance();
    let (customer, _) = world.customer_with_key(&a).await;
    let release = a
        .services
        .releases
        .create(
            &Origin::admin_key(),
            Product::parse("agent").unwrap(),
            Version::parse("1.0.0").unwrap(),
        )
        .await
        .unwrap();
    a.services
        .releases
        .publish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    a.services
        .entitlements
        .create(
            &Origin::admin_key(),
            customer.id,
            NewEntitlement {
                product: Product::parse("agent").unwrap(),
                window: EntitlementWindow::new(T0, Some(T0.plus_seconds(100))).unwrap(),
                scope: EntitlementScope::default(),
                metadata: None,
                download_quota: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(a.customer_view(customer.id).await, ["agent@1.0.0"]);
    world.clock.advance(99);
    assert_eq!(a.customer_view(customer.id).await, ["agent@1.0.0"]);
    world.clock.advance(1);
    assert!(a.customer_view(customer.id).await.is_empty());
}

#[tokio::test]
async fn the_last_use_is_still_recorded_at_most_once_a_minute() {
    let world = World::new();
    let a = world.instance();
    let (_, key) = world.customer_with_key(&a).await;
    let last_used = async || {
        world
            .shared
            .repositories
            .api_keys
            .get(key.key.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    a.authenticate(&key).await.unwrap();
    assert_eq!(last_used().await, Some(T0));
    world.clock.advance(30);
    a.authenticate(&key).await.unwrap();
    assert_eq!(last_used().await, Some(T0), "throttled");
    world.clock.advance(31);
    a.authenticate(&key).await.unwrap();
    assert_eq!(last_used().await, Some(T0.plus_seconds(61)));
    world.clock.advance(10);
    a.authenticate(&key).await.unwrap();
    assert_eq!(
        last_used().await,
        Some(T0.plus_seconds(61)),
        "the cached key shows the last use this instance recorded"
    );
}

/// Customers that count listings and can hold one listing after it read the rows.
#[derive(Debug, Default)]
struct GatedCustomers {
    rows: InMemoryCustomers,
    listings: AtomicUsize,
    hold_next_listing: std::sync::atomic::AtomicBool,
    read_done: Notify,
    resume: Notify,
}

#[async_trait]
impl CustomerRepository for GatedCustomers {
    async fn insert(&self, customer: &Customer, event: &AuditEvent) -> Result<(), RepoError> {
        self.rows.insert(customer, event).await
    }

    async fn get(&self, id: CustomerId) -> Result<Option<Customer>, RepoError> {
        self.rows.get(id).await
    }

    async fn list(
        &self,
        filter: &CustomerFilter,
        limit: PageLimit,
        start: &PageStart,
    ) -> Result<CursorPage<Customer>, RepoError> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        let page = self.rows.list(filter, limit, start).await?;
        if self.hold_next_listing.swap(false, Ordering::SeqCst) {
            self.read_done.notify_one();
            self.resume.notified().await;
        }
        Ok(page)
    }

    async fn update(
        &self,
        id: CustomerId,
        update: &CustomerUpdate,
        events: ChangeEvents<'_, Customer>,
    ) -> Result<Option<Customer>, RepoError> {
        self.rows.update(id, update, events).await
    }
}

fn customer(name: &str, second: i64) -> Customer {
    Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse(name).unwrap(),
        plan: None,
        created_at: T0.plus_seconds(second),
        suspended_at: None,
    }
}

async fn names(customers: &dyn CustomerRepository) -> Vec<String> {
    customers
        .list(
            &CustomerFilter::default(),
            PageLimit::DEFAULT,
            &PageStart::Offset(Default::default()),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.name.as_str().to_owned())
        .collect()
}

#[tokio::test]
async fn repeated_reads_come_from_memory_until_a_write() {
    let inner = Arc::new(GatedCustomers::default());
    let cached = ReadCache::new(10_000).customers(inner.clone());
    cached
        .insert(&customer("one", 1), &change_event())
        .await
        .unwrap();
    assert_eq!(names(&*cached).await, ["one"]);
    assert_eq!(names(&*cached).await, ["one"]);
    assert_eq!(inner.listings.load(Ordering::SeqCst), 1);

    cached
        .insert(&customer("two", 2), &change_event())
        .await
        .unwrap();
    assert_eq!(names(&*cached).await, ["two", "one"]);
    assert_eq!(inner.listings.load(Ordering::SeqCst), 2);
}

/// A page of releases with long notes weighs its text (a row per KiB) and is still kept:
/// quick_cache refuses an answer heavier than one shard's share of the bound, which at
/// its default shard count (four a core) this page exceeded even on two cores.
#[tokio::test]
async fn a_page_of_releases_with_long_notes_is_kept() {
    let shared = Ports::in_memory(Arc::new(FixedClock::at(T0)));
    let cache = ReadCache::new(10_000);
    let releases = cache.releases(shared.repositories.releases.clone());
    for n in 0..50 {
        let mut release = Release::draft(
            Product::parse("app").unwrap(),
            Version::parse(&format!("1.0.{n}")).unwrap(),
            None,
            T0,
        );
        release.notes = Some(ReleaseNotes::parse(&"n".repeat(30 * 1024)).unwrap());
        releases.insert(&release, &change_event()).await.unwrap();
    }
    let page = PageRequest {
        limit: PageLimit::parse(Some(50)).unwrap(),
        ..PageRequest::default()
    };
    for _ in 0..2 {
        let listed = releases
            .list(&ReleaseFilter::default(), page)
            .await
            .unwrap();
        assert_eq!(listed.len(), 50);
    }
    let pages = cache
        .stats()
        .into_iter()
        .find(|kind| kind.kind == "release_pages")
        .unwrap();
    assert_eq!((pages.misses, pages.hits), (1, 1), "{pages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_racing_a_read_leaves_no_stale_answer() {
    let inner = Arc::new(GatedCustomers::default());
    let cached = ReadCache::new(10_000).customers(inner.clone());
    cached
        .insert(&customer("one", 1), &change_event())
        .await
        .unwrap();

    // The read sees the rows before the write commits, and returns after it.
    inner.hold_next_listing.store(true, Ordering::SeqCst);
    let racing_read = tokio::spawn({
        let cached = cached.clone();
        async move { names(&*cached).await }
    });
    inner.read_done.notified().await;
    cached
        .insert(&customer("two", 2), &change_event())
        .await
        .unwrap();
    inner.resume.notify_one();
    assert_eq!(racing_read.await.unwrap(), ["one"]);

    assert_eq!(names(&*cached).await, ["two", "one"]);
}

#[tokio::test]
async fn a_tiny_cache_still_answers_correctly() {
    let inner = Arc::new(GatedCustomers::default());
    let cached = ReadCache::new(1).customers(inner.clone());
    for i in 0..5 {
        cached
            .insert(&customer(&format!("c{i}"), i), &change_event())
            .await
            .unwrap();
    }
    assert_eq!(names(&*cached).await, ["c4", "c3", "c2", "c1", "c0"]);
    assert_eq!(names(&*cached).await, ["c4", "c3", "c2", "c1", "c0"]);
}

#[test]
fn tables_are_named_as_in_the_schema() {
    for table in Table::ALL {
        assert_eq!(Table::from_sql_name(table.sql_name()), Some(table));
    }
    assert_eq!(Table::from_sql_name("audit_events"), None);
}

/// Other instances' caches as a test sees them: each catch-up is counted, and
/// reported to the instances listed, as their change feeds would report it.
#[derive(Debug, Default)]
struct RecordingPeers {
    catch_ups: AtomicUsize,
    feeds: std::sync::Mutex<Vec<releasy_throughput::read_cache::Invalidator>>,
}

#[async_trait]
impl PeerCaches for RecordingPeers {
    async fn catch_up(&self) {
        self.catch_ups.fetch_add(1, Ordering::SeqCst);
        for feed in self.feeds.lock().unwrap().iter() {
            feed.changed_named("unknown to the cache: everything");
        }
    }
}

#[tokio::test]
async fn a_withdrawal_is_answered_after_the_other_caches_caught_up() {
    let world = World::new();
    let a = world.instance();
    let b = world.instance();
    let peers = Arc::new(RecordingPeers::default());
    peers.feeds.lock().unwrap().push(a.cache.invalidator());
    b.cache.invalidator().reach_peers_through(peers.clone());
    let (customer, key) = world.customer_with_key(&b).await;
    assert_eq!(
        peers.catch_ups.load(Ordering::SeqCst),
        0,
        "creating a customer and a key withdraws nothing"
    );
    assert_eq!(a.authenticate(&key).await, Ok(customer.id));
    assert_eq!(a.authenticate(&key).await, Ok(customer.id), "from memory");

    b.services
        .api_keys
        .revoke(&Origin::admin_key(), key.key.id)
        .await
        .unwrap();
    assert_eq!(peers.catch_ups.load(Ordering::SeqCst), 1);
    // Nothing reported to A after the revocation returned: it had caught up before.
    assert_eq!(a.authenticate(&key).await, Err(AuthReason::Revoked));

    let (customer, key) = world.customer_with_key(&b).await;
    assert_eq!(a.authenticate(&key).await, Ok(customer.id));
    b.services
        .customers
        .update(&Origin::admin_key(), customer.id, suspension())
        .await
        .unwrap();
    assert_eq!(peers.catch_ups.load(Ordering::SeqCst), 2, "a suspension");
    assert_eq!(a.authenticate(&key).await, Err(AuthReason::Suspended));
}

/// A release change asked of an instance whose cache still holds the copy from before
/// another instance's change is decided on what is stored: an unpublish of a release
/// published elsewhere goes through (it was `400 release already draft`), and one the
/// stored state refuses is refused for that state.
#[tokio::test]
async fn a_release_change_is_decided_on_what_is_stored_not_on_a_stale_copy() {
    use releasy_domain::release::{LifecycleError, ReleaseStatus, TransitionError};
    let world = World::new();
    let (a, b) = (world.instance(), world.instance());
    let admin = Origin::admin_key();
    let release = a
        .services
        .releases
        .create(
            &admin,
            Product::parse("app").unwrap(),
            Version::parse("1.0.0").unwrap(),
        )
        .await
        .unwrap();
    let cached = b.services.releases.find(release.id).await.unwrap().unwrap();
    assert_eq!(cached.status, ReleaseStatus::Draft, "B holds the draft");
    a.services
        .releases
        .publish(&admin, release.id)
        .await
        .unwrap();

    let unpublished = b.services.releases.unpublish(&admin, release.id).await;
    assert_eq!(unpublished.unwrap().status, ReleaseStatus::Draft);
    // A refusal the stored state makes still stands.
    let again = b.services.releases.unpublish(&admin, release.id).await;
    assert!(
        matches!(
            again,
            Err(TransitionError::Lifecycle(LifecycleError::AlreadyDraft))
        ),
        "{again:?}"
    );
}

/// An updater's answer for a platform reads only releases with a downloadable
/// artifact for it: that answer changes when an artifact's verification does, with no
/// change to any release, and the cache follows.
#[tokio::test]
async fn a_platform_answer_follows_its_artifacts_verification() {
    use releasy_domain::artifact::{Artifact, Verification};
    use releasy_domain::release::NewestQuery;
    use releasy_testkit::contract::artifacts::new_artifact;

    let world = World::new();
    let cache = ReadCache::new(10_000);
    let repositories = cache.wrap(world.shared.repositories.clone());
    let services = Services::new(Ports {
        repositories: repositories.clone(),
        ..world.shared.clone()
    });
    let admin = Origin::admin_key();
    let agent = Product::parse("agent").unwrap();
    let mut files = Vec::new();
    for (version, verification) in [
        ("1.0.0", Verification::Verified),
        ("2.0.0", Verification::Pending),
    ] {
        let release = services
            .releases
            .create(&admin, agent.clone(), Version::parse(version).unwrap())
            .await
            .unwrap();
        let file = Artifact {
            verification,
            ..new_artifact(&release, "linux-x86_64", T0.unix_seconds())
        };
        repositories
            .artifacts
            .insert(&file, &change_event())
            .await
            .unwrap();
        services.releases.publish(&admin, release.id).await.unwrap();
        files.push(file);
    }
    let newest_for_linux = || async {
        let query = NewestQuery {
            platform: Some(
                releasy_domain::artifact::Platform::parse("linux-x86_64").expect("platform"),
            ),
            ..NewestQuery::stable(agent.clone())
        };
        let found = services.releases.newest(ReleaseViewer::Operator, &query);
        found.await.unwrap().unwrap().release.version.into_string()
    };
    assert_eq!(newest_for_linux().await, "1.0.0", "2.0.0's file is pending");
    assert_eq!(newest_for_linux().await, "1.0.0", "now from memory");

    let settled = repositories
        .artifacts
        .set_verification(
            files[1].id,
            Verification::Pending,
            Verification::Verified,
            None,
            &change_event(),
        )
        .await;
    assert!(settled.unwrap());
    assert_eq!(newest_for_linux().await, "2.0.0");
}
