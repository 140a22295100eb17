//! Verification over in-memory ports: registration checks bytes inline from a recorded
//! digest or by reading them, leaves large ones `pending` to the background verifier,
//! which claims each once; pending and failed artifacts cannot be downloaded; artifacts
//! registered before checks are checked after the fact.

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
    Artifact, ArtifactSize, Checksum, FAILED_CHECK_RETRY_SECONDS, Filename, Platform,
    PresignUpload, PresignedUpload, RegisterArtifact, RegisterArtifactError, Verification,
    VerificationReport, VerifyError, VerifyOutcome, verification_lease_seconds,
};
use releasy_domain::audit::{AuditEvent, Origin};
use releasy_domain::delivery::Requester;
use releasy_domain::download::{IssueTokenError, ResolveError, ResolveRefusal, TokenTtl};
use releasy_domain::entitlement::{EntitlementScope, EntitlementWindow, NewEntitlement};
use releasy_domain::memory::{FixedClock, InMemoryObjects};
use releasy_domain::ports::{ObjectStore, ObservedObjectStore, StoreCallObserver};
use releasy_domain::release::{Product, Release, Version};
use releasy_domain::{ArtifactId, Limits, Ports, Services, Timestamp};

const BYTES: &[u8] = b"the vendor's installer";

struct World {
    h: Harness,
    objects: Arc<InMemoryObjects>,
    release: Release,
}

impl World {
    /// A published release on `objects`; objects above `inline_max_bytes` whose digest
    /// the store did not record are left to the verifier.
    async fn new(objects: InMemoryObjects, inline_max_bytes: u64) -> Self {
        let objects = Arc::new(objects);
        Self::on(objects.clone(), objects, inline_max_bytes).await
    }

    /// As [`World::new`], with the services using `store`, which keeps its objects
    /// in `objects`.
    async fn on(
        objects: Arc<InMemoryObjects>,
        store: Arc<dyn ObjectStore>,
        inline_max_bytes: u64,
    ) -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        let ports = Ports::in_memory_with_objects(clock.clone(), store);
        let limits = Limits {
            artifact_inline_verify_max_bytes: inline_max_bytes,
            ..Limits::default()
        };
        let h = Harness {
            clock,
            services: Services::with_limits(ports.clone(), limits),
            ports,
        };
        let release = h
            .services
            .releases
            .create(
                &Origin::admin_key(),
                Product::parse("app").unwrap(),
                Version::parse("1.0.0").unwrap(),
            )
            .await
            .unwrap();
        h.services
            .releases
            .publish(&Origin::admin_key(), release.id)
            .await
            .unwrap();
        Self {
            h,
            objects,
            release,
        }
    }

    /// Presigns an upload declaring `declared`, stores `stored` as the client's PUT
    /// would, and registers it declaring `declared`.
    async fn upload(
        &self,
        declared: &[u8],
        stored: &[u8],
    ) -> (ArtifactId, Result<Artifact, RegisterArtifactError>) {
        let presigned = self.stage(stored).await;
        let registered = self.register(&presigned, declared).await;
        (presigned.artifact_id, registered)
    }

    /// Presigns an upload and stores `stored` under its key.
    async fn stage(&self, stored: &[u8]) -> PresignedUpload {
        let presigned = self
            .h
            .services
            .artifacts
            .presign_upload(
                self.release.id,
                PresignUpload {
                    filename: Filename::parse("app.tgz").unwrap(),
                    platform: Platform::parse("linux").unwrap(),
                    size: None,
                    checksum: None,
                },
            )
            .await
            .unwrap();
        self.objects.put(&presigned.object_key, stored.to_vec());
        presigned
    }

    /// Registers `presigned` as holding `declared`.
    async fn register(
        &self,
        presigned: &PresignedUpload,
        declared: &[u8],
    ) -> Result<Artifact, RegisterArtifactError> {
        self.h
            .services
            .artifacts
            .register(
                &Origin::admin_key(),
                self.release.id,
                RegisterArtifact {
                    artifact_id: presigned.artifact_id,
                    object_key: presigned.object_key.as_str().to_owned(),
                    checksum: Checksum::of_bytes(declared),
                    size: ArtifactSize::parse(declared.len() as i64).unwrap(),
                    platform: Platform::parse("linux").unwrap(),
                    target: releasy_domain::artifact::ArtifactTarget::default(),
                    parts: None,
                },
            )
            .await
    }

    /// A customer key entitled to the release's product.
    async fn entitled_key(&self) -> AuthenticatedKey {
        let customer = self.h.customer("Acme").await;
        self.h
            .services
            .entitlements
            .create(
                &Origin::admin_key(),
                customer.id,
                NewEntitlement {
                    product: self.release.product.clone(),
                    window: EntitlementWindow::new(Timestamp::from_unix_seconds(0), None).unwrap(),
                    scope: EntitlementScope::default(),
                    metadata: None,
                    download_quota: None,
                },
            )
            .await
            .unwrap();
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

    /// One run of the background verifier.
    async fn verify_next(&self) -> Option<VerificationReport> {
        self.h
            .services
            .artifacts
            .verify_next_pending()
            .await
            .expect("the verifier runs")
    }

    async fn verification_of(&self, id: ArtifactId) -> Verification {
        let (artifact, _) = self
            .h
            .ports
            .repositories
            .artifacts
            .get_with_release(id)
            .await
            .unwrap()
            .expect("the artifact is registered");
        artifact.verification
    }
}

