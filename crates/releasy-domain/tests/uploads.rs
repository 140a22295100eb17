//! Uploads over in-memory ports: in parts above the part size, resumed from their state,
//! aborted, checked against what the presign declared, and swept when abandoned.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use common::interposed_artifacts::{ArtifactsHook, InterposedArtifacts};
use releasy_domain::artifact::{
    Artifact, ArtifactSize, Checksum, CompletedPart, Filename, MIN_PART_SIZE, PendingUpload,
    Platform, PresignUpload, PresignedUpload, RegisterArtifact, RegisterArtifactError, SweepReport,
    UploadError, UploadTarget,
};
use releasy_domain::audit::Origin;
use releasy_domain::memory::{FixedClock, InMemoryObjects};
use releasy_domain::ports::{ArtifactRepository, RepoError};
use releasy_domain::release::{Product, Release, Version};
use releasy_domain::{Limits, Ports, ReleaseId, Services, Timestamp};

const T0: Timestamp = Timestamp::from_unix_seconds(1_735_312_000);
const PART: usize = MIN_PART_SIZE as usize;

struct World {
    clock: Arc<FixedClock>,
    objects: Arc<InMemoryObjects>,
    services: Services,
    release: Release,
}

impl World {
    /// Services with 5 MiB parts and a release to upload to.
    async fn new() -> Self {
        Self::with_ports(|_| {}).await
    }

    /// As [`Self::new`], with the ports changed by `adjust` first.
    async fn with_ports(adjust: impl FnOnce(&mut Ports)) -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        let objects = Arc::new(InMemoryObjects::default());
        let mut ports = Ports::in_memory_with_objects(clock.clone(), objects.clone());
        adjust(&mut ports);
        let limits = Limits {
            artifact_part_size_bytes: MIN_PART_SIZE,
            ..Limits::default()
        };
        let services = Services::with_limits(ports, limits);
        let release = services
            .releases
            .create(
                &Origin::admin_key(),
                Product::parse("app").unwrap(),
                Version::parse("1.0.0").unwrap(),
            )
            .await
            .unwrap();
        Self {
            clock,
            objects,
            services,
            release,
        }
    }

    async fn presign(&self, bytes: &[u8], declare: bool) -> PresignedUpload {
        let size = ArtifactSize::parse(bytes.len() as i64).unwrap();
        self.services
            .artifacts
            .presign_upload(
                self.release.id,
                PresignUpload {
                    filename: Filename::parse("app.img").unwrap(),
                    platform: Platform::parse("linux").unwrap(),
                    size: Some(size),
                    checksum: declare.then(|| Checksum::of_bytes(bytes)),
                },
            )
            .await
            .unwrap()
    }

    /// Puts `bytes` part by part as a client would; returns the completion list.
    fn put_parts(&self, upload: &PresignedUpload, bytes: &[u8]) -> Vec<CompletedPart> {
        let UploadTarget::Multipart {
            upload: plan,
            parts,
        } = &upload.target
        else {
            panic!("an upload in parts was expected");
        };
        parts
            .iter()
            .zip(bytes.chunks(plan.part_size as usize))
            .map(|(part, chunk)| CompletedPart {
                part_number: part.part_number,
                etag: self
                    .objects
                    .put_part(&plan.upload_id, part.part_number, chunk.to_vec())
                    .unwrap(),
            })
            .collect()
    }

    fn registration(
        upload: &PresignedUpload,
        bytes: &[u8],
        parts: Option<Vec<CompletedPart>>,
    ) -> RegisterArtifact {
        RegisterArtifact {
            artifact_id: upload.artifact_id,
            object_key: upload.object_key.as_str().to_owned(),
            checksum: Checksum::of_bytes(bytes),
            size: ArtifactSize::parse(bytes.len() as i64).unwrap(),
            platform: Platform::parse("linux").unwrap(),
            target: releasy_domain::artifact::ArtifactTarget::default(),
            parts,
        }
    }

    /// Registers `upload` of `bytes` (with its `parts`) by the admin key.
    async fn register(
        &self,
        upload: &PresignedUpload,
        bytes: &[u8],
        parts: Option<Vec<CompletedPart>>,
    ) -> Result<Artifact, RegisterArtifactError> {
        self.services
            .artifacts
            .register(
                &Origin::admin_key(),
                self.release.id,
                World::registration(upload, bytes, parts),
            )
            .await
    }
}

fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn a_file_above_the_part_size_is_uploaded_in_parts_and_registered() {
    let w = World::new().await;
    let bytes = file(2 * PART + 17);
    let upload = w.presign(&bytes, true).await;
    let UploadTarget::Multipart {
        upload: plan,
        parts,
    } = &upload.target
    else {
        panic!("multipart expected");
    };
    assert_eq!((plan.part_size, plan.part_count), (MIN_PART_SIZE, 3));
    assert_eq!(parts.len(), 3);
    assert!(
        parts
            .iter()
            .all(|p| p.upload.expires_at == T0.plus_seconds(900))
    );

    let completed = w.put_parts(&upload, &bytes);
    let artifact = w.register(&upload, &bytes, Some(completed)).await.unwrap();
    assert_eq!(artifact.size.bytes(), bytes.len() as u64);
    assert_eq!(w.objects.get(&upload.object_key), Some(bytes));
    assert_eq!(w.objects.open_uploads(), 0);
    assert!(matches!(
        w.services
            .artifacts
            .upload_state(w.release.id, upload.artifact_id)
            .await,
        Err(UploadError::NotFound)
    ));
}

#[tokio::test]
async fn a_file_up_to_the_part_size_gets_one_url_and_old_clients_are_unchanged() {
    let w = World::new().await;
    let bytes = file(PART);
    let upload = w.presign(&bytes, false).await;
    assert!(upload.single_url().is_some());
    w.objects.put(&upload.object_key, bytes.clone());
    w.register(&upload, &bytes, None).await.unwrap();
}

#[tokio::test]
async fn an_interrupted_upload_resumes_with_urls_for_the_missing_parts_only() {
    let w = World::new().await;
    let bytes = file(3 * PART);
    let upload = w.presign(&bytes, true).await;
    let mut completed = w.put_parts(&upload, &bytes);
    let UploadTarget::Multipart { upload: plan, .. } = &upload.target else {
        unreachable!()
    };
    // Part 2 is not whole: a client sent a short body.
    w.objects
        .put_part(&plan.upload_id, completed[1].part_number, vec![1; 10])
        .unwrap();
    w.clock.advance(600);
    let state = w
        .services
        .artifacts
        .upload_state(w.release.id, upload.artifact_id)
        .await
        .unwrap();
    let uploaded: Vec<u32> = state
        .uploaded_parts
        .iter()
        .map(|p| p.part_number.get())
        .collect();
    assert_eq!(uploaded, [1, 3]);
    let missing: Vec<u32> = state
        .missing_parts
        .iter()
        .map(|p| p.part_number.get())
        .collect();
    assert_eq!(missing, [2], "only the part not whole is offered again");
    assert_eq!(
        state.missing_parts[0].upload.expires_at,
        T0.plus_seconds(600 + 900),
        "fresh URLs"
    );
    completed[1].etag = w
        .objects
        .put_part(
            &plan.upload_id,
            completed[1].part_number,
            bytes[PART..2 * PART].to_vec(),
        )
        .unwrap();
    w.register(&upload, &bytes, Some(completed)).await.unwrap();
}

/// Near the end of its TTL a resumed upload gets URLs that die with it, so no byte can
/// arrive after the sweep; past the TTL there is nothing to resume.
#[tokio::test]
async fn a_resumed_upload_gets_no_url_that_outlives_its_ttl() {
    let w = World::new().await;
    let ttl = Limits::default().artifact_upload_ttl_seconds;
    let parts = file(2 * PART);
    let single = file(10);
    let in_parts = w.presign(&parts, true).await;
    let whole = w.presign(&single, true).await;

    w.clock.advance(ttl - 100);
    let abandoned_at = T0.plus_seconds(ttl);
    let state = w
        .services
        .artifacts
        .upload_state(w.release.id, in_parts.artifact_id)
        .await
        .unwrap();
    assert_eq!(state.missing_parts.len(), 2);
    assert!(
        state
            .missing_parts
            .iter()
            .all(|p| p.upload.expires_at == abandoned_at),
        "{:?}",
        state.missing_parts
    );
    let state = w
        .services
        .artifacts
        .upload_state(w.release.id, whole.artifact_id)
        .await
        .unwrap();
    assert_eq!(state.single_put.unwrap().url.expires_at, abandoned_at);

    w.clock.advance(100);
    for abandoned in [&in_parts, &whole] {
        let err = w
            .services
            .artifacts
            .upload_state(w.release.id, abandoned.artifact_id)
            .await
            .unwrap_err();
        assert!(matches!(err, UploadError::NotFound), "{err:?}");
    }
}

