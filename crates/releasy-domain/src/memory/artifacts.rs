//! `ArtifactRepository` on the in-memory release store.

use async_trait::async_trait;

use super::{InMemoryReleases, lock};
use crate::artifact::Artifact;
use crate::ports::{ArtifactRepository, RepoError};
use crate::release::Release;
use crate::{ArtifactId, ReleaseId};

#[async_trait]
impl ArtifactRepository for InMemoryReleases {
    async fn insert(&self, artifact: &Artifact) -> Result<(), RepoError> {
        let mut state = lock(&self.state);
        let taken = state
            .artifacts
            .iter()
            .any(|a| a.id == artifact.id || a.object_key == artifact.object_key);
        if taken {
            return Err(RepoError::Conflict);
        }
        if !state.releases.iter().any(|r| r.id == artifact.release_id) {
            return Err(RepoError::MissingReference);
        }
        state.artifacts.push(artifact.clone());
        Ok(())
    }

    async fn get_with_release(
        &self,
        id: ArtifactId,
    ) -> Result<Option<(Artifact, Release)>, RepoError> {
        let state = lock(&self.state);
        let Some(artifact) = state.artifacts.iter().find(|a| a.id == id) else {
            return Ok(None);
        };
        Ok(state
            .releases
            .iter()
            .find(|r| r.id == artifact.release_id)
            .map(|release| (artifact.clone(), release.clone())))
    }

    async fn list_for_releases(&self, releases: &[ReleaseId]) -> Result<Vec<Artifact>, RepoError> {
        let mut rows: Vec<Artifact> = lock(&self.state)
            .artifacts
            .iter()
            .filter(|a| releases.contains(&a.release_id))
            .cloned()
            .collect();
        rows.sort_by_key(|a| (a.created_at, a.id.to_string()));
        Ok(rows)
    }
}
