//! Artifacts: one artifact with its release (token issue), and the artifacts of a
//! listing page. Upload records and the verifier's queue are read and written through,
//! uncached: only upload management and the verifier read them.

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::artifact::{Artifact, PendingUpload, Verification};
use releasy_domain::audit::AuditEvent;
use releasy_domain::ports::{ArtifactRepository, ObjectMeta, RepoError};
use releasy_domain::release::Release;
use releasy_domain::{ArtifactId, ReleaseId, Timestamp};

use crate::read_cache::coherence::{Generations, Table};
use crate::read_cache::entries::Entries;

#[derive(Debug)]
pub(crate) struct CachedArtifacts {
    inner: Arc<dyn ArtifactRepository>,
    generations: Arc<Generations>,
    with_release: Entries<ArtifactId, Option<(Artifact, Release)>>,
    of_releases: Entries<Vec<ReleaseId>, Vec<Artifact>>,
}

impl CachedArtifacts {
    pub(crate) fn new(
        inner: Arc<dyn ArtifactRepository>,
        generations: Arc<Generations>,
        max_rows: u64,
    ) -> Self {
        Self {
            inner,
            with_release: Entries::new(
                generations.clone(),
                "artifacts_with_release",
                &[Table::Artifacts, Table::Releases],
                max_rows,
            ),
            of_releases: Entries::pages(
                generations.clone(),
                "artifacts_of_releases",
                &[Table::Artifacts],
                max_rows,
            ),
            generations,
        }
    }
}

#[async_trait]
impl ArtifactRepository for CachedArtifacts {
    async fn insert(&self, artifact: &Artifact, event: &AuditEvent) -> Result<(), RepoError> {
        self.generations
            .after_write(&[Table::Artifacts], self.inner.insert(artifact, event))
            .await
    }

    async fn get_with_release(
        &self,
        id: ArtifactId,
    ) -> Result<Option<(Artifact, Release)>, RepoError> {
        self.with_release
            .get_or_load(&id, |_| true, self.inner.get_with_release(id))
            .await
    }

    async fn list_for_releases(&self, releases: &[ReleaseId]) -> Result<Vec<Artifact>, RepoError> {
        self.of_releases
            .get_or_load(
                &releases.to_vec(),
                |_| true,
                self.inner.list_for_releases(releases),
            )
            .await
    }

    async fn insert_upload(&self, upload: &PendingUpload) -> Result<(), RepoError> {
        self.inner.insert_upload(upload).await
    }

    async fn get_upload(&self, id: ArtifactId) -> Result<Option<PendingUpload>, RepoError> {
        self.inner.get_upload(id).await
    }

    async fn delete_upload(&self, id: ArtifactId) -> Result<bool, RepoError> {
        self.inner.delete_upload(id).await
    }

    async fn end_upload(
        &self,
        id: ArtifactId,
        at: Timestamp,
        event: Option<&AuditEvent>,
    ) -> Result<bool, RepoError> {
        self.inner.end_upload(id, at, event).await
    }

    async fn uploads_created_before(
        &self,
        cutoff: Timestamp,
        after: Option<(Timestamp, ArtifactId)>,
        limit: u32,
    ) -> Result<Vec<PendingUpload>, RepoError> {
        self.inner
            .uploads_created_before(cutoff, after, limit)
            .await
    }

    async fn insert_completing_upload(
        &self,
        artifact: &Artifact,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        self.generations
            .after_write(
                &[Table::Artifacts],
                self.inner.insert_completing_upload(artifact, event),
            )
            .await
    }

    async fn list_by_verification(
        &self,
        verification: Verification,
        after: Option<ArtifactId>,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        self.inner
            .list_by_verification(verification, after, limit)
            .await
    }

    async fn unclaimed_pending(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        self.inner.unclaimed_pending(now, limit).await
    }

    // A claim changes no field an artifact is read with: nothing to invalidate.
    async fn claim_verification(
        &self,
        id: ArtifactId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, RepoError> {
        self.inner.claim_verification(id, now, until).await
    }

    async fn shorten_verification_claim(
        &self,
        id: ArtifactId,
        held_until: Timestamp,
        retry_at: Timestamp,
    ) -> Result<bool, RepoError> {
        self.inner
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
        // A failed verification withdraws the artifact.
        self.generations
            .after_withdrawal(
                &[Table::Artifacts],
                self.inner.set_verification(id, from, to, object, event),
            )
            .await
    }
}