/// A clock that moves a second on at every reading, as time passes between the
/// readings of a request that waits for the store.
#[derive(Debug)]
struct TickingClock(Arc<FixedClock>);

impl releasy_domain::ports::Clock for TickingClock {
    fn now(&self) -> Timestamp {
        let now = self.0.now();
        self.0.advance(1);
        now
    }
}

/// The URLs of a resumed upload expire counted from the moment their lifetime was
/// measured against the upload's TTL, however long the store took meanwhile: none
/// outlives the sweep of its upload.
#[tokio::test]
async fn resumed_urls_expire_from_the_moment_their_lifetime_was_measured() {
    let mut ticking = None;
    let w = World::with_ports(|ports| {
        let clock = ports.clock.clone();
        let fixed = Arc::new(FixedClock::at(clock.now()));
        ticking = Some(fixed.clone());
        ports.clock = Arc::new(TickingClock(fixed));
    })
    .await;
    let clock = ticking.unwrap();
    let ttl = Limits::default().artifact_upload_ttl_seconds;
    let in_parts = w.presign(&file(2 * PART), true).await;
    let whole = w.presign(&file(10), true).await;
    clock.advance(ttl - 100);
    for presigned in [&in_parts, &whole] {
        let state = w
            .services
            .artifacts
            .upload_state(w.release.id, presigned.artifact_id)
            .await
            .unwrap();
        let swept_at = state.upload.created_at.plus_seconds(ttl);
        let expiries: Vec<_> = state
            .missing_parts
            .iter()
            .map(|part| part.upload.expires_at)
            .chain(state.single_put.map(|put| put.url.expires_at))
            .collect();
        assert!(!expiries.is_empty());
        assert!(
            expiries.iter().all(|expires_at| *expires_at <= swept_at),
            "{expiries:?} past {swept_at:?}"
        );
    }
}

/// An upload ended (by an abort, or the sweeper) between a registration's read of the
/// record and its insert: the interleaving registration must survive without leaving
/// the parts it joined behind.
#[derive(Debug)]
struct SweptMidway;

#[async_trait]
impl ArtifactsHook for SweptMidway {
    async fn before_completing(
        &self,
        store: &dyn ArtifactRepository,
        artifact: &Artifact,
    ) -> Result<(), RepoError> {
        assert!(
            store.delete_upload(artifact.id).await?,
            "the sweeper's claim"
        );
        Ok(())
    }
}

/// An upload ended while its parts are being joined: registration answers that the
/// upload is gone and removes the joined object, which an abort or sweep that freed the
/// bytes before the join finished would never find again.
#[tokio::test]
async fn an_upload_swept_while_it_completes_leaves_no_object() {
    let w = World::with_ports(|ports| InterposedArtifacts::install(ports, SweptMidway)).await;
    let bytes = file(2 * PART);
    let upload = w.presign(&bytes, true).await;
    let parts = w.put_parts(&upload, &bytes);
    let err = w.register(&upload, &bytes, Some(parts)).await.unwrap_err();
    assert!(matches!(err, RegisterArtifactError::UploadGone), "{err:?}");
    assert_eq!(w.objects.get(&upload.object_key), None);
}

/// A registration declaring other bytes, run to its refusal between a correct
/// registration's checks and its insert (as two clients registering one upload at once
/// would interleave).
#[derive(Debug, Default)]
struct RefusedMidway {
    refused: Arc<OnceLock<(Services, ReleaseId, RegisterArtifact)>>,
}

#[async_trait]
impl ArtifactsHook for RefusedMidway {
    async fn before_completing(
        &self,
        _store: &dyn ArtifactRepository,
        _artifact: &Artifact,
    ) -> Result<(), RepoError> {
        let (services, release, wrong) = self.refused.get().expect("set by the test");
        let refused = services
            .artifacts
            .register(&Origin::admin_key(), *release, wrong.clone())
            .await;
        assert!(
            matches!(refused, Err(RegisterArtifactError::ChecksumMismatch)),
            "{refused:?}"
        );
        Ok(())
    }
}

