//! Sample values for tests of code that carries domain rows without looking into them
//! (decorators, queues, encoders).

use crate::artifact::{
    Artifact, ArtifactSize, ArtifactTarget, Checksum, Filename, ObjectKey, Platform, Verification,
};
use crate::delivery::{DownloadOutcome, DownloadRecord, DownloadSubject, Requester};
use crate::release::{Product, Release, Version};
use crate::{ArtifactId, CustomerId, DownloadRecordId, DownloadTokenId, ReleaseId, Timestamp};

/// A download-ledger row ending in `outcome`: a fresh customer, token and artifact
/// (`agent` 1.0.0 for linux, 42 bytes), recorded on 2026-12-04.
///
/// ```
/// use releasy_domain::delivery::DownloadOutcome;
/// use releasy_domain::memory::sample_download_record;
///
/// let row = sample_download_record(DownloadOutcome::Redirected);
/// assert_eq!(row.subject.bytes, 42);
/// assert_ne!(row.id, sample_download_record(DownloadOutcome::Redirected).id);
/// ```
#[allow(
    clippy::expect_used,
    reason = "the literals are valid; the doc test would catch one that stopped being"
)]
pub fn sample_download_record(outcome: DownloadOutcome) -> DownloadRecord {
    DownloadRecord {
        id: DownloadRecordId::generate(),
        at: Timestamp::from_unix_seconds(1_796_342_400),
        customer_id: CustomerId::generate(),
        api_key_id: None,
        subject: DownloadSubject {
            artifact_id: ArtifactId::generate(),
            release_id: ReleaseId::generate(),
            product: Product::parse("agent").expect("a valid product"),
            version: Version::parse("1.0.0").expect("a valid version"),
            platform: Platform::parse("linux").expect("a valid platform"),
            bytes: 42,
        },
        token_id: DownloadTokenId::generate(),
        purpose: None,
        requester: Requester::default(),
        outcome,
    }
}

/// A verified artifact of `release` (not stored) for `platform`: a fresh id, the
/// object key of the naming rule for `App Setup.tar.gz`, 1 MiB, and a checksum of its
/// own (two artifacts never share one).
///
/// # Panics
/// When `platform` is not a valid platform.
///
/// ```
/// use releasy_domain::Timestamp;
/// use releasy_domain::memory::sample_artifact;
/// use releasy_domain::release::{Product, Release, Version};
///
/// let now = Timestamp::from_unix_seconds(1_796_342_400);
/// let product = Product::parse("agent").unwrap();
/// let release = Release::draft(product, Version::parse("1.0.0").unwrap(), None, now);
/// let artifact = sample_artifact(&release, "linux-x86_64", now);
/// assert_eq!(artifact.release_id, release.id);
/// assert_ne!(artifact.checksum, sample_artifact(&release, "linux-x86_64", now).checksum);
/// ```
#[allow(
    clippy::expect_used,
    reason = "the literals are valid; a platform that is not is the caller's test's mistake"
)]
pub fn sample_artifact(release: &Release, platform: &str, created_at: Timestamp) -> Artifact {
    let id = ArtifactId::generate();
    let platform = Platform::parse(platform).expect("a valid platform");
    let filename = Filename::parse("App Setup.tar.gz").expect("a valid filename");
    let unique = id.as_uuid().simple().to_string();
    Artifact {
        id,
        release_id: release.id,
        object_key: ObjectKey::for_artifact(
            &release.product,
            &release.version,
            &platform,
            id,
            &filename,
        )
        .expect("a valid object key"),
        checksum: Checksum::parse(&unique.repeat(2)).expect("64 hex digits"),
        size: ArtifactSize::parse(1_048_576).expect("a valid size"),
        platform,
        target: ArtifactTarget::default(),
        created_at,
        verification: Verification::Verified,
        object_etag: None,
        object_version: None,
    }
}
