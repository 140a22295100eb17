//! Releases: single releases and listing pages (admin and customer views alike; the
//! customer's entitled products are part of the filter, so of the key).

use std::sync::Arc;

use async_trait::async_trait;
use releasy_domain::artifact::ObjectKey;
use releasy_domain::audit::AuditEvent;
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ChangeEvent, ChangeEvents, ReleaseRepository, RepoError};
use releasy_domain::release::{
    Release, ReleaseChanges, ReleaseFilter, ReleaseStatus, SealBasis, SealOutcome, Yank,
};
use releasy_domain::{ReleaseId, Timestamp};

use crate::read_cache::coherence::{Generations, Table};
use crate::read_cache::entries::Entries;

const TABLES: &[Table] = &[Table::Releases];
/// A listing narrowed to releases with a downloadable artifact for a platform
/// (`latest`, `upgrade`) changes with the artifacts too: one registered or verified.
const TABLES_WITH_ARTIFACTS: &[Table] = &[Table::Releases, Table::Artifacts];

#[derive(Debug)]
pub(crate) struct CachedReleases {
    inner: Arc<dyn ReleaseRepository>,
    generations: Arc<Generations>,
    by_id: Entries<ReleaseId, Option<Release>>,
    pages: Entries<(ReleaseFilter, PageRequest), Vec<Release>>,
    pages_by_platform: Entries<(ReleaseFilter, PageRequest), Vec<Release>>,
}

impl CachedReleases {
    pub(crate) fn new(
        inner: Arc<dyn ReleaseRepository>,
        generations: Arc<Generations>,
        max_rows: u64,
    ) -> Self {
        Self {
            inner,
            by_id: Entries::new(generations.clone(), "releases", TABLES, max_rows),
            pages: Entries::pages(generations.clone(), "release_pages", TABLES, max_rows),
            pages_by_platform: Entries::pages(
                generations.clone(),
                "release_pages_by_platform",
                TABLES_WITH_ARTIFACTS,
                max_rows,
            ),
            generations,
        }
    }
}

#[async_trait]
impl ReleaseRepository for CachedReleases {
    async fn insert(&self, release: &Release, event: &AuditEvent) -> Result<(), RepoError> {
        self.generations
            .after_write(TABLES, self.inner.insert(release, event))
            .await
    }

    async fn get(&self, id: ReleaseId) -> Result<Option<Release>, RepoError> {
        self.by_id
            .get_or_load(&id, |_| true, self.inner.get(id))
            .await
    }

    async fn get_current(&self, id: ReleaseId) -> Result<Option<Release>, RepoError> {
        self.inner.get_current(id).await
    }

    async fn list(
        &self,
        filter: &ReleaseFilter,
        page: PageRequest,
    ) -> Result<Vec<Release>, RepoError> {
        let key = (filter.clone(), page);
        let pages = if filter.downloadable_on.is_some() {
            &self.pages_by_platform
        } else {
            &self.pages
        };
        pages
            .get_or_load(&key, |_| true, self.inner.list(filter, page))
            .await
    }

    async fn transition(
        &self,
        id: ReleaseId,
        expected: ReleaseStatus,
        status: ReleaseStatus,
        published_at: Option<Timestamp>,
        event: &AuditEvent,
    ) -> Result<Option<Release>, RepoError> {
        let write = self
            .inner
            .transition(id, expected, status, published_at, event);
        if status == ReleaseStatus::Published {
            self.generations.after_write(TABLES, write).await
        } else {
            // Unpublishing withdraws the release from customers.
            self.generations.after_withdrawal(TABLES, write).await
        }
    }

    async fn publish_sealed(
        &self,
        id: ReleaseId,
        published_at: Timestamp,
        sealed_at: Timestamp,
        basis: &SealBasis,
        event: &AuditEvent,
    ) -> Result<SealOutcome, RepoError> {
        self.generations
            .after_write(
                TABLES,
                self.inner
                    .publish_sealed(id, published_at, sealed_at, basis, event),
            )
            .await
    }

    async fn update_draft(
        &self,
        id: ReleaseId,
        changes: &ReleaseChanges,
        events: ChangeEvents<'_, Release>,
    ) -> Result<Option<Release>, RepoError> {
        self.generations
            .after_write(TABLES, self.inner.update_draft(id, changes, events))
            .await
    }

    async fn set_yank(
        &self,
        id: ReleaseId,
        yank: Option<&Yank>,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Release>, RepoError> {
        self.generations
            .after_withdrawal(TABLES, self.inner.set_yank(id, yank, event))
            .await
    }

    async fn delete(
        &self,
        id: ReleaseId,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Vec<ObjectKey>>, RepoError> {
        // The release goes with its artifacts and their tokens.
        let gone = [Table::Releases, Table::Artifacts, Table::DownloadTokens];
        self.generations
            .after_withdrawal(&gone, self.inner.delete(id, event))
            .await
    }
}
