//! Editing a draft's channel, notes and metadata.

use crate::ReleaseId;
use crate::audit::{AuditEvent, Origin};
use crate::ports::RepoError;
use crate::release::{Release, ReleaseChanges, ReleaseService};

/// Why a release could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateReleaseError {
    /// No release has that id.
    #[error("release not found")]
    NotFound,
    /// Only drafts are edited: a published release says what it said when published.
    #[error("release is not a draft")]
    NotDraft,
    /// The release is immutable (sealed, or published under the policy).
    #[error("release is immutable")]
    Immutable,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ReleaseService {
    /// Changes a draft's channel, notes or metadata (compare-and-set on the status: a
    /// release published meanwhile is refused). A sealed draft (unpublished after its
    /// publication sealed it) is not edited either.
    ///
    /// # Errors
    /// [`UpdateReleaseError::NotFound`], [`UpdateReleaseError::Immutable`] (sealed, or
    /// published under the immutable-releases policy), or
    /// [`UpdateReleaseError::NotDraft`].
    pub async fn update(
        &self,
        origin: &Origin,
        id: ReleaseId,
        changes: &ReleaseChanges,
    ) -> Result<Release, UpdateReleaseError> {
        let now = self.clock.now();
        let events = |before: &Release, after: &Release| {
            vec![AuditEvent::release_updated(origin, before, after, now)]
        };
        if let Some(release) = self.releases.update_draft(id, changes, &events).await? {
            return Ok(release);
        }
        let Some(current) = self.releases.get(id).await? else {
            return Err(UpdateReleaseError::NotFound);
        };
        Err(if self.is_immutable(&current).await? {
            UpdateReleaseError::Immutable
        } else {
            UpdateReleaseError::NotDraft
        })
    }
}
