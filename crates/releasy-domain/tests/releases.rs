//! Release, artifact and download use cases over in-memory ports: lifecycle, the
//! customer's view, registration checks, and the download-token rules.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;

use common::{Harness, T0};
use releasy_domain::api_key::AuthenticatedKey;
use releasy_domain::artifact::{
    ArtifactSize, Checksum, Filename, Platform, PresignedUpload, RegisterArtifact,
    RegisterArtifactError,
};
use releasy_domain::audit::Origin;
use releasy_domain::delivery::Requester;
use releasy_domain::delivery::{DownloadFilter, DownloadRecord, DownloadStat, StatsQuery};
use releasy_domain::download::{IssueTokenError, ResolveError, ResolveRefusal, TokenTtl};
use releasy_domain::entitlement::{
    DownloadQuota, EntitlementScope, EntitlementWindow, NewEntitlement, QuotaPeriod,
};
use releasy_domain::entitlement::{QuotaUsage, QuotaWindow};
use releasy_domain::memory::{FixedClock, InMemoryObjects};
use releasy_domain::pagination::Cursor;
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{DownloadLedger, QuotaCounter, RepoError};
use releasy_domain::release::{
    CreateReleaseError, ListReleasesError, Product, Release, ReleaseListing, ReleaseQuery,
    ReleaseStatus, ReleaseViewer, TransitionError, Version,
};
use releasy_domain::{CustomerId, EntitlementId, Ports, Services, Timestamp};

/// A harness whose object store the test can put bytes into.
struct World {
    h: Harness,
    objects: Arc<InMemoryObjects>,
}

impl World {
    fn new() -> Self {
        Self::with_ports(|_| {})
    }

