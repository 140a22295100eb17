//! Releases, their artifacts and their download tokens in one locked state, so deleting
//! a release takes its artifacts and tokens with it at once, as the database's
//! transaction does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{InMemoryCustomers, lock};
use crate::artifact::{Artifact, ObjectKey, PendingUpload};
use crate::audit::AuditEvent;
use crate::download::DownloadToken;
use crate::pagination::PageRequest;
use crate::ports::{ChangeEvent, ChangeEvents, ProductRepository, ReleaseRepository, RepoError};
use crate::product::{ProductPolicy, ProductSummary};
use crate::release::{
    Channel, Product, Release, ReleaseChanges, ReleaseFilter, ReleaseOrder, ReleaseStatus,
    SealBasis, SealOutcome, Yank,
};
use crate::{ArtifactId, DownloadTokenId, ReleaseId, Timestamp};

/// What [`InMemoryReleases`] holds, under one lock.
#[derive(Debug, Default)]
pub(super) struct ReleaseState {
    /// Every release.
    pub(super) releases: Vec<Release>,
    /// Every artifact; each belongs to a release in `releases`.
    pub(super) artifacts: Vec<Artifact>,
    /// Every download token; each downloads an artifact in `artifacts`.
    pub(super) tokens: Vec<DownloadToken>,
    /// How many times each token limited by `max_uses` was resolved.
    pub(super) token_uses: HashMap<DownloadTokenId, u32>,
    /// Presigned, unregistered uploads. Like the database's table, they do not refer to
    /// their release: they outlive its deletion until the sweeper frees their bytes.
    pub(super) uploads: Vec<PendingUpload>,
    /// Until when a verifier holds the check of a pending artifact.
    pub(super) verification_claims: HashMap<ArtifactId, Timestamp>,
    /// Products' own policies.
    pub(super) policies: Vec<ProductPolicy>,
}

/// Releases, artifacts and download tokens kept in memory. One value implements
/// [`ReleaseRepository`], [`ArtifactRepository`](crate::ports::ArtifactRepository) and
/// [`DownloadTokenRepository`](crate::ports::DownloadTokenRepository): hand the same
/// `Arc` to all three ports. Like the database's foreign keys, it refuses an artifact of
/// an unknown release and a token of an unknown artifact
/// ([`RepoError::MissingReference`]); tokens are joined to `customers` for their suspension.
#[derive(Debug)]
pub struct InMemoryReleases {
    pub(super) state: Mutex<ReleaseState>,
    pub(super) customers: Arc<InMemoryCustomers>,
}

impl InMemoryReleases {
    /// An empty store whose download tokens' customers live in `customers` (and whose
    /// changes are recorded in their audit trail).
    pub fn new(customers: Arc<InMemoryCustomers>) -> Self {
        Self {
            state: Mutex::default(),
            customers,
        }
    }

    /// Records `events`; called while the state's lock is held, so no reader sees a
    /// change without them.
    pub(super) fn record(&self, events: &[AuditEvent]) {
        self.customers.audit().append(events);
    }
}

fn matches(filter: &ReleaseFilter, r: &Release, artifacts: &[Artifact]) -> bool {
    filter
        .product
        .as_deref()
        .is_none_or(|p| r.product.as_str() == p)
        && filter
            .version
            .as_deref()
            .is_none_or(|v| r.version.as_str() == v)
        && filter.status.is_none_or(|s| r.status == s)
        && filter
            .products_in
            .as_ref()
            .is_none_or(|products| products.iter().any(|p| p == r.product.as_str()))
        && filter
            .channels_in
            .as_ref()
            .is_none_or(|channels| channels.contains(&r.channel))
        && !(filter.exclude_yanked && r.is_yanked())
        && filter
            .order_key_min
            .as_ref()
            .is_none_or(|min| min.admits_from_below(&r.version.order_key()))
        && filter
            .order_key_max
            .as_ref()
            .is_none_or(|max| max.admits_from_above(&r.version.order_key()))
        && filter.downloadable_on.as_deref().is_none_or(|platform| {
            artifacts.iter().any(|a| {
                a.release_id == r.id
                    && a.platform.as_str().eq_ignore_ascii_case(platform)
                    && a.verification.allows_download()
            })
        })
        && filter
            .after
            .as_ref()
            .is_none_or(|after| after.precedes(filter.order, r))
}

