//! Immutable releases: under the policy (the server's `RELEASY_IMMUTABLE_RELEASES` or a
//! product's own), a published release is sealed, and a sealed release's record and
//! artifacts never change again, even after it is unpublished.

use crate::Timestamp;
use crate::release::{Release, ReleaseStatus};

/// Why a release cannot be published under the immutable-releases policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A sealed release without files could never get any.
    #[error("release has no artifacts")]
    NoArtifacts,
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
    /// release sealed before keeps its seal), and only with at least one artifact.
    ///
    /// # Errors
    /// [`SealError::NoArtifacts`] when the policy applies and the release has no
    /// artifact.
    pub fn seal_on_publish(
        &self,
        policy_applies: bool,
        artifact_count: usize,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, SealError> {
        if !(policy_applies || self.is_sealed()) {
            return Ok(None);
        }
        if artifact_count == 0 {
            return Err(SealError::NoArtifacts);
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

    #[test]
    fn publishing_seals_only_under_the_policy_and_needs_an_artifact() {
        let release = draft();
        assert_eq!(release.seal_on_publish(false, 0, NOW), Ok(None));
        assert_eq!(release.seal_on_publish(true, 2, NOW), Ok(Some(NOW)));
        assert_eq!(
            release.seal_on_publish(true, 0, NOW),
            Err(SealError::NoArtifacts)
        );
        let sealed = Release {
            sealed_at: Some(Timestamp::from_unix_seconds(500)),
            ..draft()
        };
        assert_eq!(
            sealed.seal_on_publish(false, 1, NOW),
            Ok(Some(Timestamp::from_unix_seconds(500))),
            "a sealed release keeps its first seal, policy or not"
        );
        assert_eq!(
            SealError::NoArtifacts.to_string(),
            "release has no artifacts"
        );
    }
}