    /// As [`Self::new`], with the ports changed by `adjust` first.
    fn with_ports(adjust: impl FnOnce(&mut Ports)) -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        let objects = Arc::new(InMemoryObjects::default());
        let mut ports = Ports::in_memory_with_objects(clock.clone(), objects.clone());
        adjust(&mut ports);
        let h = Harness {
            clock,
            services: Services::new(ports.clone()),
            ports,
        };
        Self { h, objects }
    }

    async fn release(&self, product: &str, version: &str) -> Release {
        self.h
            .services
            .releases
            .create(
                &Origin::admin_key(),
                Product::parse(product).unwrap(),
                Version::parse(version).unwrap(),
            )
            .await
            .unwrap()
    }

    async fn presign(&self, release: &Release, filename: &str) -> PresignedUpload {
        self.h
            .services
            .artifacts
            .presign(
                release.id,
                &Filename::parse(filename).unwrap(),
                &Platform::parse("linux").unwrap(),
            )
            .await
            .unwrap()
    }

    /// The registration of `bytes` uploaded to `upload`, as a client declares it.
    fn registration(upload: &PresignedUpload, bytes: &[u8]) -> RegisterArtifact {
        RegisterArtifact {
            artifact_id: upload.artifact_id,
            object_key: upload.object_key.as_str().to_owned(),
            checksum: Checksum::of_bytes(bytes),
            size: ArtifactSize::parse(bytes.len() as i64).unwrap(),
            platform: Platform::parse("linux").unwrap(),
            target: releasy_domain::artifact::ArtifactTarget::default(),
            parts: None,
        }
    }

    /// A published release of `product` with one uploaded, registered artifact.
    async fn published_artifact(&self, product: &str) -> (Release, releasy_domain::ArtifactId) {
        let release = self.release(product, "1.0.0").await;
        let upload = self.presign(&release, "app.tgz").await;
        self.objects.put(&upload.object_key, vec![7; 10]);
        self.h
            .services
            .artifacts
            .register(
                &Origin::admin_key(),
                release.id,
                Self::registration(&upload, &[7; 10]),
            )
            .await
            .unwrap();
        self.h
            .services
            .releases
            .publish(&Origin::admin_key(), release.id)
            .await
            .unwrap();
        (release, upload.artifact_id)
    }

    async fn entitle(&self, customer: CustomerId, product: &str, starts: i64, ends: Option<i64>) {
        self.entitle_with_quota(customer, product, starts, ends, None)
            .await;
    }

    async fn entitle_with_quota(
        &self,
        customer: CustomerId,
        product: &str,
        starts: i64,
        ends: Option<i64>,
        download_quota: Option<DownloadQuota>,
    ) {
        self.h
            .services
            .entitlements
            .create(
                &Origin::admin_key(),
                customer,
                NewEntitlement {
                    product: Product::parse(product).unwrap(),
                    window: EntitlementWindow::new(
                        Timestamp::from_unix_seconds(starts),
                        ends.map(Timestamp::from_unix_seconds),
                    )
                    .unwrap(),
                    scope: EntitlementScope::default(),
                    metadata: None,
                    download_quota,
                },
            )
            .await
            .unwrap();
    }

    /// A token (issued now, for 60 s) to a fresh customer's artifact of `app`, which
    /// an entitlement with a quota of one download a day allows.
    async fn token_under_one_a_day_quota(
        &self,
        max_uses: Option<releasy_domain::download::MaxUses>,
    ) -> releasy_domain::download::IssuedToken {
        let key = self.customer_key().await;
        let (_, artifact) = self.published_artifact("app").await;
        let one_a_day = DownloadQuota::new(Some(1), None, QuotaPeriod::Day).unwrap();
        self.entitle_with_quota(key.customer_id, "app", 0, None, Some(one_a_day))
            .await;
        let ttl = TokenTtl::parse(Some(60), 600).unwrap();
        self.issue_token(&key, artifact, ttl, max_uses)
            .await
            .unwrap()
    }

    /// A token for `key` to `artifact`, asked by the admin key.
    async fn issue_token(
        &self,
        key: &AuthenticatedKey,
        artifact: releasy_domain::ArtifactId,
        ttl: TokenTtl,
        max_uses: Option<releasy_domain::download::MaxUses>,
    ) -> Result<releasy_domain::download::IssuedToken, IssueTokenError> {
        self.h
            .services
            .downloads
            .issue(&Origin::admin_key(), key, artifact, None, ttl, max_uses)
            .await
    }

    async fn customer_key(&self) -> AuthenticatedKey {
        let customer = self.h.customer("Acme").await;
        let issued = self
            .h
            .key(customer.id, &["releases:read", "downloads:token"])
            .await;
        self.h
            .services
            .authenticator
            .authenticate(Some(issued.secret.expose()))
            .await
            .unwrap()
    }

    /// Every release as an operator lists it, with its artifacts.
    async fn operator_listing_with_artifacts(&self) -> Vec<ReleaseListing> {
        self.h
            .services
            .releases
            .list(
                ReleaseViewer::Operator,
                &ReleaseQuery {
                    include_artifacts: true,
                    ..Default::default()
                },
                PageRequest::default(),
            )
            .await
            .unwrap()
    }

    async fn customer_view(&self, customer: CustomerId) -> Vec<String> {
        self.h
            .services
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

#[tokio::test]
async fn the_lifecycle_moves_between_draft_and_published() {
    let w = World::new();
    let release = w.release("app", "1.0.0").await;
    assert_eq!(release.status, ReleaseStatus::Draft);
    w.h.clock.advance(5);
    let published =
        w.h.services
            .releases
            .publish(&Origin::admin_key(), release.id)
            .await
            .unwrap();
    assert_eq!(published.published_at, Some(T0.plus_seconds(5)));
    assert!(matches!(
        w.h.services
            .releases
            .publish(&Origin::admin_key(), release.id)
            .await,
        Err(TransitionError::Lifecycle(_))
    ));
    let draft =
        w.h.services
            .releases
            .unpublish(&Origin::admin_key(), release.id)
            .await
            .unwrap();
    assert_eq!(
        (draft.status, draft.published_at),
        (ReleaseStatus::Draft, None)
    );
    assert!(matches!(
        w.h.services
            .releases
            .publish(&Origin::admin_key(), releasy_domain::ReleaseId::generate())
            .await,
        Err(TransitionError::NotFound)
    ));
    assert!(matches!(
        w.h.services
            .releases
            .create(
                &Origin::admin_key(),
                release.product.clone(),
                release.version.clone()
            )
            .await,
        Err(CreateReleaseError::AlreadyExists)
    ));
}

#[tokio::test]
async fn customers_see_only_published_releases_of_products_they_are_entitled_to_now() {
    let w = World::new();
    let key = w.customer_key().await;
    let customer = key.customer_id;
    w.published_artifact("entitled").await;
    w.published_artifact("other").await;
    w.release("entitled", "2.0.0-draft").await;
    assert!(
        w.customer_view(customer).await.is_empty(),
        "no entitlement, nothing visible"
    );

    w.entitle(customer, "entitled", T0.unix_seconds() + 100, None)
        .await;
    assert!(
        w.customer_view(customer).await.is_empty(),
        "not started yet"
    );
    w.h.clock.advance(100);
    assert_eq!(w.customer_view(customer).await, ["entitled@1.0.0"]);

    let drafts =
        w.h.services
            .releases
            .list(
                ReleaseViewer::Customer(customer),
                &ReleaseQuery {
                    status: Some(ReleaseStatus::Draft),
                    ..Default::default()
                },
                PageRequest::default(),
            )
            .await;
    assert!(matches!(drafts, Err(ListReleasesError::StatusNotVisible)));
    let all = w.operator_listing_with_artifacts().await;
    assert_eq!(all.len(), 3, "operators see drafts too");
    assert!(all.iter().all(|l| l.artifacts.is_some()));
}

#[tokio::test]
async fn a_listing_with_artifacts_gives_each_release_exactly_its_own() {
    let w = World::new();
    let mut registered = Vec::new();
    for (version, files) in [("1.0.0", 2), ("2.0.0", 0), ("3.0.0", 3)] {
        let release = w.release("app", version).await;
        let mut ids = Vec::new();
        for n in 0..files {
            let upload = w.presign(&release, &format!("app-{n}.tgz")).await;
            let bytes = [n as u8; 10];
            w.objects.put(&upload.object_key, bytes.to_vec());
            w.h.services
                .artifacts
                .register(
                    &Origin::admin_key(),
                    release.id,
                    World::registration(&upload, &bytes),
                )
                .await
                .unwrap();
            ids.push(upload.artifact_id);
        }
        ids.sort();
        registered.push((release.id, ids));
    }
    let listed = w.operator_listing_with_artifacts().await;
    let mut seen: Vec<_> = listed
        .iter()
        .map(|listing| {
            let artifacts = listing
                .artifacts
                .as_ref()
                .expect("artifacts were asked for");
            assert!(artifacts.iter().all(|a| a.release_id == listing.release.id));
            let mut ids: Vec<_> = artifacts.iter().map(|a| a.id).collect();
            ids.sort();
            (listing.release.id, ids)
        })
        .collect();
    seen.sort_by_key(|(release, _)| *release);
    registered.sort_by_key(|(release, _)| *release);
    assert_eq!(seen, registered, "each release with exactly its artifacts");
}

#[tokio::test]
async fn registration_checks_the_key_the_object_its_size_and_its_sha256() {
    let w = World::new();
    let release = w.release("app", "1.0.0").await;
    let upload = w.presign(&release, "App.TGZ").await;
    assert!(upload.object_key.as_str().ends_with("/app.tgz"));
    assert_eq!(
        upload.single_url().unwrap().expires_at,
        T0.plus_seconds(900)
    );
    let admin = Origin::admin_key();
    let register = |r: RegisterArtifact| w.h.services.artifacts.register(&admin, release.id, r);
    let bytes = [1_u8; 10];
    let declared = World::registration(&upload, &bytes);

    assert!(matches!(
        register(declared.clone()).await,
        Err(RegisterArtifactError::ObjectMissing)
    ));

    // Another size than declared: refused, the object deleted, and the upload over.
    w.objects.put(&upload.object_key, bytes.to_vec());
    let longer = RegisterArtifact {
        size: ArtifactSize::parse(11).unwrap(),
        ..declared.clone()
    };
    assert!(matches!(
        register(longer).await,
        Err(RegisterArtifactError::SizeMismatch {
            declared: 11,
            stored: 10
        })
    ));
    assert_eq!(w.objects.get(&upload.object_key), None);
    w.objects.put(&upload.object_key, bytes.to_vec());
    assert!(matches!(
        register(declared.clone()).await,
        Err(RegisterArtifactError::UploadGone)
    ));

    // The declared size but other bytes: refused, and the object deleted.
    let upload = w.presign(&release, "App.TGZ").await;
    let declared = World::registration(&upload, &bytes);
    w.objects.put(&upload.object_key, vec![2; 10]);
    let refused = register(declared.clone()).await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::ChecksumMismatch)),
        "{refused:?}"
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "checksum does not match the stored object"
    );
    assert_eq!(w.objects.get(&upload.object_key), None);

    let upload = w.presign(&release, "App.TGZ").await;
    let declared = World::registration(&upload, &bytes);
    w.objects.put(&upload.object_key, bytes.to_vec());
    let wrong_platform = RegisterArtifact {
        platform: Platform::parse("windows").unwrap(),
        ..declared.clone()
    };
    assert!(matches!(
        register(wrong_platform).await,
        Err(RegisterArtifactError::Invalid(_))
    ));
    register(declared.clone()).await.unwrap();
    assert!(matches!(
        register(declared.clone()).await,
        Err(RegisterArtifactError::AlreadyExists)
    ));
    // A wrong checksum for a registered artifact never deletes its bytes.
    let wrong = RegisterArtifact {
        checksum: Checksum::of_bytes(b"something else"),
        ..declared
    };
    assert!(matches!(
        register(wrong).await,
        Err(RegisterArtifactError::AlreadyExists)
    ));
    assert_eq!(w.objects.get(&upload.object_key), Some(bytes.to_vec()));
}

