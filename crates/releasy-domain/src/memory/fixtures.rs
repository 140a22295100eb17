//! Sample values for tests of code that carries domain rows without looking into them
//! (decorators, queues, encoders).

use crate::artifact::Platform;
use crate::delivery::{DownloadOutcome, DownloadRecord, DownloadSubject, Requester};
use crate::release::{Product, Version};
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
