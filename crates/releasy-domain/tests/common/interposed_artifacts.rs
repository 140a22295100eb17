//! An artifact repository that answers as the store it wraps, except where a test's
//! hook changes it: a registration interleaved with a sweep, a cache that has not seen a
//! write yet.

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::artifact::{Artifact, PendingUpload, Verification};
use releasy_domain::audit::AuditEvent;
use releasy_domain::ports::{ArtifactRepository, ObjectMeta, RepoError};
use releasy_domain::release::Release;
use releasy_domain::{ArtifactId, Ports, ReleaseId, Timestamp};

/// What a test changes; every default leaves the store's answer as it is.
#[async_trait]
pub trait ArtifactsHook: Send + Sync + std::fmt::Debug {
    /// What a listing answers, given what the store listed.
    fn listed(&self, listed: Vec<Artifact>) -> Vec<Artifact> {
        listed
    }

    /// Runs after the record of an upload was read, before its reader goes on.
    async fn after_reading_upload(&self, _upload: Option<&PendingUpload>) {}

    /// Runs before a registration inserts the artifact of an upload it completed.
    async fn before_completing(
        &self,
        _store: &dyn ArtifactRepository,
        _artifact: &Artifact,
    ) -> Result<(), RepoError> {
        Ok(())
    }
}

/// `store` with `hook` in front of it.
#[derive(Debug)]
pub struct InterposedArtifacts<H> {
    pub store: Arc<dyn ArtifactRepository>,
    pub hook: H,
}

impl<H: ArtifactsHook + 'static> InterposedArtifacts<H> {
    /// Puts `hook` in front of the artifact store `ports` hold.
    pub fn install(ports: &mut Ports, hook: H) {
        let store = ports.repositories.artifacts.clone();
        ports.repositories.artifacts = Arc::new(Self { store, hook });
    }
}

#[async_trait]
impl<H: ArtifactsHook> ArtifactRepository for InterposedArtifacts<H> {
    async fn insert(&self, artifact: &Artifact, event: &AuditEvent) -> Result<(), RepoError> {
        self.store.insert(artifact, event).await
    }
    async fn get_with_release(
        &self,
        id: ArtifactId,
    ) -> Result<Option<(Artifact, Release)>, RepoError> {
        self.store.get_with_release(id).await
    }
    async fn list_for_releases(&self, releases: &[ReleaseId]) -> Result<Vec<Artifact>, RepoError> {
        Ok(self
            .hook
            .listed(self.store.list_for_releases(releases).await?))
    }
    async fn insert_upload(&self, upload: &PendingUpload) -> Result<(), RepoError> {
        self.store.insert_upload(upload).await
    }
    async fn get_upload(&self, id: ArtifactId) -> Result<Option<PendingUpload>, RepoError> {
        let upload = self.store.get_upload(id).await?;
        self.hook.after_reading_upload(upload.as_ref()).await;
        Ok(upload)
    }
    async fn delete_upload(&self, id: ArtifactId) -> Result<bool, RepoError> {
        self.store.delete_upload(id).await
    }
    async fn end_upload(
        &self,
        id: ArtifactId,
        at: Timestamp,
        event: Option<&AuditEvent>,
    ) -> Result<bool, RepoError> {
        self.store.end_upload(id, at, event).await
    }
    async fn uploads_created_before(
        &self,
        cutoff: Timestamp,
        after: Option<(Timestamp, ArtifactId)>,
        limit: u32,
    ) -> Result<Vec<PendingUpload>, RepoError> {
        self.store
            .uploads_created_before(cutoff, after, limit)
            .await
    }
    async fn insert_completing_upload(
        &self,
        artifact: &Artifact,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        self.hook
            .before_completing(self.store.as_ref(), artifact)
            .await?;
        self.store.insert_completing_upload(artifact, event).await
    }
    async fn list_by_verification(
        &self,
        verification: Verification,
        after: Option<ArtifactId>,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        self.store
            .list_by_verification(verification, after, limit)
            .await
    }
    async fn unclaimed_pending(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        self.store.unclaimed_pending(now, limit).await
    }
    async fn claim_verification(
        &self,
        id: ArtifactId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, RepoError> {
        self.store.claim_verification(id, now, until).await
    }
    async fn shorten_verification_claim(
        &self,
        id: ArtifactId,
        held_until: Timestamp,
        retry_at: Timestamp,
    ) -> Result<bool, RepoError> {
        self.store
            .shorten_verification_claim(id, held_until, retry_at)
            .await
    }
    async fn set_verification(
        &self,
        id: ArtifactId,
        from: Verification,
        to: Verification,
        object: Option<&ObjectMeta>,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        self.store
            .set_verification(id, from, to, object, event)
            .await
    }
}