#[tokio::test]
async fn tokens_follow_the_contract_order_and_stop_resolving_when_a_rule_breaks() {
    let w = World::new();
    let key = w.customer_key().await;
    let (release, artifact) = w.published_artifact("app").await;
    let ttl = TokenTtl::parse(Some(60), 600).unwrap();
    let issue = || w.issue_token(&key, artifact, ttl, None);

    assert!(matches!(
        issue().await,
        Err(IssueTokenError::EntitlementRequired)
    ));
    w.entitle(key.customer_id, "app", 0, None).await;
    let token = issue().await.unwrap();
    assert_eq!(token.expires_at, T0.plus_seconds(60));
    let resolved =
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::default())
            .await
            .unwrap();
    assert!(
        resolved
            .url
            .starts_with("memory://get/releases/app/1.0.0/linux/")
    );

    w.h.services
        .releases
        .unpublish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    assert!(matches!(
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::default())
            .await,
        Err(ResolveError::Refused(ResolveRefusal::NotAvailable))
    ));
    assert!(matches!(
        issue().await,
        Err(IssueTokenError::ReleaseNotPublished)
    ));
    w.h.services
        .releases
        .publish(&Origin::admin_key(), release.id)
        .await
        .unwrap();

    w.h.clock.advance(60);
    assert!(matches!(
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::default())
            .await,
        Err(ResolveError::Refused(ResolveRefusal::Expired))
    ));
    assert!(matches!(
        w.h.services
            .downloads
            .resolve("releasy_dl_unknown", &Requester::default())
            .await,
        Err(ResolveError::Refused(ResolveRefusal::NotFound))
    ));
    assert!(matches!(
        w.issue_token(&key, releasy_domain::ArtifactId::generate(), ttl, None)
            .await,
        Err(IssueTokenError::ArtifactNotFound)
    ));
}

