//! What an updater's question costs: `newest` asks the store only for releases that
//! can be the answer (within the constraint's range, above the current version, with a
//! downloadable file for the platform), so a question that little of a long history
//! satisfies is answered in one read, not a walk through the history.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use releasy_domain::artifact::{ObjectKey, Platform};
use releasy_domain::audit::{AuditEvent, Origin};
use releasy_domain::memory::{FixedClock, sample_artifact};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ChangeEvent, ChangeEvents, ReleaseRepository, RepoError};
use releasy_domain::release::{
    NewestQuery, Product, Release, ReleaseChanges, ReleaseFilter, ReleaseStatus, ReleaseViewer,
    SealBasis, SealOutcome, Version, VersionRequirement, Yank,
};
use releasy_domain::{Ports, ReleaseId, Services, Timestamp};

const T0: Timestamp = Timestamp::from_unix_seconds(1_735_312_000);

/// The releases of a store, counting how many listings were read.
#[derive(Debug)]
struct CountedReads {
    store: Arc<dyn ReleaseRepository>,
    reads: AtomicUsize,
}

#[async_trait]
impl ReleaseRepository for CountedReads {
    async fn insert(&self, release: &Release, event: &AuditEvent) -> Result<(), RepoError> {
        self.store.insert(release, event).await
    }
    async fn get(&self, id: ReleaseId) -> Result<Option<Release>, RepoError> {
        self.store.get(id).await
    }
    async fn list(
        &self,
        filter: &ReleaseFilter,
        page: PageRequest,
    ) -> Result<Vec<Release>, RepoError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.store.list(filter, page).await
    }
    async fn transition(
        &self,
        id: ReleaseId,
        expected: ReleaseStatus,
        status: ReleaseStatus,
        published_at: Option<Timestamp>,
        event: &AuditEvent,
    ) -> Result<Option<Release>, RepoError> {
        self.store
            .transition(id, expected, status, published_at, event)
            .await
    }
    async fn publish_sealed(
        &self,
        id: ReleaseId,
        published_at: Timestamp,
        sealed_at: Timestamp,
        basis: &SealBasis,
        event: &AuditEvent,
    ) -> Result<SealOutcome, RepoError> {
        self.store
            .publish_sealed(id, published_at, sealed_at, basis, event)
            .await
    }
    async fn update_draft(
        &self,
        id: ReleaseId,
        changes: &ReleaseChanges,
        events: ChangeEvents<'_, Release>,
    ) -> Result<Option<Release>, RepoError> {
        self.store.update_draft(id, changes, events).await
    }
    async fn set_yank(
        &self,
        id: ReleaseId,
        yank: Option<&Yank>,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Release>, RepoError> {
        self.store.set_yank(id, yank, event).await
    }
    async fn delete(
        &self,
        id: ReleaseId,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Vec<ObjectKey>>, RepoError> {
        self.store.delete(id, event).await
    }
}

/// A product with a long history: 1.0.0 to 1.99.0, published, each with a verified
/// file for linux-x86_64.
struct History {
    services: Services,
    releases: Arc<CountedReads>,
    product: Product,
}

impl History {
    const LENGTH: usize = 100;

    async fn new() -> Self {
        let mut ports = Ports::in_memory(Arc::new(FixedClock::at(T0)));
        let releases = Arc::new(CountedReads {
            store: ports.repositories.releases.clone(),
            reads: AtomicUsize::new(0),
        });
        ports.repositories.releases = releases.clone();
        let services = Services::new(ports.clone());
        let product = Product::parse("agent").unwrap();
        let admin = Origin::admin_key();
        for minor in 0..Self::LENGTH {
            let version = Version::parse(&format!("1.{minor}.0")).unwrap();
            let release = services
                .releases
                .create(&admin, product.clone(), version)
                .await
                .unwrap();
            let file = sample_artifact(&release, "linux-x86_64", T0);
            let registered = AuditEvent::artifact_registered(&admin, &file);
            let artifacts = &ports.repositories.artifacts;
            artifacts.insert(&file, &registered).await.unwrap();
            services.releases.publish(&admin, release.id).await.unwrap();
        }
        Self {
            services,
            releases,
            product,
        }
    }

    /// The answer to `adjust`'s question, and how many listings it read.
    async fn newest(&self, adjust: impl FnOnce(&mut NewestQuery)) -> (Option<String>, usize) {
        let mut query = NewestQuery::stable(self.product.clone());
        adjust(&mut query);
        let before = self.releases.reads.load(Ordering::SeqCst);
        let found = self
            .services
            .releases
            .newest(ReleaseViewer::Operator, &query)
            .await
            .unwrap();
        let reads = self.releases.reads.load(Ordering::SeqCst) - before;
        (found.map(|l| l.release.version.into_string()), reads)
    }
}

fn constraint(text: &str) -> Option<VersionRequirement> {
    Some(VersionRequirement::parse("constraint", text).unwrap())
}

#[tokio::test]
async fn a_constraint_is_answered_from_its_range_in_one_read() {
    let history = History::new().await;
    assert_eq!(history.newest(|_| {}).await, (Some("1.99.0".to_owned()), 1));
    // Below the newest release: not 99 - 3 releases passed over first.
    assert_eq!(
        history.newest(|q| q.constraint = constraint("<=1.3")).await,
        (Some("1.3.0".to_owned()), 1)
    );
    assert_eq!(
        history.newest(|q| q.constraint = constraint("~1.42")).await,
        (Some("1.42.0".to_owned()), 1)
    );
    // Nothing within: one read finds it empty, not a walk through 100 releases.
    assert_eq!(
        history.newest(|q| q.constraint = constraint("^2")).await,
        (None, 1)
    );
    assert_eq!(
        history.newest(|q| q.constraint = constraint("~0.4")).await,
        (None, 1)
    );
    // An upgrade check above the current version within the constraint.
    assert_eq!(
        history
            .newest(|q| {
                q.constraint = constraint(">=1.10, <1.20");
                q.above = Some(semver::Version::parse("1.19.0").unwrap());
            })
            .await,
        (None, 1)
    );
}

#[tokio::test]
async fn a_platform_without_files_is_answered_in_one_read() {
    let history = History::new().await;
    assert_eq!(
        history
            .newest(|q| q.platform = Some(Platform::parse("LINUX-x86_64").unwrap()))
            .await,
        (Some("1.99.0".to_owned()), 1)
    );
    assert_eq!(
        history
            .newest(|q| q.platform = Some(Platform::parse("darwin-arm64").unwrap()))
            .await,
        (None, 1)
    );
}