#[async_trait]
impl ReleaseRepository for InMemoryReleases {
    async fn insert(&self, release: &Release, event: &AuditEvent) -> Result<(), RepoError> {
        let mut state = lock(&self.state);
        let taken = state.releases.iter().any(|r| {
            r.id == release.id || (r.product == release.product && r.version == release.version)
        });
        if taken {
            return Err(RepoError::Conflict);
        }
        state.releases.push(release.clone());
        self.record(std::slice::from_ref(event));
        Ok(())
    }

    async fn get(&self, id: ReleaseId) -> Result<Option<Release>, RepoError> {
        Ok(lock(&self.state)
            .releases
            .iter()
            .find(|r| r.id == id)
            .cloned())
    }

    async fn list(
        &self,
        filter: &ReleaseFilter,
        page: PageRequest,
    ) -> Result<Vec<Release>, RepoError> {
        let state = lock(&self.state);
        let mut rows: Vec<Release> = state
            .releases
            .iter()
            .filter(|r| matches(filter, r, &state.artifacts))
            .cloned()
            .collect();
        drop(state);
        let newest = |r: &Release| std::cmp::Reverse((r.created_at, r.id.to_string()));
        match filter.order {
            ReleaseOrder::Newest => rows.sort_by_key(newest),
            ReleaseOrder::Version => {
                rows.sort_by_cached_key(|r| (std::cmp::Reverse(r.version.order_key()), newest(r)));
            }
        }
        Ok(rows
            .into_iter()
            .skip(page.offset.get() as usize)
            .take(page.limit.get() as usize)
            .collect())
    }

    async fn transition(
        &self,
        id: ReleaseId,
        expected: ReleaseStatus,
        status: ReleaseStatus,
        published_at: Option<Timestamp>,
        event: &AuditEvent,
    ) -> Result<Option<Release>, RepoError> {
        let mut state = lock(&self.state);
        let Some(release) = state
            .releases
            .iter_mut()
            .find(|r| r.id == id && r.status == expected)
        else {
            return Ok(None);
        };
        release.status = status;
        release.first_published_at = release
            .first_published_at
            .or(release.published_at)
            .or(published_at);
        release.published_at = published_at;
        let updated = release.clone();
        self.record(std::slice::from_ref(event));
        Ok(Some(updated))
    }

    async fn publish_sealed(
        &self,
        id: ReleaseId,
        published_at: Timestamp,
        sealed_at: Timestamp,
        basis: &SealBasis,
        event: &AuditEvent,
    ) -> Result<SealOutcome, RepoError> {
        let mut state = lock(&self.state);
        let stored = SealBasis::from_stored(
            state
                .artifacts
                .iter()
                .filter(|a| a.release_id == id)
                .map(|a| (a.id, a.verification)),
        );
        if stored != *basis {
            return Ok(SealOutcome::ArtifactsChanged(stored));
        }
        let Some(release) = state
            .releases
            .iter_mut()
            .find(|r| r.id == id && r.status == ReleaseStatus::Draft)
        else {
            return Ok(SealOutcome::NotADraft);
        };
        release.status = ReleaseStatus::Published;
        release.first_published_at = release
            .first_published_at
            .or(release.published_at)
            .or(Some(published_at));
        release.published_at = Some(published_at);
        // A seal is never moved, even by a publication judged on an older read.
        release.sealed_at.get_or_insert(sealed_at);
        let published = release.clone();
        self.record(std::slice::from_ref(event));
        Ok(SealOutcome::Sealed(published))
    }