#[tokio::test]
async fn deleting_a_release_removes_its_objects_and_tokens() {
    let w = World::new();
    let key = w.customer_key().await;
    w.entitle(key.customer_id, "app", 0, None).await;
    let (release, artifact) = w.published_artifact("app").await;
    let ttl = TokenTtl::parse(None, 600).unwrap();
    let token = w.issue_token(&key, artifact, ttl, None).await.unwrap();
    let deleted =
        w.h.services
            .releases
            .delete(&Origin::admin_key(), release.id)
            .await
            .unwrap();
    assert!(deleted.orphaned_objects.is_empty());
    assert!(matches!(
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::default())
            .await,
        Err(ResolveError::Refused(ResolveRefusal::NotFound))
    ));
    let listed =
        w.h.services
            .releases
            .list(
                ReleaseViewer::Operator,
                &ReleaseQuery::default(),
                PageRequest::default(),
            )
            .await
            .unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn a_token_keeps_the_address_rule_of_the_key_that_asked_for_it() {
    use releasy_domain::api_key::{AllowedNetworks, KeyChanges};
    let w = World::new();
    let customer = w.h.customer("Acme").await;
    let issued = w.h.key(customer.id, &["downloads:token"]).await;
    let office = AllowedNetworks::parse(&["203.0.113.0/24"]).unwrap();
    w.h.services
        .api_keys
        .update(
            &Origin::admin_key(),
            issued.key.id,
            KeyChanges {
                name: None,
                allowed_networks: Some(Some(office.clone())),
            },
        )
        .await
        .unwrap();
    let inside = Some("203.0.113.5".parse().unwrap());
    let outside = Some("198.51.100.9".parse().unwrap());
    let key =
        w.h.services
            .authenticator
            .authenticate_from(Some(issued.secret.expose()), inside)
            .await
            .unwrap()
            .key;
    assert_eq!(key.allowed_networks, Some(office));
    let (_, artifact) = w.published_artifact("app").await;
    w.entitle(customer.id, "app", 0, None).await;
    let ttl = TokenTtl::parse(Some(60), 600).unwrap();
    let token = w.issue_token(&key, artifact, ttl, None).await.unwrap();

    // Lifting the key's rule later does not widen the token.
    w.h.services
        .api_keys
        .update(
            &Origin::admin_key(),
            issued.key.id,
            KeyChanges {
                name: None,
                allowed_networks: Some(None),
            },
        )
        .await
        .unwrap();
    let resolve = async |client| {
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::at(client))
            .await
    };
    resolve(inside)
        .await
        .expect("resolves from inside the rule");
    for client in [outside, None] {
        assert!(matches!(
            resolve(client).await,
            Err(ResolveError::Refused(ResolveRefusal::AddressNotAllowed))
        ));
    }
    let refusals: Vec<_> =
        w.h.audit_events()
            .await
            .into_iter()
            .filter(|e| e.event == "download.refused")
            .collect();
    assert_eq!(refusals.len(), 2, "each refusal is audited");
    assert_eq!(refusals[1].payload["reason"], "address_not_allowed");
    assert_eq!(refusals[1].payload["client_address"], "198.51.100.9");
    assert_eq!(refusals[1].customer_id, Some(customer.id));
    assert_eq!(refusals[0].payload.get("client_address"), None);
}

