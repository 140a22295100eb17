//! Release use cases: create, list (as an operator or as a customer), publish,
//! unpublish and delete.

use std::sync::Arc;

use crate::artifact::{Artifact, ObjectKey};
use crate::audit::{AuditEvent, Origin};
use crate::pagination::PageRequest;
use crate::ports::{
    ArtifactRepository, Clock, EntitlementRepository, ObjectStore, ReleaseRepository, RepoError,
    StoreError,
};
use crate::product::{ImmutabilityPolicy, release_is_fixed};
use crate::release::{
    Channel, LifecycleError, Product, Release, ReleaseFilter, ReleaseMetadata, ReleaseNotes,
    ReleaseOrder, ReleaseStatus, SealBasis, SealError, SealOutcome, Version,
};
use crate::{CustomerId, ReleaseId};

/// How many times a publication judges the seal before it gives up: each attempt
/// after the first follows a change of the release's artifacts.
const SEAL_ATTEMPTS: usize = 3;

/// Who is listing releases: operators see every status, a customer only published
/// releases its entitlements allow now (product, window, channels, versions and
/// perpetual fallback: [`crate::entitlement::CustomerAccess`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseViewer {
    /// An operator (any role allowed to list).
    Operator,
    /// A customer, through one of its API keys.
    Customer(CustomerId),
}

/// A release in a listing, with its artifacts when they were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseListing {
    /// The release.
    pub release: Release,
    /// Its artifacts, or `None` when not asked for.
    pub artifacts: Option<Vec<Artifact>>,
}

/// What a listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseQuery {
    /// Exactly this product.
    pub product: Option<Product>,
    /// Exactly this version.
    pub version: Option<Version>,
    /// Exactly this status.
    pub status: Option<ReleaseStatus>,
    /// Whether to include each release's artifacts.
    pub include_artifacts: bool,
    /// Only releases this channel admits ([`Channel::admits`]).
    pub channel: Option<Channel>,
    /// Whether yanked releases are listed; `None`: for operators yes, for customers no.
    pub include_yanked: Option<bool>,
    /// The order (newest first by default).
    pub order: ReleaseOrder,
}

/// A release to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    /// The product.
    pub product: Product,
    /// The version.
    pub version: Version,
    /// The channel; `None` takes the one the version implies ([`Channel::of_version`]).
    pub channel: Option<Channel>,
    /// Release notes.
    pub notes: Option<ReleaseNotes>,
    /// Free-form details.
    pub metadata: Option<ReleaseMetadata>,
}

impl NewRelease {
    /// A release of `version` with nothing else set.
    pub fn of(product: Product, version: Version) -> Self {
        Self {
            product,
            version,
            channel: None,
            notes: None,
            metadata: None,
        }
    }
}

/// Why a release could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateReleaseError {
    /// The product already has this version.
    #[error("release already exists")]
    AlreadyExists,
    /// The repository failed.
    #[error(transparent)]
    Repo(RepoError),
}

/// Why releases could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListReleasesError {
    /// A customer asked for a status other than published.
    #[error("customer keys can only list published releases")]
    StatusNotVisible,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why a release could not be published or unpublished.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// No release has that id.
    #[error("release not found")]
    NotFound,
    /// The release is already in the target status.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A concurrent change won the race.
    #[error("release status changed, retry")]
    StatusChanged,
    /// Publishing under the immutable-releases policy needs an artifact.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why a release could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteReleaseError {
    /// No release has that id.
    #[error("release not found")]
    NotFound,
    /// The release is immutable: it is never deleted.
    #[error("release is immutable")]
    Immutable,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A deleted release: its rows are gone; `orphaned_objects` lists stored objects whose
/// removal failed (the store was unreachable), for the caller to log.
#[derive(Debug)]
pub struct DeletedRelease {
    /// Objects left in storage, with why.
    pub orphaned_objects: Vec<(ObjectKey, StoreError)>,
}