fn ttl() -> TokenTtl {
    TokenTtl::parse(Some(60), 600).unwrap()
}

#[tokio::test]
async fn objects_within_the_inline_limit_are_read_and_registered_verified() {
    let w = World::new(InMemoryObjects::default(), 1024).await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    assert_eq!(registered.unwrap().verification, Verification::Verified);
    assert_eq!(w.verification_of(id).await, Verification::Verified);
    let key = w.entitled_key().await;
    w.h.services
        .downloads
        .issue(&Origin::admin_key(), &key, id, None, ttl(), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_recorded_digest_decides_at_once_whatever_the_size() {
    // Nothing may be read inline, yet the recorded digest is compared.
    let w = World::new(InMemoryObjects::recording_digests(), 0).await;
    let (_, registered) = w.upload(BYTES, BYTES).await;
    assert_eq!(registered.unwrap().verification, Verification::Verified);

    let tampered = b"the vendor's installeR";
    let (id, refused) = w.upload(BYTES, tampered).await;
    assert!(matches!(
        refused,
        Err(RegisterArtifactError::ChecksumMismatch)
    ));
    assert_eq!(
        refused.unwrap_err().to_string(),
        "checksum does not match the stored object"
    );
    assert!(
        w.h.ports
            .repositories
            .artifacts
            .get_with_release(id)
            .await
            .unwrap()
            .is_none(),
        "nothing is registered"
    );
}

#[tokio::test]
async fn large_objects_wait_for_the_verifier_and_cannot_be_downloaded_meanwhile() {
    let w = World::new(InMemoryObjects::default(), 4).await;
    let key = w.entitled_key().await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    assert_eq!(registered.unwrap().verification, Verification::Pending);
    assert!(matches!(
        w.h.services
            .downloads
            .issue(&Origin::admin_key(), &key, id, None, ttl(), None)
            .await,
        Err(IssueTokenError::NotVerified)
    ));

    let report = w.verify_next().await.expect("one artifact waits");
    assert_eq!(
        (report.artifact.id, report.outcome, report.decided),
        (id, VerifyOutcome::Matches, true)
    );
    assert_eq!(w.verification_of(id).await, Verification::Verified);
    assert!(
        w.verify_next().await.is_none(),
        "each artifact is verified once"
    );
    let token =
        w.h.services
            .downloads
            .issue(&Origin::admin_key(), &key, id, None, ttl(), None)
            .await
            .unwrap();
    w.h.services
        .downloads
        .resolve(token.secret.expose(), &Requester::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_verifier_fails_wrong_bytes_and_deletes_them() {
    let w = World::new(InMemoryObjects::default(), 4).await;
    // A wrong size is refused inline, whatever the limit: comparing it costs nothing.
    let (_, wrong_size) = w.upload(BYTES, b"short").await;
    assert!(matches!(
        wrong_size,
        Err(RegisterArtifactError::SizeMismatch { .. })
    ));

    let other: Vec<u8> = BYTES.iter().map(|b| b ^ 1).collect();
    let (id, registered) = w.upload(BYTES, &other).await;
    let artifact = registered.unwrap();
    assert_eq!(artifact.verification, Verification::Pending);
    let report = w.verify_next().await.unwrap();
    assert_eq!(report.outcome, VerifyOutcome::WrongChecksum);
    assert_eq!(w.verification_of(id).await, Verification::Failed);
    assert_eq!(w.objects.get(&artifact.object_key), None, "bytes deleted");
    let key = w.entitled_key().await;
    assert!(matches!(
        w.h.services
            .downloads
            .issue(&Origin::admin_key(), &key, id, None, ttl(), None)
            .await,
        Err(IssueTokenError::NotVerified)
    ));
}

#[tokio::test]
async fn a_claim_holds_other_verifiers_off_until_its_lease_lapses() {
    let w = World::new(InMemoryObjects::default(), 4).await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    let size = registered.unwrap().size;
    let artifacts = &w.h.ports.repositories.artifacts;
    let now = w.h.now();
    let lease = verification_lease_seconds(size);
    let until = now.plus_seconds(lease);
    assert!(artifacts.claim_verification(id, now, until).await.unwrap());
    assert!(!artifacts.claim_verification(id, now, until).await.unwrap());
    assert!(
        artifacts
            .unclaimed_pending(now, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        w.verify_next().await.is_none(),
        "a held artifact is left to its verifier"
    );

    // The verifier died: once its lease lapses, another takes the check over.
    w.h.clock.advance(lease);
    let report = w.verify_next().await.unwrap();
    assert_eq!(report.outcome, VerifyOutcome::Matches);
    // A verdict is set once: the late verifier cannot overturn it.
    assert!(
        !artifacts
            .set_verification(
                id,
                Verification::Pending,
                Verification::Failed,
                None,
                &AuditEvent::artifact_checked(&report.artifact, VerifyOutcome::Missing, w.h.now()),
            )
            .await
            .unwrap()
    );
    assert_eq!(w.verification_of(id).await, Verification::Verified);
    // The verdict stored is recorded with it, once; the refused one is not.
    let checks: Vec<_> =
        w.h.audit_events()
            .await
            .into_iter()
            .filter(|e| e.event == "artifact.verified" || e.event == "artifact.failed")
            .collect();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].event, "artifact.verified");
    assert_eq!(checks[0].actor, "system");
    assert_eq!(checks[0].payload["target"]["artifact_id"], id.to_string());
    assert_eq!(checks[0].payload["before"]["verification"], "pending");
    assert_eq!(checks[0].payload["after"]["outcome"], "matches");
}

/// A check the store failed (a read cut off) is tried again a minute later, not at the
/// end of its lease (hours for a large object), and not in a loop before that.
#[tokio::test]
async fn a_check_the_store_failed_is_tried_again_a_minute_later() {
    let w = World::new(InMemoryObjects::default(), 4).await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    let artifact = registered.unwrap();
    assert_eq!(artifact.verification, Verification::Pending);
    assert!(verification_lease_seconds(artifact.size) > FAILED_CHECK_RETRY_SECONDS);
    w.objects.fail_next_read_of(&artifact.object_key);
    let failed = w.h.services.artifacts.verify_next_pending().await;
    assert!(matches!(failed, Err(VerifyError::Store(_))), "{failed:?}");
    assert_eq!(w.verification_of(id).await, Verification::Pending);

    w.h.clock.advance(FAILED_CHECK_RETRY_SECONDS - 1);
    assert!(w.verify_next().await.is_none(), "not tried again at once");
    w.h.clock.advance(1);
    let report = w.verify_next().await.expect("tried again a minute later");
    assert_eq!(report.outcome, VerifyOutcome::Matches);
    assert_eq!(w.verification_of(id).await, Verification::Verified);
}

/// A refusal (access denied) is no passing outage: the check waits for its lease, not a
/// minute.
#[tokio::test]
async fn a_check_the_store_refused_waits_for_its_lease() {
    let w = World::new(InMemoryObjects::default(), 4).await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    let artifact = registered.unwrap();
    let lease = verification_lease_seconds(artifact.size);
    w.objects.refuse_next_read_of(&artifact.object_key);
    let failed = w.h.services.artifacts.verify_next_pending().await;
    assert!(matches!(failed, Err(VerifyError::Store(_))), "{failed:?}");
    w.h.clock.advance(lease - 1);
    assert!(w.verify_next().await.is_none(), "held for its whole lease");
    w.h.clock.advance(1);
    let report = w
        .verify_next()
        .await
        .expect("tried again once the lease lapsed");
    assert_eq!(report.outcome, VerifyOutcome::Matches);
    assert_eq!(w.verification_of(id).await, Verification::Verified);
}

/// A claim that lapsed and was taken by another verifier is not shortened by the first.
#[tokio::test]
async fn only_the_claim_held_is_shortened() {
    let w = World::new(InMemoryObjects::default(), 4).await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    registered.unwrap();
    let artifacts = &w.h.ports.repositories.artifacts;
    let now = w.h.now();
    assert!(
        artifacts
            .claim_verification(id, now, now.plus_seconds(600))
            .await
            .unwrap()
    );
    assert!(
        artifacts
            .claim_verification(id, now.plus_seconds(600), now.plus_seconds(1200))
            .await
            .unwrap()
    );
    assert!(
        !artifacts
            .shorten_verification_claim(id, now.plus_seconds(600), now.plus_seconds(660))
            .await
            .unwrap(),
        "the first claim is not held any more"
    );
    assert!(
        artifacts
            .unclaimed_pending(now.plus_seconds(1199), 10)
            .await
            .unwrap()
            .is_empty(),
        "the second claim holds"
    );
}

#[tokio::test]
async fn artifacts_from_before_checks_stay_downloadable_until_checked() {
    let w = World::new(InMemoryObjects::default(), 1024).await;
    let key = w.entitled_key().await;
    let legacy = |bytes: &[u8], platform: &str| {
        let id = ArtifactId::generate();
        let object_key = releasy_domain::artifact::ObjectKey::for_artifact(
            &w.release.product,
            &w.release.version,
            &Platform::parse(platform).unwrap(),
            id,
            &Filename::parse("old.tgz").unwrap(),
        )
        .unwrap();
        w.objects.put(&object_key, bytes.to_vec());
        Artifact {
            id,
            release_id: w.release.id,
            object_key,
            checksum: Checksum::of_bytes(BYTES),
            size: ArtifactSize::parse(BYTES.len() as i64).unwrap(),
            platform: Platform::parse(platform).unwrap(),
            target: releasy_domain::artifact::ArtifactTarget::default(),
            created_at: T0,
            verification: Verification::Unverified,
            object_etag: None,
            object_version: None,
        }
    };
    let good = legacy(BYTES, "linux");
    let altered = legacy(&BYTES.iter().map(|b| b ^ 1).collect::<Vec<_>>(), "macos");
    let artifacts = &w.h.ports.repositories.artifacts;
    artifacts
        .insert(
            &good,
            &AuditEvent::artifact_registered(&Origin::admin_key(), &good),
        )
        .await
        .unwrap();
    artifacts
        .insert(
            &altered,
            &AuditEvent::artifact_registered(&Origin::admin_key(), &altered),
        )
        .await
        .unwrap();
    let token =
        w.h.services
            .downloads
            .issue(&Origin::admin_key(), &key, altered.id, None, ttl(), None)
            .await
            .unwrap();
    w.h.services
        .downloads
        .resolve(token.secret.expose(), &Requester::default())
        .await
        .unwrap();

    let service = &w.h.services.artifacts;
    let unverified =
        |after, limit| service.list_by_verification(Verification::Unverified, after, limit);
    let mut listed = unverified(None, 1).await.unwrap();
    listed.extend(unverified(Some(listed[0].id), 10).await.unwrap());
    let mut expected = vec![good.id, altered.id];
    expected.sort_by_key(ToString::to_string);
    assert_eq!(listed.iter().map(|a| a.id).collect::<Vec<_>>(), expected);

    for artifact in &listed {
        let report = service.recheck(artifact).await.unwrap();
        assert!(report.decided);
    }
    assert_eq!(w.verification_of(good.id).await, Verification::Verified);
    assert_eq!(w.verification_of(altered.id).await, Verification::Failed);
    assert!(
        w.objects.get(&altered.object_key).is_some(),
        "a failed old artifact keeps its bytes for the operator"
    );
    assert!(matches!(
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::default())
            .await,
        Err(ResolveError::Refused(ResolveRefusal::NotVerified))
    ));
    assert!(unverified(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_recheck_fails_verified_bytes_that_changed_and_leaves_pending_ones_alone() {
    let w = World::new(InMemoryObjects::default(), 1024).await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    let verified = registered.unwrap();
    let service = &w.h.services.artifacts;
    assert_eq!(
        service.recheck(&verified).await.unwrap().outcome,
        VerifyOutcome::Matches
    );
    assert_eq!(w.verification_of(id).await, Verification::Verified);
    // Someone with access to the bucket replaces the bytes.
    w.objects
        .put(&verified.object_key, BYTES.iter().map(|b| b ^ 1).collect());
    let report = service.recheck(&verified).await.unwrap();
    assert_eq!(
        (report.outcome, report.decided),
        (VerifyOutcome::WrongChecksum, true)
    );
    assert_eq!(w.verification_of(id).await, Verification::Failed);

    let pending = Artifact {
        verification: Verification::Pending,
        ..verified
    };
    let report = service.recheck(&pending).await.unwrap();
    assert!(
        !report.decided,
        "pending artifacts are the background verifier's"
    );
}

#[tokio::test]
async fn a_missing_object_fails_its_check() {
    let w = World::new(InMemoryObjects::default(), 4).await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    let artifact = registered.unwrap();
    use releasy_domain::ports::ObjectStore as _;
    w.objects.delete(&artifact.object_key).await.unwrap();
    let report = w.verify_next().await.unwrap();
    assert_eq!(report.outcome, VerifyOutcome::Missing);
    assert_eq!(w.verification_of(id).await, Verification::Failed);
}

#[tokio::test]
async fn a_download_of_replaced_bytes_is_refused_audited_and_the_artifact_failed() {
    let w = World::new(InMemoryObjects::default(), 1024).await;
    let key = w.entitled_key().await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    let artifact = registered.unwrap();
    assert!(
        artifact.object_etag.is_some(),
        "the store's tag is recorded"
    );
    let token =
        w.h.services
            .downloads
            .issue(&Origin::admin_key(), &key, id, None, ttl(), None)
            .await
            .unwrap();
    let anyone = Requester::default();
    let resolve = || {
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &anyone)
    };
    resolve().await.unwrap();

    // A still-valid upload URL (or anyone with access to the store) replaces the bytes.
    w.objects
        .put(&artifact.object_key, BYTES.iter().map(|b| b ^ 1).collect());
    assert!(matches!(
        resolve().await,
        Err(ResolveError::Refused(ResolveRefusal::NotVerified))
    ));
    assert_eq!(w.verification_of(id).await, Verification::Failed);
    let events = w.h.audit_events().await;
    let changed = events
        .iter()
        .find(|e| e.event == "artifact.changed")
        .expect("the refusal is audited");
    assert_eq!(changed.actor, "system");
    assert_eq!(changed.customer_id, Some(key.customer_id));
    assert_eq!(changed.payload["artifact_id"], id.to_string());
    assert_eq!(
        changed.payload["registered_etag"],
        artifact.object_etag.clone().unwrap()
    );
    assert_ne!(
        changed.payload["stored_etag"],
        changed.payload["registered_etag"]
    );
    // From now on the artifact is refused without looking at the store.
    assert!(matches!(
        w.h.services
            .downloads
            .issue(&Origin::admin_key(), &key, id, None, ttl(), None)
            .await,
        Err(IssueTokenError::NotVerified)
    ));
}

/// The verifier checks the object registered, which downloads serve: one stored under
/// the key afterwards (through an upload URL still valid), even with the declared
/// bytes, fails the artifact instead of verifying it.
#[tokio::test]
async fn the_verifier_fails_an_object_replaced_after_registration() {
    let w = World::new(InMemoryObjects::default(), 4).await;
    let other: Vec<u8> = BYTES.iter().map(|b| b ^ 1).collect();
    let (id, registered) = w.upload(BYTES, &other).await;
    let artifact = registered.unwrap();
    assert_eq!(artifact.verification, Verification::Pending);
    w.objects.put(&artifact.object_key, BYTES.to_vec());
    let report = w.verify_next().await.unwrap();
    assert_eq!(
        (report.outcome, report.decided),
        (VerifyOutcome::Replaced, true)
    );
    assert_eq!(w.verification_of(id).await, Verification::Failed);
    assert_eq!(w.objects.get(&artifact.object_key), None, "bytes deleted");
    let failed = w.h.audit_events().await;
    let failed = failed
        .iter()
        .find(|e| e.event == "artifact.failed")
        .unwrap();
    assert_eq!(failed.payload["after"]["outcome"], "replaced");
}

/// Changes the object under `key` once, when a `sha256` read of it ends: replaced, as
/// by a `PUT` landing during the read, or removed.
#[derive(Debug)]
struct ChangedDuringRead {
    objects: Arc<InMemoryObjects>,
    key: std::sync::Mutex<Option<releasy_domain::artifact::ObjectKey>>,
    change: Change,
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Replaced,
    Removed,
}

impl ChangedDuringRead {
    fn new(objects: Arc<InMemoryObjects>, change: Change) -> Self {
        Self {
            objects,
            key: std::sync::Mutex::new(None),
            change,
        }
    }
}

impl StoreCallObserver for ChangedDuringRead {
    type Call = &'static str;
    fn started(&self, operation: &'static str) -> &'static str {
        operation
    }
    fn finished(&self, operation: &'static str, _ok: bool) {
        if operation == "sha256"
            && let Some(key) = self.key.lock().unwrap().take()
        {
            match self.change {
                Change::Replaced => self.objects.copy_in_place(&key),
                Change::Removed => self.objects.remove(&key),
            };
        }
    }
}

/// Bytes read while the object was replaced are nobody's: the check fails the
/// artifact rather than judge the new object by them.
#[tokio::test]
async fn an_object_replaced_while_it_is_read_fails_its_check() {
    let objects = Arc::new(InMemoryObjects::default());
    let observer = Arc::new(ChangedDuringRead::new(objects.clone(), Change::Replaced));
    let store = Arc::new(ObservedObjectStore::new(objects.clone(), observer.clone()));
    let w = World::on(objects, store, 4).await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    let artifact = registered.unwrap();
    *observer.key.lock().unwrap() = Some(artifact.object_key.clone());
    let report = w.verify_next().await.unwrap();
    assert_eq!(report.outcome, VerifyOutcome::Replaced);
    assert_eq!(w.verification_of(id).await, Verification::Failed);
}

/// Registration takes the same two looks: an object replaced while registration read
/// it is judged again as it is now (its tag recorded is the one of the bytes judged);
/// one that keeps changing is refused (`409`), and nothing is deleted.
#[tokio::test]
async fn an_object_replaced_while_registration_reads_it_is_judged_again() {
    let objects = Arc::new(InMemoryObjects::default());
    let observer = Arc::new(ChangedDuringRead::new(objects.clone(), Change::Replaced));
    let store = Arc::new(ObservedObjectStore::new(objects.clone(), observer.clone()));
    let w = World::on(objects, store, 1024).await;
    let presigned = w.stage(BYTES).await;
    let before = w
        .objects
        .head(&presigned.object_key)
        .await
        .unwrap()
        .unwrap();
    *observer.key.lock().unwrap() = Some(presigned.object_key.clone());
    let registered = w.register(&presigned, BYTES).await.unwrap();
    assert_eq!(registered.verification, Verification::Verified);
    let now = w
        .objects
        .head(&presigned.object_key)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(now.etag, before.etag, "replaced during the first read");
    assert_eq!(
        registered.object_etag, now.etag,
        "the tag of the object judged"
    );
}

/// An object removed while registration read it is missing (`400 object not found`):
/// nothing is recorded for bytes that are no longer there.
#[tokio::test]
async fn an_object_removed_while_registration_reads_it_is_missing() {
    let objects = Arc::new(InMemoryObjects::default());
    let observer = Arc::new(ChangedDuringRead::new(objects.clone(), Change::Removed));
    let store = Arc::new(ObservedObjectStore::new(objects.clone(), observer.clone()));
    let w = World::on(objects, store, 1024).await;
    let presigned = w.stage(BYTES).await;
    *observer.key.lock().unwrap() = Some(presigned.object_key.clone());
    let refused = w.register(&presigned, BYTES).await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::ObjectMissing)),
        "{refused:?}"
    );
    let artifacts = &w.h.ports.repositories.artifacts;
    let recorded = artifacts.get_with_release(presigned.artifact_id).await;
    assert!(recorded.unwrap().is_none(), "nothing registered");
}

/// Replaces the object under `key` each time a `sha256` read ends, counting the reads.
#[derive(Debug)]
struct ReplacedOnEveryRead {
    objects: Arc<InMemoryObjects>,
    key: std::sync::Mutex<Option<releasy_domain::artifact::ObjectKey>>,
    reads: std::sync::atomic::AtomicU32,
}

impl StoreCallObserver for ReplacedOnEveryRead {
    type Call = &'static str;
    fn started(&self, operation: &'static str) -> &'static str {
        operation
    }
    fn finished(&self, operation: &'static str, _ok: bool) {
        let key = self.key.lock().unwrap().clone();
        if operation == "sha256"
            && let Some(key) = key
        {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.objects.copy_in_place(&key);
        }
    }
}

#[tokio::test]
async fn an_object_that_keeps_changing_is_not_registered() {
    let objects = Arc::new(InMemoryObjects::default());
    let observer = Arc::new(ReplacedOnEveryRead {
        objects: objects.clone(),
        key: std::sync::Mutex::new(None),
        reads: std::sync::atomic::AtomicU32::new(0),
    });
    let store = Arc::new(ObservedObjectStore::new(objects.clone(), observer.clone()));
    let w = World::on(objects, store, 1024).await;
    let presigned = w.stage(BYTES).await;
    *observer.key.lock().unwrap() = Some(presigned.object_key.clone());
    let refused = w.register(&presigned, BYTES).await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::ObjectReplaced)),
        "{refused:?}"
    );
    assert_eq!(
        observer.reads.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "judged three times before it was refused"
    );
    assert_eq!(
        w.objects.get(&presigned.object_key).as_deref(),
        Some(BYTES),
        "nothing deleted"
    );
}

