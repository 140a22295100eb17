//! Editing a draft's channel, notes and metadata.

use crate::ReleaseId;
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
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ReleaseService {
    /// Changes a draft's channel, notes or metadata (compare-and-set on the status: a
    /// release published meanwhile is refused).
    ///
    /// # Errors
    /// [`UpdateReleaseError::NotFound`], or [`UpdateReleaseError::NotDraft`].
    pub async fn update(
        &self,
        id: ReleaseId,
        changes: &ReleaseChanges,
    ) -> Result<Release, UpdateReleaseError> {
        match self.releases.update_draft(id, changes).await? {
            Some(release) => Ok(release),
            None if self.exists(id).await? => Err(UpdateReleaseError::NotDraft),
            None => Err(UpdateReleaseError::NotFound),
        }
    }
}