#[tokio::test]
async fn a_token_of_a_key_without_a_rule_resolves_from_anywhere() {
    let w = World::new();
    let key = w.customer_key().await;
    let (_, artifact) = w.published_artifact("app").await;
    w.entitle(key.customer_id, "app", 0, None).await;
    let ttl = TokenTtl::parse(Some(60), 600).unwrap();
    let token = w.issue_token(&key, artifact, ttl, None).await.unwrap();
    for client in [None, Some("198.51.100.9".parse().unwrap())] {
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::at(client))
            .await
            .expect("no rule, no refusal");
    }
}

#[tokio::test]
async fn a_limited_token_resolves_its_max_uses_and_refusals_spend_none() {
    use releasy_domain::download::MaxUses;
    let w = World::new();
    let key = w.customer_key().await;
    let (release, artifact) = w.published_artifact("app").await;
    w.entitle(key.customer_id, "app", 0, None).await;
    let ttl = TokenTtl::parse(Some(60), 600).unwrap();
    let twice = MaxUses::parse(Some(2)).unwrap();
    let token = w.issue_token(&key, artifact, ttl, twice).await.unwrap();
    let anyone = Requester::default();
    let resolve = || {
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &anyone)
    };

    resolve().await.expect("first use");
    // A refused resolve (the release is a draft again) spends no use.
    w.h.services
        .releases
        .unpublish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    assert!(matches!(
        resolve().await,
        Err(ResolveError::Refused(ResolveRefusal::NotAvailable))
    ));
    w.h.services
        .releases
        .publish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    resolve().await.expect("second use");
    for _ in 0..2 {
        assert!(matches!(
            resolve().await,
            Err(ResolveError::Refused(ResolveRefusal::UsedUp))
        ));
    }
    let used_up: Vec<_> =
        w.h.audit_events()
            .await
            .into_iter()
            .filter(|e| e.event == "download.refused" && e.payload["reason"] == "used_up")
            .collect();
    assert_eq!(used_up.len(), 2, "each refusal past the limit is audited");
}

