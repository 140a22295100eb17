//! Immutable releases over in-memory ports: the policy seals releases at publication,
//! a sealed release takes no artifact, no edit and no delete (even once unpublished),
//! and the server's setting and a product's own both switch it on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::{Arc, Mutex};

use common::T0;
use common::interposed_artifacts::{ArtifactsHook, InterposedArtifacts};
use releasy_domain::artifact::{
    Artifact, ArtifactSize, ArtifactTarget, Checksum, Filename, Platform, PresignError,
    PresignedUpload, RegisterArtifact, RegisterArtifactError,
};
use releasy_domain::audit::Origin;
use releasy_domain::memory::{FixedClock, InMemoryObjects};
use releasy_domain::pagination::PageRequest;
use releasy_domain::release::{
    DeleteReleaseError, Product, Release, ReleaseChanges, ReleaseNotes, SealError, TransitionError,
    UpdateReleaseError, Version, YankReason,
};
use releasy_domain::{ArtifactId, Limits, Ports, Services};

struct World {
    services: Services,
    objects: Arc<InMemoryObjects>,
    agent: Product,
}

impl World {
    fn new(server_immutable: bool) -> Self {
        Self::with_ports(server_immutable, |_| {})
    }

    /// As [`Self::new`], the ports changed by `adjust` first.
    fn with_ports(server_immutable: bool, adjust: impl FnOnce(&mut Ports)) -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        let objects = Arc::new(InMemoryObjects::default());
        let limits = Limits {
            immutable_releases: server_immutable,
            ..Limits::default()
        };
        let mut ports = Ports::in_memory_with_objects(clock, objects.clone());
        adjust(&mut ports);
        Self {
            services: Services::with_limits(ports, limits),
            objects,
            agent: Product::parse("agent").unwrap(),
        }
    }

    async fn draft(&self, version: &str) -> Release {
        self.services
            .releases
            .create(
                &Origin::admin_key(),
                self.agent.clone(),
                Version::parse(version).unwrap(),
            )
            .await
            .unwrap()
    }

    async fn presign(&self, release: &Release) -> Result<PresignedUpload, PresignError> {
        self.services
            .artifacts
            .presign(
                release.id,
                &Filename::parse("agent.tgz").unwrap(),
                &Platform::parse("linux").unwrap(),
            )
            .await
    }

    async fn register(
        &self,
        release: &Release,
        upload: &PresignedUpload,
    ) -> Result<(), RegisterArtifactError> {
        self.objects.put(&upload.object_key, vec![3; 8]);
        let registration = RegisterArtifact {
            artifact_id: upload.artifact_id,
            object_key: upload.object_key.as_str().to_owned(),
            checksum: Checksum::of_bytes(&[3; 8]),
            size: ArtifactSize::parse(8).unwrap(),
            platform: Platform::parse("linux").unwrap(),
            target: ArtifactTarget::default(),
            parts: None,
        };
        self.services
            .artifacts
            .register(&Origin::admin_key(), release.id, registration)
            .await
            .map(|_| ())
    }

    async fn with_artifact(&self, version: &str) -> Release {
        let release = self.draft(version).await;
        let upload = self.presign(&release).await.unwrap();
        self.register(&release, &upload).await.unwrap();
        release
    }
}

fn notes() -> ReleaseChanges {
    ReleaseChanges {
        notes: Some(Some(ReleaseNotes::parse("edited").unwrap())),
        ..ReleaseChanges::default()
    }
}