/// Of a correct registration and a refused one of the same upload at once, the refusal
/// (which deletes the object) and the registration never both go on: no artifact is
/// left registered without its bytes, and the upload is over as if aborted.
#[tokio::test]
async fn a_refusal_racing_a_registration_leaves_no_artifact_without_its_bytes() {
    let refused = Arc::new(OnceLock::new());
    let hook = RefusedMidway {
        refused: Arc::clone(&refused),
    };
    let w = World::with_ports(|ports| InterposedArtifacts::install(ports, hook)).await;
    let bytes = file(10);
    let upload = w.presign(&bytes, false).await;
    w.objects.put(&upload.object_key, bytes.clone());
    let mut other = bytes.clone();
    other[0] ^= 1;
    let wrong = World::registration(&upload, &other, None);
    refused
        .set((w.services.clone(), w.release.id, wrong))
        .expect("set once");

    let registered = w.register(&upload, &bytes, None).await;
    // The refusal came first and ended the upload: the registration that checked the
    // bytes before it does not complete it (before, it did, without its bytes).
    assert!(
        matches!(registered, Err(RegisterArtifactError::UploadGone)),
        "{registered:?}"
    );
    assert_eq!(w.objects.get(&upload.object_key), None);
    let record = w
        .services
        .artifacts
        .upload_state(w.release.id, upload.artifact_id)
        .await;
    assert!(matches!(record, Err(UploadError::NotFound)), "{record:?}");
}

/// The object key presigned for an artifact id is the one registered under it: another
/// file name under the same id is the contract's `object_key` refusal, the upload left
/// open for the right registration.
#[tokio::test]
async fn another_key_under_a_presigned_artifact_id_is_refused() {
    let w = World::new().await;
    let bytes = file(10);
    let upload = w.presign(&bytes, true).await;
    w.objects.put(&upload.object_key, bytes.clone());
    let mut other_file = World::registration(&upload, &bytes, None);
    other_file.object_key = other_file.object_key.replace("/app.img", "/other.img");
    let refused = w
        .services
        .artifacts
        .register(&Origin::admin_key(), w.release.id, other_file)
        .await;
    assert!(
        matches!(&refused, Err(RegisterArtifactError::Invalid(e))
            if e.to_string() == "object_key does not match release or platform"),
        "{refused:?}"
    );
    w.register(&upload, &bytes, None).await.expect("still open");
}

/// The upload presigned under an artifact id belongs to its release: a release made
/// again under the same product and version (its object keys are the same) does not
/// register it, even with the bytes its URL stored.
#[tokio::test]
async fn an_upload_of_a_deleted_release_is_not_registered_in_its_successor() {
    let w = World::new().await;
    let admin = Origin::admin_key();
    let bytes = file(10);
    let upload = w.presign(&bytes, true).await;
    w.services
        .releases
        .delete(&admin, w.release.id)
        .await
        .unwrap();
    w.objects.put(&upload.object_key, bytes.clone());
    let again = w
        .services
        .releases
        .create(
            &admin,
            Product::parse("app").unwrap(),
            Version::parse("1.0.0").unwrap(),
        )
        .await
        .unwrap();
    let refused = w
        .services
        .artifacts
        .register(&admin, again.id, World::registration(&upload, &bytes, None))
        .await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::UploadGone)),
        "{refused:?}"
    );
}

