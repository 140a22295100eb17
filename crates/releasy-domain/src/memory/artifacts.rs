//! `ArtifactRepository` on the in-memory release store.

use async_trait::async_trait;

use super::releases::ReleaseState;
use super::{InMemoryReleases, lock};
use crate::artifact::{Artifact, PendingUpload, Verification};
use crate::audit::AuditEvent;
use crate::ports::{ArtifactRepository, ObjectMeta, RepoError};
use crate::release::Release;
use crate::{ArtifactId, ReleaseId, Timestamp};

#[async_trait]
impl ArtifactRepository for InMemoryReleases {
    async fn insert(&self, artifact: &Artifact, event: &AuditEvent) -> Result<(), RepoError> {
        let mut state = lock(&self.state);
        insert_artifact(&mut state, artifact)?;
        self.record(std::slice::from_ref(event));
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

    async fn insert_upload(&self, upload: &PendingUpload) -> Result<(), RepoError> {
        let mut state = lock(&self.state);
        if state
            .uploads
            .iter()
            .any(|u| u.artifact_id == upload.artifact_id)
        {
            return Err(RepoError::Conflict);
        }
        state.uploads.push(upload.clone());
        Ok(())
    }

    async fn get_upload(&self, id: ArtifactId) -> Result<Option<PendingUpload>, RepoError> {
        Ok(lock(&self.state)
            .uploads
            .iter()
            .find(|u| u.artifact_id == id)
            .cloned())
    }

    async fn delete_upload(&self, id: ArtifactId) -> Result<bool, RepoError> {
        let mut state = lock(&self.state);
        let before = state.uploads.len();
        state.uploads.retain(|u| u.artifact_id != id);
        Ok(state.uploads.len() < before)
    }

    async fn end_upload(
        &self,
        id: ArtifactId,
        at: Timestamp,
        event: Option<&AuditEvent>,
    ) -> Result<bool, RepoError> {
        let mut state = lock(&self.state);
        let open = state
            .uploads
            .iter_mut()
            .find(|u| u.artifact_id == id && u.ended_at.is_none());
        let ended = open.map(|upload| upload.ended_at = Some(at)).is_some();
        if ended && let Some(event) = event {
            self.record(std::slice::from_ref(event));
        }
        Ok(ended)
    }

    async fn uploads_created_before(
        &self,
        cutoff: Timestamp,
        after: Option<(Timestamp, ArtifactId)>,
        limit: u32,
    ) -> Result<Vec<PendingUpload>, RepoError> {
        let after = after.map(|(at, id)| (at, id.to_string()));
        let mut old: Vec<PendingUpload> = lock(&self.state)
            .uploads
            .iter()
            .filter(|u| u.created_at < cutoff)
            .filter(|u| {
                after
                    .as_ref()
                    .is_none_or(|after| (u.created_at, u.artifact_id.to_string()) > *after)
            })
            .cloned()
            .collect();
        old.sort_by_cached_key(|u| (u.created_at, u.artifact_id.to_string()));
        old.truncate(limit as usize);
        Ok(old)
    }

    async fn insert_completing_upload(
        &self,
        artifact: &Artifact,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut state = lock(&self.state);
        // The release is checked first, as the database's transaction does.
        if !release_open(&state, artifact) {
            return Err(RepoError::MissingReference);
        }
        let Some(index) = state
            .uploads
            .iter()
            .position(|u| u.artifact_id == artifact.id && u.ended_at.is_none())
        else {
            return Ok(false);
        };
        insert_artifact(&mut state, artifact)?;
        state.uploads.remove(index);
        self.record(std::slice::from_ref(event));
        Ok(true)
    }

    async fn list_by_verification(
        &self,
        verification: Verification,
        after: Option<ArtifactId>,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        let after = after.map(|id| id.to_string());
        let mut rows: Vec<Artifact> = lock(&self.state)
            .artifacts
            .iter()
            .filter(|a| a.verification == verification)
            .filter(|a| after.as_ref().is_none_or(|after| a.id.to_string() > *after))
            .cloned()
            .collect();
        rows.sort_by_key(|a| a.id.to_string());
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn unclaimed_pending(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        let state = lock(&self.state);
        let mut rows: Vec<Artifact> = state
            .artifacts
            .iter()
            .filter(|a| a.verification == Verification::Pending)
            .filter(|a| is_unclaimed(&state, a.id, now))
            .cloned()
            .collect();
        rows.sort_by_key(|a| (a.created_at, a.id.to_string()));
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn claim_verification(
        &self,
        id: ArtifactId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, RepoError> {
        let mut state = lock(&self.state);
        if !is_pending(&state, id) || !is_unclaimed(&state, id, now) {
            return Ok(false);
        }
        state.verification_claims.insert(id, until);
        Ok(true)
    }

    async fn shorten_verification_claim(
        &self,
        id: ArtifactId,
        held_until: Timestamp,
        retry_at: Timestamp,
    ) -> Result<bool, RepoError> {
        let mut state = lock(&self.state);
        let pending = is_pending(&state, id);
        match state.verification_claims.get_mut(&id) {
            Some(until) if pending && *until == held_until => {
                *until = retry_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn set_verification(
        &self,
        id: ArtifactId,
        from: Verification,
        to: Verification,
        object: Option<&ObjectMeta>,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut state = lock(&self.state);
        let Some(artifact) = state
            .artifacts
            .iter_mut()
            .find(|a| a.id == id && a.verification == from)
        else {
            return Ok(false);
        };
        artifact.verification = to;
        if let Some(object) = object {
            artifact.object_etag.clone_from(&object.etag);
            artifact.object_version.clone_from(&object.version_id);
        }
        state.verification_claims.remove(&id);
        self.record(std::slice::from_ref(event));
        Ok(true)
    }
}

/// Whether artifact `id` awaits its verification.
fn is_pending(state: &ReleaseState, id: ArtifactId) -> bool {
    state
        .artifacts
        .iter()
        .any(|a| a.id == id && a.verification == Verification::Pending)
}

/// Whether no verifier holds artifact `id` at `now`.
fn is_unclaimed(state: &ReleaseState, id: ArtifactId, now: Timestamp) -> bool {
    state
        .verification_claims
        .get(&id)
        .is_none_or(|until| *until <= now)
}

/// Stores `artifact` unless its id or key is taken or its release is missing.
fn insert_artifact(state: &mut ReleaseState, artifact: &Artifact) -> Result<(), RepoError> {
    let taken = state
        .artifacts
        .iter()
        .any(|a| a.id == artifact.id || a.object_key == artifact.object_key);
    if taken {
        return Err(RepoError::Conflict);
    }
    if !release_open(state, artifact) {
        return Err(RepoError::MissingReference);
    }
    state.artifacts.push(artifact.clone());
    Ok(())
}

/// Whether the artifact's release exists and takes artifacts: like the database's lock
/// of the release row, a sealed release takes none.
fn release_open(state: &ReleaseState, artifact: &Artifact) -> bool {
    state
        .releases
        .iter()
        .any(|r| r.id == artifact.release_id && !r.is_sealed())
}