#[tokio::test]
async fn downloads_count_against_the_first_quota_with_room_until_its_period_resets() {
    let w = World::new();
    let key = w.customer_key().await;
    let (_, artifact) = w.published_artifact("app").await;
    let daily = DownloadQuota::new(Some(1), None, QuotaPeriod::Day).unwrap();
    let monthly = DownloadQuota::new(Some(2), Some(1_000), QuotaPeriod::Month).unwrap();
    w.entitle_with_quota(key.customer_id, "app", 0, None, Some(daily))
        .await;
    w.entitle_with_quota(key.customer_id, "app", 0, None, Some(monthly))
        .await;
    let ttl = TokenTtl::parse(Some(86_400), 86_400 * 2).unwrap();
    let issue = || w.issue_token(&key, artifact, ttl, None);
    let token = issue().await.expect("room for a download");
    let anyone = Requester::default();
    let resolve = || {
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &anyone)
    };
    // One download from the daily quota, then two from the monthly one.
    for n in 0..3 {
        resolve()
            .await
            .unwrap_or_else(|e| panic!("download {n}: {e}"));
    }
    // T0 is 15:06:40 UTC: the daily quota resets first, 32 000 s later.
    let spent = resolve().await;
    assert!(
        matches!(
            spent,
            Err(ResolveError::Refused(ResolveRefusal::QuotaExceeded {
                retry_after_seconds: 32_000
            }))
        ),
        "{spent:?}"
    );
    assert!(matches!(
        issue().await,
        Err(IssueTokenError::QuotaExceeded {
            retry_after_seconds: 32_000
        })
    ));
    let mut refusals: Vec<_> =
        w.h.audit_events()
            .await
            .into_iter()
            .filter(|e| e.payload["reason"] == "quota_exceeded")
            .map(|e| e.event)
            .collect();
    refusals.sort_unstable();
    assert_eq!(refusals, ["download.refused", "download_token.refused"]);

    w.h.clock.advance(32_000);
    resolve()
        .await
        .expect("the daily quota starts again at midnight");
    assert!(matches!(
        resolve().await,
        Err(ResolveError::Refused(ResolveRefusal::QuotaExceeded { .. }))
    ));
}

/// A switch a test flips to make a port fail.
#[derive(Debug, Default, Clone)]
struct Outage(Arc<std::sync::atomic::AtomicBool>);

impl Outage {
    fn set(&self, down: bool) {
        self.0.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), RepoError> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            Err(RepoError::Unavailable("the test's outage".into()))
        } else {
            Ok(())
        }
    }
}

/// A ledger that takes no row while its outage lasts.
#[derive(Debug)]
struct LedgerWithOutage(Arc<dyn DownloadLedger>, Outage);

#[async_trait::async_trait]
impl DownloadLedger for LedgerWithOutage {
    async fn record_many(&self, records: &[DownloadRecord]) -> Result<(), RepoError> {
        self.1.check()?;
        self.0.record_many(records).await
    }
    async fn list(
        &self,
        filter: &DownloadFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<DownloadRecord>, RepoError> {
        self.0.list(filter, after, limit).await
    }
    async fn stats(&self, query: &StatsQuery) -> Result<Vec<DownloadStat>, RepoError> {
        self.0.stats(query).await
    }
    async fn prune_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        self.0.prune_before(cutoff, limit).await
    }
}

/// Quota counts that cannot be charged while their outage lasts.
#[derive(Debug)]
struct QuotasWithOutage(Arc<dyn QuotaCounter>, Outage);

#[async_trait::async_trait]
impl QuotaCounter for QuotasWithOutage {
    async fn usage(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
    ) -> Result<QuotaUsage, RepoError> {
        self.0.usage(entitlement, window).await
    }
    async fn try_charge(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
        quota: &DownloadQuota,
        bytes: u64,
    ) -> Result<bool, RepoError> {
        self.1.check()?;
        self.0.try_charge(entitlement, window, quota, bytes).await
    }
    async fn refund(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
        bytes: u64,
    ) -> Result<(), RepoError> {
        self.0.refund(entitlement, window, bytes).await
    }
    async fn prune_ended(&self, reset_by: Timestamp, limit: u32) -> Result<u64, RepoError> {
        self.0.prune_ended(reset_by, limit).await
    }
}

/// A backlog of `left` rows that a sweep deletes, however many, in batches of `limit`.
#[derive(Debug)]
struct Backlog(std::sync::atomic::AtomicU64);