/// An abort that runs once, just after a registration read the upload's record (as an
/// operator's abort racing a CI job's registration would).
#[derive(Debug, Default)]
struct AbortedMidway {
    services: Arc<OnceLock<(Services, ReleaseId)>>,
    fired: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ArtifactsHook for AbortedMidway {
    async fn after_reading_upload(&self, upload: Option<&PendingUpload>) {
        let Some(upload) = upload else { return };
        if upload.ended_at.is_some() || self.fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let (services, release) = self.services.get().expect("set by the test");
        services
            .artifacts
            .abort_upload(&Origin::admin_key(), *release, upload.artifact_id)
            .await
            .expect("aborted");
    }
}

/// A registration whose upload is aborted while it runs (the parts freed before it
/// joins them) is told the upload is gone (`409`), not that nothing was uploaded.
#[tokio::test]
async fn an_upload_aborted_while_it_is_registered_is_gone() {
    let services = Arc::new(OnceLock::new());
    let hook = AbortedMidway {
        services: Arc::clone(&services),
        ..AbortedMidway::default()
    };
    let w = World::with_ports(|ports| InterposedArtifacts::install(ports, hook)).await;
    services
        .set((w.services.clone(), w.release.id))
        .expect("set once");
    let bytes = file(2 * PART);
    let upload = w.presign(&bytes, true).await;
    let parts = w.put_parts(&upload, &bytes);
    let registered = w.register(&upload, &bytes, Some(parts)).await;
    assert!(
        matches!(registered, Err(RegisterArtifactError::UploadGone)),
        "{registered:?}"
    );
    assert_eq!(w.objects.open_uploads(), 0);
    assert_eq!(w.objects.get(&upload.object_key), None);
}

#[tokio::test]
async fn registration_refuses_what_the_parts_or_the_presign_do_not_support() {
    let w = World::new().await;
    let bytes = file(2 * PART);
    let upload = w.presign(&bytes, true).await;
    let completed = w.put_parts(&upload, &bytes);
    let admin = Origin::admin_key();
    let register = |r: RegisterArtifact| w.services.artifacts.register(&admin, w.release.id, r);

    let without_parts = World::registration(&upload, &bytes, None);
    assert!(matches!(
        register(without_parts).await,
        Err(RegisterArtifactError::PartsRequired)
    ));
    let mut wrong_etag = completed.clone();
    wrong_etag[0].etag = "\"nope\"".into();
    let refused = register(World::registration(&upload, &bytes, Some(wrong_etag))).await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::PartsRejected(_))),
        "{refused:?}"
    );
    let one_part = World::registration(&upload, &bytes, Some(completed[..1].to_vec()));
    assert!(matches!(
        register(one_part).await,
        Err(RegisterArtifactError::Invalid(_))
    ));
    let mut other_bytes = bytes.clone();
    other_bytes[0] ^= 1;
    let other_checksum = World::registration(&upload, &other_bytes, Some(completed.clone()));
    assert!(matches!(
        register(other_checksum).await,
        Err(RegisterArtifactError::Invalid(e)) if e.field == "checksum"
    ));
    // The upload is still open after every refusal: the right registration completes it.
    register(World::registration(&upload, &bytes, Some(completed)))
        .await
        .unwrap();

    // `parts` for a single upload.
    let small = file(10);
    let single = w.presign(&small, false).await;
    w.objects.put(&single.object_key, small.clone());
    let parts = vec![CompletedPart {
        part_number: releasy_domain::artifact::PartNumber::parse(1).unwrap(),
        etag: "\"e\"".into(),
    }];
    assert!(matches!(
        register(World::registration(&single, &small, Some(parts))).await,
        Err(RegisterArtifactError::NotMultipart)
    ));
}

#[tokio::test]
async fn parts_with_other_bytes_than_declared_are_deleted_after_completion() {
    let w = World::new().await;
    let bytes = file(2 * PART);
    let upload = w.presign(&bytes, false).await;
    let mut sent = bytes.clone();
    sent[PART + 5] ^= 0xff;
    let completed = w.put_parts(&upload, &sent);
    let refused = w.register(&upload, &bytes, Some(completed)).await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::ChecksumMismatch)),
        "{refused:?}"
    );
    assert_eq!(w.objects.get(&upload.object_key), None);
    assert!(
        matches!(
            w.services
                .artifacts
                .upload_state(w.release.id, upload.artifact_id)
                .await,
            Err(UploadError::NotFound)
        ),
        "the upload in parts is over: presign again"
    );
}

#[tokio::test]
async fn an_aborted_upload_frees_its_parts_and_cannot_be_registered() {
    let w = World::new().await;
    let bytes = file(2 * PART);
    let upload = w.presign(&bytes, true).await;
    let completed = w.put_parts(&upload, &bytes);
    assert_eq!(w.objects.open_uploads(), 1);
    w.services
        .artifacts
        .abort_upload(&Origin::admin_key(), w.release.id, upload.artifact_id)
        .await
        .unwrap();
    assert_eq!(w.objects.open_uploads(), 0);
    assert!(matches!(
        w.services
            .artifacts
            .abort_upload(&Origin::admin_key(), w.release.id, upload.artifact_id)
            .await,
        Err(UploadError::NotFound)
    ));
    let refused = w.register(&upload, &bytes, Some(completed)).await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::UploadGone)),
        "{refused:?}"
    );
}

