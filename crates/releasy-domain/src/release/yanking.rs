//! Yanking: pulling a bad release from updaters and listings without erasing it.

use crate::ReleaseId;
use crate::audit::{AuditEvent, Origin};
use crate::ports::RepoError;
use crate::release::{Release, ReleaseService, Yank, YankReason};

/// Why a release could not be yanked or unyanked.
#[derive(Debug, thiserror::Error)]
pub enum YankError {
    /// No release has that id.
    #[error("release not found")]
    NotFound,
    /// Yanking a yanked release.
    #[error("release already yanked")]
    AlreadyYanked,
    /// Unyanking a release that is not yanked.
    #[error("release not yanked")]
    NotYanked,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ReleaseService {
    /// Yanks a release: `latest` and `upgrade` skip it, customer listings hide it unless
    /// asked, and with `blocks_downloads` its artifacts get no more download tokens.
    /// Its record and files stay.
    ///
    /// # Errors
    /// [`YankError::NotFound`], or [`YankError::AlreadyYanked`] (also when a
    /// concurrent yank won).
    pub async fn yank(
        &self,
        origin: &Origin,
        id: ReleaseId,
        reason: YankReason,
        blocks_downloads: bool,
    ) -> Result<Release, YankError> {
        let yank = Yank {
            at: self.clock.now(),
            reason,
            blocks_downloads,
        };
        let event = |after: &Release| AuditEvent::release_yank_changed(origin, after, yank.at);
        match self.releases.set_yank(id, Some(&yank), &event).await? {
            Some(release) => Ok(release),
            None if self.exists(id).await? => Err(YankError::AlreadyYanked),
            None => Err(YankError::NotFound),
        }
    }

    /// Lifts a yank.
    ///
    /// # Errors
    /// [`YankError::NotFound`], or [`YankError::NotYanked`].
    pub async fn unyank(&self, origin: &Origin, id: ReleaseId) -> Result<Release, YankError> {
        let now = self.clock.now();
        let event = |after: &Release| AuditEvent::release_yank_changed(origin, after, now);
        match self.releases.set_yank(id, None, &event).await? {
            Some(release) => Ok(release),
            None if self.exists(id).await? => Err(YankError::NotYanked),
            None => Err(YankError::NotFound),
        }
    }
}