impl Backlog {
    fn of(rows: u64) -> Arc<Self> {
        Arc::new(Self(std::sync::atomic::AtomicU64::new(rows)))
    }

    fn take(&self, limit: u32) -> u64 {
        use std::sync::atomic::Ordering::SeqCst;
        let mut taken = 0;
        let _ = self.0.fetch_update(SeqCst, SeqCst, |left| {
            taken = left.min(u64::from(limit));
            Some(left - taken)
        });
        taken
    }
}

/// Switches that make the download ledger, the quota counter, or the giving back of a
/// token's use fail.
#[derive(Default)]
struct Outages {
    ledger: Outage,
    quotas: Outage,
    returns: Outage,
}

impl World {
    /// A world whose ledger, quota counter and returns of uses fail while the
    /// [`Outages`] returned say so.
    fn with_outages() -> (Self, Outages) {
        let outages = Outages::default();
        let (ledger, quotas, returns) = (
            outages.ledger.clone(),
            outages.quotas.clone(),
            outages.returns.clone(),
        );
        let w = World::with_ports(move |ports| {
            let repos = &mut ports.repositories;
            repos.download_ledger =
                Arc::new(LedgerWithOutage(repos.download_ledger.clone(), ledger));
            repos.quota_counter = Arc::new(QuotasWithOutage(repos.quota_counter.clone(), quotas));
            repos.download_tokens = Arc::new(InterposedTokens(
                repos.download_tokens.clone(),
                Backlog::of(0),
                returns,
            ));
        });
        (w, outages)
    }
}

/// Download tokens with `Backlog` expired ones beside the store's, whose uses cannot be
/// given back during the `Outage`.
#[derive(Debug)]
struct InterposedTokens(
    Arc<dyn releasy_domain::ports::DownloadTokenRepository>,
    Arc<Backlog>,
    Outage,
);

#[async_trait::async_trait]
impl releasy_domain::ports::DownloadTokenRepository for InterposedTokens {
    async fn insert(
        &self,
        token: &releasy_domain::download::DownloadToken,
        event: &releasy_domain::audit::AuditEvent,
    ) -> Result<(), RepoError> {
        self.0.insert(token, event).await
    }
    async fn insert_many(
        &self,
        issued: &[(
            releasy_domain::download::DownloadToken,
            releasy_domain::audit::AuditEvent,
        )],
    ) -> Result<(), RepoError> {
        self.0.insert_many(issued).await
    }
    async fn find_grant(
        &self,
        token_hash: &str,
    ) -> Result<Option<releasy_domain::download::DownloadGrant>, RepoError> {
        self.0.find_grant(token_hash).await
    }
    async fn purge_expired_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        let mine = self.0.purge_expired_before(cutoff, limit).await?;
        Ok(mine
            + self
                .1
                .take(limit - u32::try_from(mine).expect("at most limit")))
    }
    async fn consume_use(
        &self,
        id: releasy_domain::DownloadTokenId,
        max_uses: releasy_domain::download::MaxUses,
    ) -> Result<bool, RepoError> {
        self.0.consume_use(id, max_uses).await
    }
    async fn return_use(&self, id: releasy_domain::DownloadTokenId) -> Result<(), RepoError> {
        self.2.check()?;
        self.0.return_use(id).await
    }
}

/// One sweep clears every expired token and every ended quota count, however many: a
/// cap per sweep (there was one of 100 000) lets a sustained rate above it grow the
/// tables without end.
#[tokio::test]
async fn a_sweep_clears_any_backlog_of_expired_tokens_and_ended_counts() {
    let tokens = Backlog::of(250_001);
    let token_backlog = Arc::clone(&tokens);
    let w = World::with_ports(|ports| {
        let repos = &mut ports.repositories;
        repos.download_tokens = Arc::new(InterposedTokens(
            repos.download_tokens.clone(),
            token_backlog,
            Outage::default(),
        ));
    });
    // A day's count for each of 150 001 entitlements, the day long over.
    let (counts, long_ago) = (
        &w.h.ports.repositories.quota_counter,
        QuotaPeriod::Day.window_at(T0),
    );
    let one = DownloadQuota::new(Some(1), None, QuotaPeriod::Day).unwrap();
    for _ in 0..150_001 {
        let charged = counts.try_charge(EntitlementId::generate(), &long_ago, &one, 0);
        assert!(charged.await.unwrap());
    }
    w.h.clock.set(T0.plus_seconds(30 * 86_400));
    let downloads = &w.h.services.downloads;
    assert_eq!(downloads.purge_expired_tokens().await.unwrap(), 250_001);
    assert_eq!(downloads.prune_quota_counts().await.unwrap(), 150_001);
    assert_eq!(downloads.purge_expired_tokens().await.unwrap(), 0);
}