/// A single upload's URL still works after an abort (a presigned URL cannot be taken
/// back): what it stores is not registered, and the sweeper deletes it at the TTL.
#[tokio::test]
async fn bytes_stored_after_an_abort_are_refused_and_swept() {
    let w = World::new().await;
    let bytes = file(10);
    let upload = w.presign(&bytes, true).await;
    w.services
        .artifacts
        .abort_upload(&Origin::admin_key(), w.release.id, upload.artifact_id)
        .await
        .unwrap();
    // The client PUTs again with the URL it still holds.
    w.objects.put(&upload.object_key, bytes.clone());
    let refused = w.register(&upload, &bytes, None).await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::UploadGone)),
        "{refused:?}"
    );
    let state = w
        .services
        .artifacts
        .upload_state(w.release.id, upload.artifact_id)
        .await;
    assert!(matches!(state, Err(UploadError::NotFound)), "{state:?}");

    w.clock
        .advance(Limits::default().artifact_upload_ttl_seconds + 1);
    let report = w
        .services
        .artifacts
        .sweep_abandoned_uploads()
        .await
        .unwrap();
    assert_eq!((report.swept, report.failed), (1, 0));
    assert_eq!(w.objects.get(&upload.object_key), None);
    let again = w
        .services
        .artifacts
        .sweep_abandoned_uploads()
        .await
        .unwrap();
    assert_eq!(
        again,
        SweepReport::default(),
        "the record went with the bytes"
    );
}

/// Uploads whose bytes the store will not delete stay for the next sweep, and do not
/// hold newer abandoned uploads back however many there are (the sweep once read the
/// oldest 100 each time, and 100 such uploads stopped it for good): a sweep walks up to
/// 10 000, and the next goes on from there.
#[tokio::test]
async fn uploads_the_store_will_not_free_do_not_hold_the_sweep_back() {
    let w = World::new().await;
    let ttl = Limits::default().artifact_upload_ttl_seconds;
    let small = file(10);
    for _ in 0..10_050 {
        let stuck = w.presign(&small, false).await;
        w.objects.put(&stuck.object_key, small.clone());
        w.objects.refuse_deletes_of(&stuck.object_key);
    }
    w.clock.advance(1);
    let abandoned = w.presign(&small, false).await;
    w.objects.put(&abandoned.object_key, small.clone());

    w.clock.advance(ttl + 1);
    let sweep = || w.services.artifacts.sweep_abandoned_uploads();
    let first = sweep().await.unwrap();
    assert_eq!(
        (first.swept, first.failed),
        (0, 10_000),
        "the most one sweep walks"
    );
    let why = first.first_failure.expect("the first failure's cause");
    assert!(why.contains("delete denied"), "{why}");
    let second = sweep().await.unwrap();
    assert_eq!(
        (second.swept, second.failed),
        (1, 50),
        "from where the first stopped"
    );
    assert_eq!(w.objects.get(&abandoned.object_key), None);
    let third = sweep().await.unwrap();
    assert_eq!(
        (third.swept, third.failed),
        (0, 10_000),
        "from the oldest again, tried again"
    );
}

#[tokio::test]
async fn the_sweeper_removes_abandoned_uploads_and_keeps_live_ones() {
    let w = World::new().await;
    let ttl = Limits::default().artifact_upload_ttl_seconds;
    let big = file(2 * PART);
    let abandoned_parts = w.presign(&big, true).await;
    w.put_parts(&abandoned_parts, &big);
    let small = file(10);
    let abandoned_single = w.presign(&small, false).await;
    w.objects.put(&abandoned_single.object_key, small.clone());

    w.clock.advance(ttl);
    let live = w.presign(&small, false).await;
    w.objects.put(&live.object_key, small.clone());
    let report = w
        .services
        .artifacts
        .sweep_abandoned_uploads()
        .await
        .unwrap();
    assert_eq!(
        (report.swept, report.failed),
        (0, 0),
        "none is older than the TTL yet"
    );

    w.clock.advance(1);
    let report = w
        .services
        .artifacts
        .sweep_abandoned_uploads()
        .await
        .unwrap();
    assert_eq!((report.swept, report.failed), (2, 0));
    assert_eq!(w.objects.open_uploads(), 0);
    assert_eq!(w.objects.get(&abandoned_single.object_key), None);
    assert_eq!(w.objects.get(&live.object_key), Some(small.clone()));
    let again = w
        .services
        .artifacts
        .sweep_abandoned_uploads()
        .await
        .unwrap();
    assert_eq!(again.swept, 0);

    // A swept upload's bytes are gone (and its URLs expired long ago).
    let refused = w.register(&abandoned_single, &small, None).await;
    assert!(
        matches!(refused, Err(RegisterArtifactError::ObjectMissing)),
        "{refused:?}"
    );
    w.register(&live, &small, None).await.unwrap();
}