/// A copy of the object onto itself (another storage class or encryption) keeps its
/// bytes under another tag: downloads refuse it as changed, and a recheck that finds
/// the declared bytes verifies it again under its new tag, so downloads resume.
#[tokio::test]
async fn a_recheck_of_the_same_bytes_under_a_new_tag_lets_downloads_resume() {
    let w = World::new(InMemoryObjects::default(), 1024).await;
    let key = w.entitled_key().await;
    let (id, registered) = w.upload(BYTES, BYTES).await;
    let artifact = registered.unwrap();
    assert!(w.objects.copy_in_place(&artifact.object_key));
    let resolve = async || -> Result<(), String> {
        let token =
            w.h.services
                .downloads
                .issue(&Origin::admin_key(), &key, id, None, ttl(), None)
                .await
                .map_err(|e| e.to_string())?;
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::default())
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    };
    assert!(resolve().await.is_err(), "another tag reads as other bytes");
    assert_eq!(w.verification_of(id).await, Verification::Failed);

    let failed =
        w.h.services
            .artifacts
            .list_by_verification(Verification::Failed, None, 10)
            .await
            .unwrap();
    let report = w.h.services.artifacts.recheck(&failed[0]).await.unwrap();
    assert_eq!(
        (report.outcome, report.decided),
        (VerifyOutcome::Matches, true)
    );
    assert_eq!(w.verification_of(id).await, Verification::Verified);
    resolve().await.expect("the new tag is the recorded one");
}