/// A resolve that fails after it counted (its quota charge, or its ledger row) hands
/// out no link, and takes back the use and the count it took: the single-use link
/// under a one-download quota still works afterwards.
#[tokio::test]
async fn a_resolve_that_fails_after_counting_takes_its_use_and_count_back() {
    use releasy_domain::download::MaxUses;
    let (w, outages) = World::with_outages();
    let (ledger_outage, quota_outage) = (&outages.ledger, &outages.quotas);
    let token = w
        .token_under_one_a_day_quota(MaxUses::parse(Some(1)).unwrap())
        .await;
    let anyone = Requester::default();
    let resolve = || {
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &anyone)
    };

    quota_outage.set(true);
    let failed = resolve().await;
    assert!(matches!(failed, Err(ResolveError::Repo(_))), "{failed:?}");
    quota_outage.set(false);
    ledger_outage.set(true);
    let failed = resolve().await;
    assert!(matches!(failed, Err(ResolveError::Repo(_))), "{failed:?}");
    ledger_outage.set(false);

    resolve()
        .await
        .expect("the one use and the one download are still there");
    let again = resolve().await;
    assert!(
        matches!(again, Err(ResolveError::Refused(ResolveRefusal::UsedUp))),
        "{again:?}"
    );
}

/// A use that cannot be given back does not keep the quota's count either: each is
/// taken back whatever the other's outcome.
#[tokio::test]
async fn a_count_is_taken_back_even_when_the_use_cannot_be() {
    use releasy_domain::download::MaxUses;
    let (w, outages) = World::with_outages();
    let (ledger_outage, returns_outage) = (&outages.ledger, &outages.returns);
    let token = w
        .token_under_one_a_day_quota(MaxUses::parse(Some(5)).unwrap())
        .await;
    let anyone = Requester::default();
    let resolve = || {
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &anyone)
    };

    ledger_outage.set(true);
    returns_outage.set(true);
    let failed = resolve().await;
    assert!(matches!(failed, Err(ResolveError::Repo(_))), "{failed:?}");
    ledger_outage.set(false);
    returns_outage.set(false);

    resolve()
        .await
        .expect("the day's one download was taken back (its use was not)");
}

/// The count of a period outlives the period by an hour: a resolve that fixed its
/// period just before the reset and charges it a moment after (or an instance whose
/// clock runs behind the sweeper's) adds to the count instead of starting it again.
#[tokio::test]
async fn a_quota_count_is_kept_an_hour_past_its_period() {
    use releasy_domain::entitlement::ENDED_PERIOD_KEPT_SECONDS;
    let w = World::new();
    // A second before the day ends (T0 is 2024-12-27 15:06:40 UTC).
    let midnight = 1_735_344_000;
    w.h.clock.set(Timestamp::from_unix_seconds(midnight - 1));
    let token = w.token_under_one_a_day_quota(None).await;
    w.h.services
        .downloads
        .resolve(token.secret.expose(), &Requester::default())
        .await
        .expect("the day's one download");
    let downloads = &w.h.services.downloads;

    w.h.clock.set(Timestamp::from_unix_seconds(midnight + 1));
    assert_eq!(downloads.prune_quota_counts().await.unwrap(), 0);
    w.h.clock.set(Timestamp::from_unix_seconds(
        midnight + ENDED_PERIOD_KEPT_SECONDS - 1,
    ));
    assert_eq!(
        downloads.prune_quota_counts().await.unwrap(),
        0,
        "within the hour"
    );
    w.h.clock.set(Timestamp::from_unix_seconds(
        midnight + ENDED_PERIOD_KEPT_SECONDS,
    ));
    assert_eq!(downloads.prune_quota_counts().await.unwrap(), 1);
}