/// Creates, lists, publishes, unpublishes and deletes releases.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::pagination::PageRequest;
/// use releasy_domain::release::{Product, ReleaseQuery, ReleaseStatus, ReleaseViewer, Version};
/// use releasy_domain::audit::Origin;
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
///
/// let release = releasy
///     .releases
///     .create(&Origin::admin_key(), Product::parse("agent").unwrap(), Version::parse("2.4.0").unwrap())
///     .await
///     .unwrap();
/// let published = releasy.releases.publish(&Origin::admin_key(), release.id).await.unwrap();
/// assert_eq!(published.status, ReleaseStatus::Published);
/// let listed = releasy
///     .releases
///     .list(ReleaseViewer::Operator, &ReleaseQuery::default(), PageRequest::default())
///     .await
///     .unwrap();
/// assert_eq!(listed[0].release, published);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ReleaseService {
    pub(super) releases: Arc<dyn ReleaseRepository>,
    pub(super) artifacts: Arc<dyn ArtifactRepository>,
    pub(super) entitlements: Arc<dyn EntitlementRepository>,
    objects: Arc<dyn ObjectStore>,
    pub(super) clock: Arc<dyn Clock>,
    immutability: Option<ImmutabilityPolicy>,
}

impl ReleaseService {
    /// A service over the given ports.
    pub fn new(
        releases: Arc<dyn ReleaseRepository>,
        artifacts: Arc<dyn ArtifactRepository>,
        entitlements: Arc<dyn EntitlementRepository>,
        objects: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            releases,
            artifacts,
            entitlements,
            objects,
            clock,
            immutability: None,
        }
    }

    /// Publishes releases under `policy`: sealed, and fixed from then on (without it,
    /// only releases sealed earlier are fixed).
    #[must_use]
    pub fn with_immutability(mut self, policy: ImmutabilityPolicy) -> Self {
        self.immutability = Some(policy);
        self
    }

    /// Whether the immutable-releases policy applies to `product` now.
    async fn policy_applies(&self, product: &Product) -> Result<bool, RepoError> {
        match &self.immutability {
            Some(policy) => policy.applies_to(product).await,
            None => Ok(false),
        }
    }

    /// Whether `release` is fixed now ([`Release::is_immutable`]).
    pub(super) async fn is_immutable(&self, release: &Release) -> Result<bool, RepoError> {
        release_is_fixed(self.immutability.as_ref(), release).await
    }

    /// Creates a draft release.
    ///
    /// # Errors
    /// [`CreateReleaseError::AlreadyExists`] for a duplicate product and version.
    pub async fn create(
        &self,
        origin: &Origin,
        product: Product,
        version: Version,
    ) -> Result<Release, CreateReleaseError> {
        self.create_release(origin, NewRelease::of(product, version))
            .await
    }

    /// The release `id`, or `None`.
    ///
    /// # Errors
    /// [`RepoError`] when the repository failed.
    pub async fn find(&self, id: ReleaseId) -> Result<Option<Release>, RepoError> {
        self.releases.get(id).await
    }

    /// Creates a draft release with its channel, notes and metadata.
    ///
    /// # Errors
    /// [`CreateReleaseError::AlreadyExists`] for a duplicate product and version.
    pub async fn create_release(
        &self,
        origin: &Origin,
        new: NewRelease,
    ) -> Result<Release, CreateReleaseError> {
        let release = Release {
            id: origin.new_id(),
            notes: new.notes,
            metadata: new.metadata,
            ..Release::draft(new.product, new.version, new.channel, self.clock.now())
        };
        let event = AuditEvent::release_created(origin, &release);
        match self.releases.insert(&release, &event).await {
            Ok(()) => Ok(release),
            Err(RepoError::Conflict) => Err(CreateReleaseError::AlreadyExists),
            Err(other) => Err(CreateReleaseError::Repo(other)),
        }
    }

    /// One page of releases as `viewer` may see them, in `query.order`.
    ///
    /// # Errors
    /// [`ListReleasesError::StatusNotVisible`] when a customer asks for drafts.
    pub async fn list(
        &self,
        viewer: ReleaseViewer,
        query: &ReleaseQuery,
        page: PageRequest,
    ) -> Result<Vec<ReleaseListing>, ListReleasesError> {
        let is_customer = matches!(viewer, ReleaseViewer::Customer(_));
        if is_customer && query.status.is_some_and(|s| s != ReleaseStatus::Published) {
            return Err(ListReleasesError::StatusNotVisible);
        }
        let sight = self.sight(viewer).await?;
        let filter = ReleaseFilter {
            product: query.product.as_ref().map(|p| p.as_str().to_owned()),
            version: query.version.as_ref().map(|v| v.as_str().to_owned()),
            status: if is_customer {
                Some(ReleaseStatus::Published)
            } else {
                query.status
            },
            products_in: sight.products_in(),
            channels_in: query.channel.map(|c| c.admitted().collect()),
            exclude_yanked: !query.include_yanked.unwrap_or(!is_customer),
            order: query.order,
            ..ReleaseFilter::default()
        };
        let releases = self.list_seen(&sight, &filter, page).await?;
        if !query.include_artifacts {
            return Ok(releases
                .into_iter()
                .map(|release| ReleaseListing {
                    release,
                    artifacts: None,
                })
                .collect());
        }
        Ok(self.with_artifacts(releases).await?)
    }

    /// Whether a release with `id` exists: what tells "gone" from "in another state"
    /// when a compare-and-set matched nothing.
    pub(super) async fn exists(&self, id: ReleaseId) -> Result<bool, RepoError> {
        Ok(self.releases.get(id).await?.is_some())
    }

    /// The releases, each with its artifacts (one query for all of them).
    pub(super) async fn with_artifacts(
        &self,
        releases: Vec<Release>,
    ) -> Result<Vec<ReleaseListing>, RepoError> {
        let ids: Vec<ReleaseId> = releases.iter().map(|r| r.id).collect();
        // Each artifact goes to its release's first position on the page, found by
        // binary search in the ids sorted once: a page is at most a few hundred
        // releases, and hashing every artifact's release id cost the listings more.
        let mut positions: Vec<(ReleaseId, usize)> = ids.iter().copied().zip(0..).collect();
        positions.sort_unstable();
        let mut artifacts_of: Vec<Vec<Artifact>> = releases.iter().map(|_| Vec::new()).collect();
        for artifact in self.artifacts.list_for_releases(&ids).await? {
            let first = positions.partition_point(|(id, _)| *id < artifact.release_id);
            if let Some((id, position)) = positions.get(first)
                && *id == artifact.release_id
            {
                artifacts_of[*position].push(artifact);
            }
        }
        Ok(releases
            .into_iter()
            .zip(artifacts_of)
            .map(|(release, artifacts)| ReleaseListing {
                artifacts: Some(artifacts),
                release,
            })
            .collect())
    }

    /// Publishes a draft (compare-and-set: of two racing requests one wins, the other
    /// gets [`TransitionError::StatusChanged`]). Under the immutable-releases policy
    /// (or for a release sealed before) it seals the release, which needs at least one
    /// artifact, none pending or failed; judged again when its artifacts change before
    /// the seal is written (a registration racing the publication).
    ///
    /// # Errors
    /// [`TransitionError`].
    pub async fn publish(
        &self,
        origin: &Origin,
        id: ReleaseId,
    ) -> Result<Release, TransitionError> {
        // What the store last read under the release's lock, once it has.
        let mut stored: Option<SealBasis> = None;
        for _ in 0..SEAL_ATTEMPTS {
            let now = self.clock.now();
            let current = self
                .release_admitting(id, |r| r.status.publish(now).is_ok())
                .await?;
            let (status, published_at) = current.status.publish(now)?;
            let applies = self.policy_applies(&current.product).await?;
            let basis = match stored.take() {
                Some(stored) => stored,
                None if applies || current.is_sealed() => {
                    SealBasis::of(&self.artifacts.list_for_releases(&[id]).await?)
                }
                None => SealBasis::default(),
            };
            let Some(sealed_at) = current.seal_on_publish(applies, &basis, now)? else {
                return self.transition(origin, current, status, published_at).await;
            };
            let event = AuditEvent::release_status_changed(origin, &current, status, now);
            match self
                .releases
                .publish_sealed(id, now, sealed_at, &basis, &event)
                .await?
            {
                SealOutcome::Sealed(published) => return Ok(published),
                SealOutcome::NotADraft if self.exists(id).await? => {
                    return Err(TransitionError::StatusChanged);
                }
                SealOutcome::NotADraft => return Err(TransitionError::NotFound),
                SealOutcome::ArtifactsChanged(now_stored) => stored = Some(now_stored),
            }
        }
        // Artifacts changing under every attempt: the caller retries later.
        Err(TransitionError::StatusChanged)
    }

    /// Returns a published release to draft (compare-and-set, like [`Self::publish`]).
    ///
    /// # Errors
    /// [`TransitionError`].
    pub async fn unpublish(
        &self,
        origin: &Origin,
        id: ReleaseId,
    ) -> Result<Release, TransitionError> {
        let current = self
            .release_admitting(id, |r| r.status.unpublish().is_ok())
            .await?;
        let (status, published_at) = current.status.unpublish()?;
        self.transition(origin, current, status, published_at).await
    }

    /// The release with `id`, for a change that `admits` it. A release the (possibly
    /// cached) read refuses, or does not find, is read again as stored now: another
    /// instance's change (a publish, a create) may not have reached this instance's
    /// cache, and a refusal must be decided on what is stored.
    async fn release_admitting(
        &self,
        id: ReleaseId,
        admits: impl Fn(&Release) -> bool,
    ) -> Result<Release, TransitionError> {
        match self.releases.get(id).await? {
            Some(release) if admits(&release) => Ok(release),
            _ => self
                .releases
                .get_current(id)
                .await?
                .ok_or(TransitionError::NotFound),
        }
    }

    async fn transition(
        &self,
        origin: &Origin,
        current: Release,
        status: ReleaseStatus,
        published_at: Option<crate::Timestamp>,
    ) -> Result<Release, TransitionError> {
        let id = current.id;
        let event = AuditEvent::release_status_changed(origin, &current, status, self.clock.now());
        match self
            .releases
            .transition(id, current.status, status, published_at, &event)
            .await?
        {
            Some(updated) => Ok(updated),
            // Lost the race: to another status change, or to a delete.
            None if self.exists(id).await? => Err(TransitionError::StatusChanged),
            None => Err(TransitionError::NotFound),
        }
    }

    /// Deletes a release, its artifacts and their download tokens, then removes the
    /// artifacts' stored objects. An immutable release ([`Release::is_immutable`]) is
    /// never deleted.
    ///
    /// # Errors
    /// [`DeleteReleaseError::NotFound`] for an unknown id,
    /// [`DeleteReleaseError::Immutable`] for an immutable release.
    pub async fn delete(
        &self,
        origin: &Origin,
        id: ReleaseId,
    ) -> Result<DeletedRelease, DeleteReleaseError> {
        let current = self
            .releases
            .get(id)
            .await?
            .ok_or(DeleteReleaseError::NotFound)?;
        if self.is_immutable(&current).await? {
            return Err(DeleteReleaseError::Immutable);
        }
        let now = self.clock.now();
        let event = |deleted: &Release| AuditEvent::release_deleted(origin, deleted, now);
        let Some(keys) = self.releases.delete(id, &event).await? else {
            // Gone meanwhile, or sealed by a publication that won the race.
            return Err(if self.exists(id).await? {
                DeleteReleaseError::Immutable
            } else {
                DeleteReleaseError::NotFound
            });
        };
        let mut orphaned_objects = Vec::new();
        for key in keys {
            if let Err(err) = self.objects.delete(&key).await {
                orphaned_objects.push((key, err));
            }
        }
        Ok(DeletedRelease { orphaned_objects })
    }
}