    async fn update_draft(
        &self,
        id: ReleaseId,
        changes: &ReleaseChanges,
        events: ChangeEvents<'_, Release>,
    ) -> Result<Option<Release>, RepoError> {
        let mut state = lock(&self.state);
        let Some(release) = state
            .releases
            .iter_mut()
            .find(|r| r.id == id && r.status == ReleaseStatus::Draft && !r.is_sealed())
        else {
            return Ok(None);
        };
        let before = release.clone();
        changes.apply_to(release);
        let after = release.clone();
        self.record(&events(&before, &after));
        Ok(Some(after))
    }

    async fn set_yank(
        &self,
        id: ReleaseId,
        yank: Option<&Yank>,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Release>, RepoError> {
        let mut state = lock(&self.state);
        let Some(release) = state
            .releases
            .iter_mut()
            .find(|r| r.id == id && r.is_yanked() != yank.is_some())
        else {
            return Ok(None);
        };
        release.yank = yank.cloned();
        let after = release.clone();
        self.record(&[event(&after)]);
        Ok(Some(after))
    }

    async fn delete(
        &self,
        id: ReleaseId,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Vec<ObjectKey>>, RepoError> {
        let mut state = lock(&self.state);
        let Some(deleted) = state
            .releases
            .iter()
            .find(|r| r.id == id && !r.is_sealed())
            .cloned()
        else {
            return Ok(None);
        };
        let (gone, kept): (Vec<Artifact>, Vec<Artifact>) = std::mem::take(&mut state.artifacts)
            .into_iter()
            .partition(|a| a.release_id == id);
        state.artifacts = kept;
        state
            .tokens
            .retain(|t| !gone.iter().any(|a| a.id == t.artifact_id));
        state.releases.retain(|r| r.id != id);
        self.record(&[event(&deleted)]);
        Ok(Some(gone.into_iter().map(|a| a.object_key).collect()))
    }
}

#[async_trait]
impl ProductRepository for InMemoryReleases {
    async fn summaries(&self, page: PageRequest) -> Result<Vec<ProductSummary>, RepoError> {
        let state = lock(&self.state);
        let mut names: Vec<&Product> = state
            .releases
            .iter()
            .map(|r| &r.product)
            .chain(state.policies.iter().map(|p| &p.product))
            .collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        names.dedup();
        Ok(names
            .into_iter()
            .skip(page.offset.get() as usize)
            .take(page.limit.get() as usize)
            .map(|product| {
                let of: Vec<&Release> = state
                    .releases
                    .iter()
                    .filter(|r| r.product == *product)
                    .collect();
                let published = |r: &&&Release| r.status == ReleaseStatus::Published;
                ProductSummary {
                    product: product.clone(),
                    releases: of.len() as u64,
                    published: of.iter().filter(published).count() as u64,
                    latest_version: of
                        .iter()
                        .filter(published)
                        .filter(|r| !r.is_yanked() && r.channel == Channel::Stable)
                        .max_by_key(|r| (r.version.order_key(), r.created_at, r.id.to_string()))
                        .map(|r| r.version.as_str().to_owned()),
                    last_release_at: of.iter().map(|r| r.created_at).max(),
                    immutable_releases: state
                        .policies
                        .iter()
                        .any(|p| p.product == *product && p.immutable_releases),
                }
            })
            .collect())
    }

    async fn policy(&self, product: &Product) -> Result<Option<ProductPolicy>, RepoError> {
        Ok(lock(&self.state)
            .policies
            .iter()
            .find(|p| p.product == *product)
            .cloned())
    }

    async fn set_policy(
        &self,
        policy: &ProductPolicy,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        let mut state = lock(&self.state);
        state.policies.retain(|p| p.product != policy.product);
        state.policies.push(policy.clone());
        self.record(std::slice::from_ref(event));
        Ok(())
    }
}
