//! The release lifecycle: draft -> published -> draft.

use crate::{Timestamp, ValidationError};

/// Where a release is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseStatus {
    /// Visible to operators only.
    Draft,
    /// Visible to entitled customers.
    Published,
}

/// A transition that the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// Publishing a published release.
    #[error("release already published")]
    AlreadyPublished,
    /// Unpublishing a draft.
    #[error("release already draft")]
    AlreadyDraft,
}

impl ReleaseStatus {
    /// The contract's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Draft => "draft",
            ReleaseStatus::Published => "published",
        }
    }

    /// The status with this name.
    ///
    /// # Errors
    /// [`ValidationError`] on `status` for an unknown name.
    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        match name {
            "draft" => Ok(ReleaseStatus::Draft),
            "published" => Ok(ReleaseStatus::Published),
            other => Err(ValidationError::new(
                "status",
                format!("must be draft or published (got `{other}`)"),
            )),
        }
    }

    /// Publishing: allowed from draft; the new `published_at` is `now`.
    ///
    /// # Errors
    /// [`LifecycleError::AlreadyPublished`] from published.
    pub fn publish(
        self,
        now: Timestamp,
    ) -> Result<(ReleaseStatus, Option<Timestamp>), LifecycleError> {
        match self {
            ReleaseStatus::Draft => Ok((ReleaseStatus::Published, Some(now))),
            ReleaseStatus::Published => Err(LifecycleError::AlreadyPublished),
        }
    }

    /// Unpublishing: allowed from published; `published_at` is cleared.
    ///
    /// # Errors
    /// [`LifecycleError::AlreadyDraft`] from draft.
    pub fn unpublish(self) -> Result<(ReleaseStatus, Option<Timestamp>), LifecycleError> {
        match self {
            ReleaseStatus::Published => Ok((ReleaseStatus::Draft, None)),
            ReleaseStatus::Draft => Err(LifecycleError::AlreadyDraft),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_seconds(7);

    #[test]
    fn draft_publishes_and_published_unpublishes() {
        assert_eq!(
            ReleaseStatus::Draft.publish(NOW),
            Ok((ReleaseStatus::Published, Some(NOW)))
        );
        assert_eq!(
            ReleaseStatus::Published.unpublish(),
            Ok((ReleaseStatus::Draft, None))
        );
    }

    #[test]
    fn repeated_transitions_are_refused_with_the_contract_messages() {
        assert_eq!(
            ReleaseStatus::Published
                .publish(NOW)
                .unwrap_err()
                .to_string(),
            "release already published"
        );
        assert_eq!(
            ReleaseStatus::Draft.unpublish().unwrap_err().to_string(),
            "release already draft"
        );
    }

    #[test]
    fn status_names_round_trip() {
        for s in [ReleaseStatus::Draft, ReleaseStatus::Published] {
            assert_eq!(ReleaseStatus::parse(s.as_str()).unwrap(), s);
        }
        assert!(ReleaseStatus::parse("archived").is_err());
    }
}
