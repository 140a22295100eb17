//! Immutable releases: under the policy (the server's `RELEASY_IMMUTABLE_RELEASES` or a
//! product's own), a published release is sealed, and a sealed release's record and
//! artifacts never change again, even after it is unpublished.

use std::collections::HashMap;

use crate::artifact::{Artifact, Verification};
use crate::release::{Release, ReleaseStatus};
use crate::{ArtifactId, Timestamp};

/// Why a release cannot be published under the immutable-releases policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A sealed release without files could never get any.
    #[error("release has no artifacts")]
    NoArtifacts,
    /// An artifact is still being checked, or failed its check: sealed, the release
    /// could never be mended.
    #[error("release has artifacts that are not verified")]
    Unverified,
}

/// What a seal was judged on: the release's artifacts and their verification when
/// [`Release::seal_on_publish`] allowed it. The repository seals only while the release
/// still has exactly these, checked under the release's lock: a registration, removal
/// or verification committed since they were read makes the judgement stale.
///
/// ```
/// use releasy_domain::artifact::Verification;
/// use releasy_domain::release::SealBasis;
/// use releasy_domain::ArtifactId;
///
/// let (a, b) = (ArtifactId::generate(), ArtifactId::generate());
/// let basis = SealBasis::from_stored([(a, Verification::Verified)]);
/// assert_eq!(basis, SealBasis::from_stored([(a, Verification::Verified)]));
/// let added = SealBasis::from_stored([(a, Verification::Verified), (b, Verification::Pending)]);
/// assert_ne!(basis, added, "an artifact registered since");
/// assert_ne!(basis, SealBasis::from_stored([(a, Verification::Failed)]), "verified since");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealBasis(HashMap<ArtifactId, Verification>);

impl SealBasis {
    /// The basis of a judgement on `artifacts`.
    pub fn of(artifacts: &[Artifact]) -> Self {
        Self::from_stored(artifacts.iter().map(|a| (a.id, a.verification)))
    }

    /// The basis of a judgement on these artifact ids and their verification.
    pub fn from_stored(stored: impl IntoIterator<Item = (ArtifactId, Verification)>) -> Self {
        Self(stored.into_iter().collect())
    }
}

/// How [`ReleaseRepository::publish_sealed`](crate::ports::ReleaseRepository::publish_sealed)
/// ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealOutcome {
    /// Published and sealed.
    Sealed(Release),
    /// The release is gone, or no longer a draft: nothing written.
    NotADraft,
    /// Its artifacts are no longer the [`SealBasis`]: nothing written; judge again on
    /// these, as the store read them under the release's lock (a cache in front of the
    /// store may not have seen the change yet).
    ArtifactsChanged(SealBasis),
}

impl Release {
    /// Whether it was sealed: published while the policy applied.
    pub fn is_sealed(&self) -> bool {
        self.sealed_at.is_some()
    }

    /// Whether its record and artifacts are fixed: it is sealed, or it is published
    /// and the policy applies to its product now (a release published before the
    /// policy was switched on is fixed while it stays published). Unpublish and yank
    /// stay possible; adding or removing artifacts, editing and deleting do not.
    ///
    /// ```
    /// use releasy_domain::release::{Product, Release, ReleaseStatus, Version};
    /// use releasy_domain::Timestamp;
    ///
    /// let now = Timestamp::from_unix_seconds(1_735_312_000);
    /// let mut release = Release::draft(Product::parse("agent").unwrap(), Version::parse("1.0.0").unwrap(), None, now);
    /// assert!(!release.is_immutable(true), "a draft never sealed is open");
    /// release.status = ReleaseStatus::Published;
    /// assert!(release.is_immutable(true));
    /// assert!(!release.is_immutable(false));
    /// release.sealed_at = Some(now);
    /// release.status = ReleaseStatus::Draft;
    /// assert!(release.is_immutable(false), "sealed for good");
    /// ```
    pub fn is_immutable(&self, policy_applies: bool) -> bool {
        self.is_sealed() || (policy_applies && self.status == ReleaseStatus::Published)
    }

    /// When a publication at `now` seals the release: never without the policy (a
    /// release sealed before keeps its seal), and only when it has at least one
    /// artifact and every one of its `artifacts` can be downloaded (none pending or
    /// failed: a sealed release could never replace it).
    ///
    /// # Errors
    /// [`SealError::NoArtifacts`] or [`SealError::Unverified`] when the policy
    /// applies.
    pub fn seal_on_publish(
        &self,
        policy_applies: bool,
        artifacts: &SealBasis,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, SealError> {
        if !(policy_applies || self.is_sealed()) {
            return Ok(None);
        }
        if artifacts.0.is_empty() {
            return Err(SealError::NoArtifacts);
        }
        if artifacts
            .0
            .values()
            .any(|v| matches!(v, Verification::Pending | Verification::Failed))
        {
            return Err(SealError::Unverified);
        }
        Ok(Some(self.sealed_at.unwrap_or(now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Product, Version};

    const NOW: Timestamp = Timestamp::from_unix_seconds(1_000);

    fn draft() -> Release {
        Release::draft(
            Product::parse("agent").unwrap(),
            Version::parse("1.0.0").unwrap(),
            None,
            Timestamp::from_unix_seconds(10),
        )
    }

    #[test]
    fn only_a_published_release_under_the_policy_or_a_sealed_one_is_fixed() {
        let mut release = draft();
        assert!(!release.is_immutable(false));
        assert!(!release.is_immutable(true));
        release.status = ReleaseStatus::Published;
        assert!(!release.is_immutable(false));
        assert!(release.is_immutable(true));
        release.sealed_at = Some(NOW);
        release.status = ReleaseStatus::Draft;
        assert!(release.is_immutable(false), "unpublishing keeps the seal");
    }

    fn artifact(release: &Release, verification: Verification) -> Artifact {
        Artifact {
            verification,
            ..crate::memory::sample_artifact(release, "linux", NOW)
        }
    }

    #[test]
    fn publishing_seals_only_under_the_policy_with_downloadable_artifacts() {
        let release = draft();
        let none = SealBasis::default();
        let verified = SealBasis::of(&[artifact(&release, Verification::Verified)]);
        assert_eq!(release.seal_on_publish(false, &none, NOW), Ok(None));
        assert_eq!(release.seal_on_publish(true, &verified, NOW), Ok(Some(NOW)));
        let older = SealBasis::of(&[artifact(&release, Verification::Unverified)]);
        assert_eq!(
            release.seal_on_publish(true, &older, NOW),
            Ok(Some(NOW)),
            "artifacts registered before verification existed still download"
        );
        assert_eq!(
            release.seal_on_publish(true, &none, NOW),
            Err(SealError::NoArtifacts)
        );
        for state in [Verification::Pending, Verification::Failed] {
            let mixed = SealBasis::of(&[
                artifact(&release, Verification::Verified),
                artifact(&release, state),
            ]);
            assert_eq!(
                release.seal_on_publish(true, &mixed, NOW),
                Err(SealError::Unverified),
                "{state:?}"
            );
        }
        let sealed = Release {
            sealed_at: Some(Timestamp::from_unix_seconds(500)),
            ..draft()
        };
        assert_eq!(
            sealed.seal_on_publish(false, &verified, NOW),
            Ok(Some(Timestamp::from_unix_seconds(500))),
            "a sealed release keeps its first seal, policy or not"
        );
        assert_eq!(
            SealError::NoArtifacts.to_string(),
            "release has no artifacts"
        );
    }
}