#[tokio::test]
async fn without_the_policy_releases_stay_as_the_reference_has_them() {
    let w = World::new(false);
    let empty = w.draft("1.0.0").await;
    let published = w
        .services
        .releases
        .publish(&Origin::admin_key(), empty.id)
        .await
        .unwrap();
    assert_eq!(
        published.sealed_at, None,
        "no artifacts needed, nothing sealed"
    );
    let upload = w.presign(&published).await.unwrap();
    w.register(&published, &upload).await.unwrap();
    w.services
        .releases
        .delete(&Origin::admin_key(), published.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_product_policy_seals_at_publication_and_needs_an_artifact() {
    let w = World::new(false);
    w.services
        .products
        .set_policy(&Origin::admin_key(), &w.agent, true)
        .await
        .unwrap();
    let empty = w.draft("1.0.0").await;
    assert!(matches!(
        w.services
            .releases
            .publish(&Origin::admin_key(), empty.id)
            .await,
        Err(TransitionError::Seal(SealError::NoArtifacts))
    ));

    let release = w.with_artifact("1.1.0").await;
    let published = w
        .services
        .releases
        .publish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    assert_eq!(published.sealed_at, published.published_at);
    assert!(matches!(
        w.presign(&published).await,
        Err(PresignError::Immutable)
    ));
    assert!(matches!(
        w.services
            .releases
            .delete(&Origin::admin_key(), release.id)
            .await,
        Err(DeleteReleaseError::Immutable)
    ));
    assert!(matches!(
        w.services
            .releases
            .update(&Origin::admin_key(), release.id, &notes())
            .await,
        Err(UpdateReleaseError::Immutable)
    ));

    // Unpublish and yank stay possible; the seal stays with the draft.
    let reason = YankReason::parse("broken").unwrap();
    w.services
        .releases
        .yank(&Origin::admin_key(), release.id, reason, false)
        .await
        .unwrap();
    let draft = w
        .services
        .releases
        .unpublish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    assert_eq!(draft.sealed_at, published.sealed_at);
    assert!(matches!(
        w.services
            .releases
            .update(&Origin::admin_key(), release.id, &notes())
            .await,
        Err(UpdateReleaseError::Immutable)
    ));
    assert!(matches!(
        w.presign(&draft).await,
        Err(PresignError::Immutable)
    ));
    assert!(matches!(
        w.services
            .releases
            .delete(&Origin::admin_key(), release.id)
            .await,
        Err(DeleteReleaseError::Immutable)
    ));

    // Switching the policy off unseals nothing, and republishing keeps the first seal.
    w.services
        .products
        .set_policy(&Origin::admin_key(), &w.agent, false)
        .await
        .unwrap();
    let again = w
        .services
        .releases
        .publish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    assert_eq!(again.sealed_at, published.sealed_at);
    assert!(matches!(
        w.services
            .releases
            .delete(&Origin::admin_key(), release.id)
            .await,
        Err(DeleteReleaseError::Immutable)
    ));
}

#[tokio::test]
async fn an_upload_presigned_before_the_seal_cannot_be_registered_after_it() {
    let w = World::new(true);
    let release = w.with_artifact("2.0.0").await;
    let late = w.presign(&release).await.unwrap();
    w.services
        .releases
        .publish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    assert!(matches!(
        w.register(&release, &late).await,
        Err(RegisterArtifactError::Immutable)
    ));
}

#[tokio::test]
async fn the_server_setting_fixes_releases_published_before_while_they_stay_published() {
    let w = World::new(false);
    let release = w.with_artifact("3.0.0").await;
    let published = w
        .services
        .releases
        .publish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    // The product asks for the policy after the publication: not sealed, but fixed
    // while published.
    w.services
        .products
        .set_policy(&Origin::admin_key(), &w.agent, true)
        .await
        .unwrap();
    assert!(matches!(
        w.presign(&published).await,
        Err(PresignError::Immutable)
    ));
    assert!(matches!(
        w.services
            .releases
            .delete(&Origin::admin_key(), release.id)
            .await,
        Err(DeleteReleaseError::Immutable)
    ));
    // Unpublished, it was never sealed: it can change again.
    let draft = w
        .services
        .releases
        .unpublish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    assert_eq!(draft.sealed_at, None);
    w.services
        .releases
        .update(&Origin::admin_key(), release.id, &notes())
        .await
        .unwrap();

    let policy = w.services.products.policy(&w.agent).await.unwrap();
    assert!(policy.immutable_releases && !policy.server_immutable_releases);
    let listed = w
        .services
        .products
        .list(PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].releases, 1);
    assert_eq!(listed[0].published, 0);
}

/// The artifacts as a read cache that has not seen some registrations yet shows them
/// (another instance made them; its change notification is on its way): listings leave
/// out the ids it holds.
#[derive(Debug)]
struct NotYetSeen(Arc<Mutex<Vec<ArtifactId>>>);

impl ArtifactsHook for NotYetSeen {
    fn listed(&self, listed: Vec<Artifact>) -> Vec<Artifact> {
        let unseen = self.0.lock().unwrap();
        listed
            .into_iter()
            .filter(|a| !unseen.contains(&a.id))
            .collect()
    }
}

/// A publication judged on a stale listing (it lacks a file registered meanwhile) is
/// judged again on what the store holds under the release's lock, and sealed on that,
/// however stale the listing stays.
#[tokio::test]
async fn a_seal_judged_on_a_stale_listing_is_judged_again_on_the_stored_artifacts() {
    let unseen = Arc::new(Mutex::new(Vec::new()));
    let hidden = Arc::clone(&unseen);
    let w = World::with_ports(true, move |ports| {
        InterposedArtifacts::install(ports, NotYetSeen(hidden))
    });
    let release = w.with_artifact("1.0.0").await;
    let second = w.presign(&release).await.unwrap();
    w.register(&release, &second).await.unwrap();
    unseen.lock().unwrap().push(second.artifact_id);

    let published = w
        .services
        .releases
        .publish(&Origin::admin_key(), release.id)
        .await
        .expect("sealed on the artifacts the store holds");
    assert!(published.is_sealed());
}
