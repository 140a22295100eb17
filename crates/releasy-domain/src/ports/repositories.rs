//! Repository ports: one trait per aggregate. What each method must return is part of
//! the contract every adapter (and the in-memory fakes) must honour; the repository
//! contract suite in `releasy-testkit` checks it.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::api_key::{ApiKey, AuthCandidate, KeyChanges, KeyLookup, Rotation, StoredKeyHash};
use crate::artifact::ObjectKey;
use crate::artifact::{Artifact, PendingUpload, Verification};
use crate::audit::{AuditEvent, AuditFilter, ChainBounds, ChainLink, ChainedEvent};
use crate::customer::{Customer, CustomerFilter, CustomerUpdate};
use crate::download::{DownloadGrant, DownloadToken, MaxUses};
use crate::entitlement::{CustomerAccess, Entitlement};
use crate::idempotency::{IdempotencyRecord, StoredResponse};
use crate::pagination::{CursorPage, PageLimit, PageRequest, PageStart};
use crate::ports::{ObjectMeta, RepoError};
use crate::product::{ProductPolicy, ProductSummary};
use crate::release::{
    Product, Release, ReleaseChanges, ReleaseFilter, ReleaseStatus, SealBasis, SealOutcome, Yank,
};
use crate::{
    ApiKeyId, ArtifactId, CustomerId, DownloadTokenId, EntitlementId, ReleaseId, Timestamp,
};

/// Makes the audit events of an update from the stored value before and after it.
/// The adapter calls it inside the update's transaction, only when the update applies,
/// and writes what it returns in that transaction: no change without its events.
pub type ChangeEvents<'a, T> = &'a (dyn Fn(&T, &T) -> Vec<AuditEvent> + Send + Sync);

/// Makes the audit event of a change from the stored value the change left (or, for a
/// delete, removed); called and written like [`ChangeEvents`].
pub type ChangeEvent<'a, T> = &'a (dyn Fn(&T) -> AuditEvent + Send + Sync);

/// Customers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::audit::{AuditEvent, Origin};
/// use releasy_domain::customer::{Customer, CustomerName};
/// use releasy_domain::ports::CustomerRepository;
/// use releasy_domain::memory::InMemoryCustomers;
/// use releasy_domain::{CustomerId, Timestamp};
///
/// let customers = InMemoryCustomers::default();
/// let acme = Customer {
///     id: CustomerId::generate(),
///     name: CustomerName::parse("Acme").unwrap(),
///     plan: None,
///     created_at: Timestamp::from_unix_seconds(1_735_312_000),
///     suspended_at: None,
/// };
/// // A change is stored with its audit event, in one transaction.
/// let created = AuditEvent::customer_created(&Origin::admin_key(), &acme);
/// customers.insert(&acme, &created).await.unwrap();
/// assert_eq!(customers.get(acme.id).await.unwrap(), Some(acme));
/// assert_eq!(customers.get(CustomerId::generate()).await.unwrap(), None, "not found is None");
/// # }
/// ```
#[async_trait]
pub trait CustomerRepository: Send + Sync + std::fmt::Debug {
    /// Stores a new customer with its audit event, in one transaction.
    async fn insert(&self, customer: &Customer, event: &AuditEvent) -> Result<(), RepoError>;

    /// The customer with `id`, or `None`.
    async fn get(&self, id: CustomerId) -> Result<Option<Customer>, RepoError>;

    /// Customers matching `filter`, newest first (by `created_at`, then id, both
    /// descending), starting at `start`; `next_cursor` is set only when more follow.
    async fn list(
        &self,
        filter: &CustomerFilter,
        limit: PageLimit,
        start: &PageStart,
    ) -> Result<CursorPage<Customer>, RepoError>;

    /// Applies `update` and returns the row afterwards, or `None` when no customer has
    /// `id`; writes the events `events` makes of the row before and after, in the
    /// same transaction.
    async fn update(
        &self,
        id: CustomerId,
        update: &CustomerUpdate,
        events: ChangeEvents<'_, Customer>,
    ) -> Result<Option<Customer>, RepoError>;
}

/// Customer API keys.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
///
/// let repos = Repositories::in_memory();
/// use releasy_domain::ApiKeyId;
///
/// // Unknown ids are not an error: they are `None`.
/// assert!(repos.api_keys.get(ApiKeyId::generate()).await.unwrap().is_none());
/// # }
/// ```
#[async_trait]
pub trait ApiKeyRepository: Send + Sync + std::fmt::Debug {
    /// Stores a new key with its audit event, in one transaction.
    async fn insert(&self, key: &ApiKey, event: &AuditEvent) -> Result<(), RepoError>;

    /// The key with `id`, or `None`.
    async fn get(&self, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError>;

    /// Keys that might match a presented secret: those whose lookup equals `lookup`, and
    /// legacy keys whose stored SHA-256 equals `legacy_digest`; each with its customer's
    /// suspension time. One indexed read.
    async fn find_auth_candidates(
        &self,
        lookup: &KeyLookup,
        legacy_digest: &str,
    ) -> Result<Vec<AuthCandidate>, RepoError>;

    /// Keys stored as Argon2id without a lookup value (carried over from the reference
    /// server, which keeps none) that are neither revoked nor expired at `now`, each
    /// with its customer's suspension time, the most recently used first, at most
    /// `limit`. Empty once each was found and given its lookup value
    /// ([`Self::upgrade_hash`]), revoked or expired, so that searching ends then. The
    /// default: none (a store of this server's keys only).
    async fn unindexed_candidates(
        &self,
        _now: Timestamp,
        _limit: u32,
    ) -> Result<Vec<AuthCandidate>, RepoError> {
        Ok(Vec::new())
    }

    /// Replaces a key's stored hash (a legacy one, or one made under the previous
    /// pepper) by an Argon2id one under the current pepper, and sets the lookup value.
    async fn upgrade_hash(
        &self,
        id: ApiKeyId,
        hash: &StoredKeyHash,
        lookup: &KeyLookup,
    ) -> Result<(), RepoError>;

    /// Records a successful use at `at` from `client` (when known).
    async fn touch_last_used(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        client: Option<IpAddr>,
    ) -> Result<(), RepoError>;

    /// Applies `changes` to key `id` and returns it as changed, writing the events
    /// `events` makes of it before and after in the same transaction; `None` when no
    /// key has `id`. The caller never passes empty changes.
    async fn update(
        &self,
        id: ApiKeyId,
        changes: &KeyChanges,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<Option<ApiKey>, RepoError>;

    /// A page of the customer's keys, newest first (the id breaks ties, descending);
    /// none for an unknown customer.
    async fn list_for_customer(
        &self,
        customer_id: CustomerId,
        page: PageRequest,
    ) -> Result<Vec<ApiKey>, RepoError>;

    /// Revokes the key at `at` unless it is revoked by then already (the first time is
    /// kept; a revocation a rotation scheduled later is brought forward to `at`);
    /// `false` when no key has `id`. A revocation that applies writes the events
    /// `events` makes of the key before and after it, in the same transaction
    /// (revoking again writes nothing).
    async fn revoke(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<bool, RepoError>;

    /// Carries out a planned rotation in one transaction: schedules the old key's
    /// revocation (`rotation.retiring.revoked_at`) only if it has none yet, stores the
    /// successor and writes `events`. `false`, and nothing written, when the old key is
    /// gone or was revoked or rotated in the meantime.
    async fn rotate(&self, rotation: &Rotation, events: &[AuditEvent]) -> Result<bool, RepoError>;
}

/// The audit trail, chained: whoever writes events (here, or with a change in
/// another repository) links each to the one before it ([`crate::audit::ChainLink`])
/// in the transaction that writes it, so events are chained in the order they commit.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
///
/// let repos = Repositories::in_memory();
/// use releasy_domain::audit::{AuditEvent, AuditFilter, AuthReason};
/// use releasy_domain::pagination::PageRequest;
/// use releasy_domain::Timestamp;
///
/// let refused = AuditEvent::api_key_auth(
///     AuthReason::NotFound,
///     None,
///     None,
///     Timestamp::from_unix_seconds(1_735_312_000),
/// );
/// repos.audit.record(&refused).await.unwrap();
/// let listed = repos.audit.list(&AuditFilter::default(), PageRequest::default()).await.unwrap();
/// assert_eq!(listed, [refused]);
/// # }
/// ```
#[async_trait]
pub trait AuditRepository: Send + Sync + std::fmt::Debug {
    /// Appends an event.
    async fn record(&self, event: &AuditEvent) -> Result<(), RepoError>;

    /// Appends several events at once, all or none (adapters write them in one
    /// statement or transaction). Events already stored (by id) are left as they are,
    /// the rest appended once each: a write-behind queue writes a batch again when its
    /// commit went unacknowledged, and must not be refused for ever.
    async fn record_many(&self, events: &[AuditEvent]) -> Result<(), RepoError> {
        for event in events {
            self.record(event).await?;
        }
        Ok(())
    }

    /// Events matching `filter`, newest first (by `created_at`, then id, descending).
    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, RepoError>;

    /// Where the stored chain starts and ends.
    async fn chain_bounds(&self) -> Result<ChainBounds, RepoError>;

    /// Up to `limit` chained events with positions above `after`, by position.
    async fn chained_after(&self, after: u64, limit: u32) -> Result<Vec<ChainedEvent>, RepoError>;

    /// The id of an event stored with a chain position at or below `position` (or
    /// below zero), if any. The chain's events all sit above its start: such a row was
    /// put there by hand.
    async fn chained_at_or_below(&self, position: u64) -> Result<Option<String>, RepoError>;

    /// Up to `limit` stored events that carry no link yet, oldest first: events
    /// committed since the last [`AuditRepository::link_pending`] (an adapter may link
    /// at once and have none).
    async fn unchained(&self, limit: u32) -> Result<Vec<AuditEvent>, RepoError>;

    /// Links up to `limit` events that carry no link yet, oldest first (by
    /// `created_at`, then id), after the chain's head, and moves the head: in one
    /// transaction that holds the head, so that linkers of several processes take
    /// turns. An adapter whose writes run one at a time anyway links a write's events
    /// in its transaction (SQLite, the in-memory repositories) and finds little here;
    /// one whose writes run side by side (PostgreSQL) writes them unlinked, so that no
    /// write waits on the head, and this is what chains them. It never links an
    /// `audit.pruned` event: [`Self::prune_before`] links its own, so an unlinked one
    /// was slipped in (and must stay out of the chain, where it would name a start).
    /// Returns how many it linked.
    async fn link_pending(&self, limit: u32) -> Result<u64, RepoError>;

    /// Cuts the chain at its start, in one transaction: of the first `limit` chained
    /// events after the recorded start (by position), removes those
    /// [`crate::audit::prunable_prefix`] allows before `cutoff`, records the link of
    /// the last one removed as the new start, and writes the event `record` makes from
    /// how many were removed and that start, linked after the head in the same
    /// transaction on every adapter. Returns how many it removed (0, and no event,
    /// when the oldest event kept is not older than `cutoff`). Cuts of several
    /// processes take turns; [`RepoError::Conflict`], with nothing removed, when one
    /// that does not (an adapter of an earlier version) moved the start meanwhile;
    /// [`RepoError::Internal`] with [`crate::audit::RetentionStopped`], nothing removed,
    /// when the first event after the start does not verify.
    async fn prune_before(
        &self,
        cutoff: Timestamp,
        limit: u32,
        record: PruneEvent<'_>,
    ) -> Result<u64, RepoError>;
}

/// Makes the event that records a cut of the audit chain from how many events it
/// removed and the chain's new start; written in the cut's transaction.
pub type PruneEvent<'a> = &'a (dyn Fn(u64, ChainLink) -> AuditEvent + Send + Sync);

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free and is now held by the caller.
    Claimed,
    /// Another request holds or held the key.
    Existing(IdempotencyRecord),
}

/// Idempotency records, unique on `(scope, key)`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
///
/// let repos = Repositories::in_memory();
/// use releasy_domain::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyState};
/// use releasy_domain::ports::Claim;
/// use releasy_domain::Timestamp;
///
/// let record = IdempotencyRecord {
///     scope: "admin".to_owned(),
///     key: IdempotencyKey::parse("create-acme-1").unwrap(),
///     fingerprint: "body-hash".to_owned(),
///     state: IdempotencyState::InProgress,
///     created_at: Timestamp::from_unix_seconds(1_735_312_000),
/// };
/// assert!(matches!(repos.idempotency.claim(&record).await.unwrap(), Claim::Claimed));
/// // A second claim of the same key finds the first.
/// assert!(matches!(repos.idempotency.claim(&record).await.unwrap(), Claim::Existing(_)));
/// # }
/// ```
#[async_trait]
pub trait IdempotencyRepository: Send + Sync + std::fmt::Debug {
    /// Inserts `record` unless a record with its scope and key exists, in which case
    /// that record is returned. Of concurrent claims exactly one gets `Claimed`.
    /// [`RepoError::Conflict`] when the key kept changing hands (claimed elsewhere, then
    /// released before it could be read) on every attempt.
    async fn claim(&self, record: &IdempotencyRecord) -> Result<Claim, RepoError>;

    /// Marks the claim completed with `response`, only if the stored record is still
    /// that claim (same `created_at` and fingerprint, in progress): a request that was
    /// presumed dead and taken over must not overwrite its successor. When no record is
    /// left (the successor failed and released the key), stores the claim completed
    /// anew, so a retry replays what was done instead of doing it again.
    async fn complete(
        &self,
        claim: &IdempotencyRecord,
        response: &StoredResponse,
    ) -> Result<(), RepoError>;

    /// Deletes every record created before `cutoff`; returns how many.
    async fn purge_created_before(&self, cutoff: Timestamp) -> Result<u64, RepoError>;

    /// Removes an in-progress claim, only if it is still the one made at
    /// `claim.created_at` with `claim.fingerprint` (a newer claim is left alone).
    async fn release(&self, claim: &IdempotencyRecord) -> Result<(), RepoError>;
}

/// Releases.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
///
/// let repos = Repositories::in_memory();
/// use releasy_domain::audit::{AuditEvent, Origin};
/// use releasy_domain::release::{Product, Release, ReleaseStatus, Version};
/// use releasy_domain::Timestamp;
///
/// let now = Timestamp::from_unix_seconds(1_735_312_000);
/// let draft = Release::draft(
///     Product::parse("agent").unwrap(),
///     Version::parse("2.4.0").unwrap(),
///     None,
///     now,
/// );
/// let admin = Origin::admin_key();
/// repos.releases.insert(&draft, &AuditEvent::release_created(&admin, &draft)).await.unwrap();
/// let publish = AuditEvent::release_status_changed(&admin, &draft, ReleaseStatus::Published, now);
/// // A status change is a compare-and-set: only one of two racing publishes applies.
/// let published = repos
///     .releases
///     .transition(draft.id, ReleaseStatus::Draft, ReleaseStatus::Published, Some(now), &publish)
///     .await
///     .unwrap();
/// assert!(published.is_some());
/// let again = repos
///     .releases
///     .transition(draft.id, ReleaseStatus::Draft, ReleaseStatus::Published, Some(now), &publish)
///     .await
///     .unwrap();
/// assert!(again.is_none());
/// # }
/// ```
#[async_trait]
pub trait ReleaseRepository: Send + Sync + std::fmt::Debug {
    /// Stores a new release with its audit event; [`RepoError::Conflict`] when its
    /// product and version exist.
    async fn insert(&self, release: &Release, event: &AuditEvent) -> Result<(), RepoError>;

    /// The release with `id`, or `None`.
    async fn get(&self, id: ReleaseId) -> Result<Option<Release>, RepoError>;

    /// The release with `id` as stored now, past any cache in front of the store
    /// (whose copy may not show another instance's change yet): what a refusal that
    /// depends on the release's state is decided on. A store without a cache answers
    /// as [`Self::get`]; a wrapper with one must override this.
    async fn get_current(&self, id: ReleaseId) -> Result<Option<Release>, RepoError> {
        self.get(id).await
    }

    /// Releases matching `filter`, in `filter.order`: newest first (by `created_at`,
    /// then id, descending), or by [`Version::order_key`](crate::release::Version::order_key)
    /// descending, then newest first. `filter.products_in = Some(vec![])` and
    /// `filter.channels_in = Some(vec![])` match nothing.
    async fn list(
        &self,
        filter: &ReleaseFilter,
        page: PageRequest,
    ) -> Result<Vec<Release>, RepoError>;

    /// Compare-and-set of the status: applies only while the stored status is
    /// `expected`, and returns the updated release; `None` when the release is gone or
    /// its status is no longer `expected`. Writes `event` when it applies, in the same
    /// transaction.
    async fn transition(
        &self,
        id: ReleaseId,
        expected: ReleaseStatus,
        status: ReleaseStatus,
        published_at: Option<Timestamp>,
        event: &AuditEvent,
    ) -> Result<Option<Release>, RepoError>;

    /// Publishes a draft and seals it at `sealed_at` ([`Release::is_sealed`]), as one
    /// compare-and-set on the status like [`Self::transition`]
    /// ([`SealOutcome::NotADraft`] when it is gone or no longer a draft), and only while
    /// its artifacts are those of `basis`, read under the release's lock
    /// ([`SealOutcome::ArtifactsChanged`] otherwise). A release sealed before keeps its
    /// first `sealed_at`. A sealed release's artifacts are fixed from the moment this
    /// commits (see [`ArtifactRepository::insert`]). Writes `event` when it applies.
    async fn publish_sealed(
        &self,
        id: ReleaseId,
        published_at: Timestamp,
        sealed_at: Timestamp,
        basis: &SealBasis,
        event: &AuditEvent,
    ) -> Result<SealOutcome, RepoError>;

    /// Applies `changes` to a draft, compare-and-set on the status: only while the
    /// release is a draft and not sealed. Returns the updated release; `None` when it
    /// is gone, no longer a draft, or sealed. Fields `changes` leaves out are not
    /// written (a concurrent change of another field is kept). Writes the events
    /// `events` makes of the draft before and after, in the same transaction.
    async fn update_draft(
        &self,
        id: ReleaseId,
        changes: &ReleaseChanges,
        events: ChangeEvents<'_, Release>,
    ) -> Result<Option<Release>, RepoError>;

    /// Yanks (`Some`) or unyanks (`None`) a release, compare-and-set: a yank applies
    /// only to a release that is not yanked, an unyank only to a yanked one. Returns the
    /// updated release; `None` when it is gone or already in that state. Writes the
    /// event `event` makes of the updated release, in the same transaction.
    async fn set_yank(
        &self,
        id: ReleaseId,
        yank: Option<&Yank>,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Release>, RepoError>;

    /// Deletes the release with its artifacts and their download tokens, in one
    /// transaction; returns the object keys of the deleted artifacts (so their bytes can
    /// be removed), or `None` when no release has `id` or it is sealed (a sealed
    /// release is never deleted, even by a delete racing its publication). Writes the
    /// event `event` makes of the deleted release, in the same transaction.
    async fn delete(
        &self,
        id: ReleaseId,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Vec<ObjectKey>>, RepoError>;
}

/// Artifacts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
///
/// let repos = Repositories::in_memory();
/// use releasy_domain::ArtifactId;
///
/// assert!(repos.artifacts.get_with_release(ArtifactId::generate()).await.unwrap().is_none());
/// assert!(repos.artifacts.list_for_releases(&[]).await.unwrap().is_empty());
/// # }
/// ```
#[async_trait]
pub trait ArtifactRepository: Send + Sync + std::fmt::Debug {
    /// Stores an artifact; [`RepoError::Conflict`] when its id or object key exists,
    /// [`RepoError::MissingReference`] when its release is gone or sealed (checked under
    /// the release's lock, so an artifact never joins a release sealed before it
    /// commits). Writes `event` with it.
    async fn insert(&self, artifact: &Artifact, event: &AuditEvent) -> Result<(), RepoError>;

    /// The artifact with `id` and its release, or `None`.
    async fn get_with_release(
        &self,
        id: ArtifactId,
    ) -> Result<Option<(Artifact, Release)>, RepoError>;

    /// The artifacts of these releases, oldest first (by `created_at`, then id).
    async fn list_for_releases(&self, releases: &[ReleaseId]) -> Result<Vec<Artifact>, RepoError>;

    /// Records a presigned upload; [`RepoError::Conflict`] when one has its artifact id.
    async fn insert_upload(&self, upload: &PendingUpload) -> Result<(), RepoError>;

    /// The unregistered upload for artifact `id`, or `None`.
    async fn get_upload(&self, id: ArtifactId) -> Result<Option<PendingUpload>, RepoError>;

    /// Removes the record of the upload for artifact `id`; `true` when this call
    /// removed it (of several concurrent callers, exactly one gets `true`).
    async fn delete_upload(&self, id: ArtifactId) -> Result<bool, RepoError>;

    /// Marks the upload record of artifact `id` ended at `at`, unless it is ended
    /// already or gone; `true` when this call ended it (of several concurrent callers,
    /// exactly one gets `true`), and then writes `event`, if given, in the same
    /// transaction. An ended record is never completed
    /// ([`Self::insert_completing_upload`]).
    async fn end_upload(
        &self,
        id: ArtifactId,
        at: Timestamp,
        event: Option<&AuditEvent>,
    ) -> Result<bool, RepoError>;

    /// Up to `limit` upload records presigned before `cutoff`, oldest first (by
    /// `created_at`, then artifact id), starting after the record `after` names by its
    /// `(created_at, artifact_id)`: a walk over all of them, a page at a time.
    async fn uploads_created_before(
        &self,
        cutoff: Timestamp,
        after: Option<(Timestamp, ArtifactId)>,
        limit: u32,
    ) -> Result<Vec<PendingUpload>, RepoError>;

    /// In one transaction, removes the upload record of `artifact` and stores the
    /// artifact with `event`. `Ok(false)`, storing nothing, when the record is gone or
    /// ended (the upload was aborted or swept); otherwise as [`Self::insert`].
    async fn insert_completing_upload(
        &self,
        artifact: &Artifact,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// Up to `limit` artifacts whose verification is `verification`, by id, starting
    /// after `after`: a walk over all of them, a page at a time.
    async fn list_by_verification(
        &self,
        verification: Verification,
        after: Option<ArtifactId>,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError>;

    /// Up to `limit` artifacts pending verification that no verifier holds at `now`
    /// (never claimed, or the claim lapsed), oldest first.
    async fn unclaimed_pending(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError>;

    /// Claims the check of pending artifact `id` until `until`, if nobody holds it at
    /// `now`; of several concurrent callers (on any instance), exactly one gets `true`.
    async fn claim_verification(
        &self,
        id: ArtifactId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, RepoError>;

    /// Makes the claim on pending artifact `id` that holds until `held_until` end at
    /// `retry_at` (not after `held_until`) instead: a check the store could not answer
    /// is tried again then, not at the end of a lease sized for a slow read. `false`
    /// when that claim is not held any more (it lapsed and another verifier claimed the
    /// check, or the verdict is set).
    async fn shorten_verification_claim(
        &self,
        id: ArtifactId,
        held_until: Timestamp,
        retry_at: Timestamp,
    ) -> Result<bool, RepoError>;

    /// Moves artifact `id` from `from` to `to`, ends any claim on it, records
    /// `object`'s entity tag and version as the artifact's when given (the object the
    /// verdict was reached on), and writes `event`, all in one transaction; `false`,
    /// writing nothing, when it is no longer `from` (someone else decided first) or is
    /// gone.
    async fn set_verification(
        &self,
        id: ArtifactId,
        from: Verification,
        to: Verification,
        object: Option<&ObjectMeta>,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;
}

/// Entitlements.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
///
/// let repos = Repositories::in_memory();
/// use releasy_domain::audit::{AuditEvent, Origin};
/// use releasy_domain::customer::{Customer, CustomerName};
/// use releasy_domain::entitlement::{Entitlement, EntitlementScope, EntitlementWindow};
/// use releasy_domain::release::Product;
/// use releasy_domain::{CustomerId, EntitlementId, Timestamp};
///
/// let now = Timestamp::from_unix_seconds(1_735_312_000);
/// let acme = Customer {
///     id: CustomerId::generate(),
///     name: CustomerName::parse("Acme").unwrap(),
///     plan: None,
///     created_at: now,
///     suspended_at: None,
/// };
/// let admin = Origin::admin_key();
/// repos.customers.insert(&acme, &AuditEvent::customer_created(&admin, &acme)).await.unwrap();
/// let entitlement = Entitlement {
///     id: EntitlementId::generate(),
///     customer_id: acme.id,
///     product: Product::parse("agent").unwrap(),
///     window: EntitlementWindow::new(now, Some(now.plus_seconds(60))).unwrap(),
///     scope: EntitlementScope::default(),
///     metadata: None,
///     download_quota: None,
///     created_at: now,
///     revision: 0,
/// };
/// let granted = AuditEvent::entitlement_created(&admin, &entitlement);
/// repos.entitlements.insert(&entitlement, &granted).await.unwrap();
/// let access = repos.entitlements.customer_access(acme.id).await.unwrap();
/// assert_eq!(access.visible_at(now).whole, ["agent"]);
/// let later = access.visible_at(now.plus_seconds(60));
/// assert!(later.products().is_empty(), "the window has ended");
/// # }
/// ```
#[async_trait]
pub trait EntitlementRepository: Send + Sync + std::fmt::Debug {
    /// Stores an entitlement with its audit event, in one transaction.
    async fn insert(&self, entitlement: &Entitlement, event: &AuditEvent) -> Result<(), RepoError>;

    /// The entitlement `id` of `customer`, or `None` (also when it belongs to another
    /// customer).
    async fn get(
        &self,
        customer: CustomerId,
        id: EntitlementId,
    ) -> Result<Option<Entitlement>, RepoError>;

    /// A customer's entitlements, optionally for one product, newest first (by
    /// `created_at`, then id, descending).
    async fn list(
        &self,
        customer: CustomerId,
        product: Option<&str>,
        page: PageRequest,
    ) -> Result<Vec<Entitlement>, RepoError>;

    /// Replaces `current` (as it was read, revision included) by `updated` (the same
    /// entitlement, changed), as one compare-and-set: written only while the stored
    /// entitlement of `current.customer_id` still has `current.revision`, which the
    /// write advances by one. Returns what is stored then; `None`, writing nothing,
    /// when it changed or was deleted since it was read (read it again), or belongs to
    /// another customer. The rules were judged by whoever made `updated`. Writes
    /// `event` when it applies, in the same transaction.
    async fn replace(
        &self,
        current: &Entitlement,
        updated: &Entitlement,
        event: &AuditEvent,
    ) -> Result<Option<Entitlement>, RepoError>;

    /// Deletes the entitlement `id` of `customer`; `false` when there is none. Writes
    /// the event `event` makes of the deleted entitlement, in the same transaction.
    async fn delete(
        &self,
        customer: CustomerId,
        id: EntitlementId,
        event: ChangeEvent<'_, Entitlement>,
    ) -> Result<bool, RepoError>;

    /// Every entitlement of `customer`, ended ones too, as the access rule reads them
    /// (asked on every customer listing, updater check, token issue and resolve).
    async fn customer_access(&self, customer: CustomerId) -> Result<CustomerAccess, RepoError>;
}

/// Products: what their releases add up to, and their own release policies.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
/// use releasy_domain::audit::{AuditEvent, Origin};
/// use releasy_domain::product::ProductPolicy;
/// use releasy_domain::release::Product;
/// use releasy_domain::Timestamp;
///
/// let repos = Repositories::in_memory();
/// let agent = Product::parse("agent").unwrap();
/// assert_eq!(repos.products.policy(&agent).await.unwrap(), None);
/// let policy = ProductPolicy { product: agent.clone(), immutable_releases: true, updated_at: Timestamp::from_unix_seconds(0) };
/// let event = AuditEvent::product_policy_set(&Origin::admin_key(), &policy);
/// repos.products.set_policy(&policy, &event).await.unwrap();
/// assert_eq!(repos.products.policy(&agent).await.unwrap(), Some(policy));
/// # }
/// ```
#[async_trait]
pub trait ProductRepository: Send + Sync + std::fmt::Debug {
    /// One page of products, by name: every product with a release or a policy, with
    /// its release counts, its latest stable version and its own policy.
    async fn summaries(&self, page: PageRequest) -> Result<Vec<ProductSummary>, RepoError>;

    /// The product's own policy, or `None` when it was never set.
    async fn policy(&self, product: &Product) -> Result<Option<ProductPolicy>, RepoError>;

    /// Stores the product's own policy, replacing the one it had, with `event`.
    async fn set_policy(&self, policy: &ProductPolicy, event: &AuditEvent)
    -> Result<(), RepoError>;
}

/// Download tokens, found by their hash.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
///
/// let repos = Repositories::in_memory();
///
/// assert!(repos.download_tokens.find_grant("no-such-hash").await.unwrap().is_none());
/// # }
/// ```
#[async_trait]
pub trait DownloadTokenRepository: Send + Sync + std::fmt::Debug {
    /// Stores a token with its audit event, in one transaction.
    async fn insert(&self, token: &DownloadToken, event: &AuditEvent) -> Result<(), RepoError>;

    /// Stores several tokens, each with its audit event (`issued[i].1` is the event of
    /// `issued[i].0`), all or none: adapters write them in one transaction.
    async fn insert_many(&self, issued: &[(DownloadToken, AuditEvent)]) -> Result<(), RepoError>;

    /// The token with this hash joined to its artifact, release and customer, or `None`
    /// (also when its artifact was deleted). One indexed read.
    async fn find_grant(&self, token_hash: &str) -> Result<Option<DownloadGrant>, RepoError>;

    /// Deletes up to `limit` tokens that expired before `cutoff`; returns how many.
    async fn purge_expired_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError>;

    /// Counts one use of token `id`, limited to `max_uses`: `true` when it was within the
    /// limit (and is now counted), `false` when every use was spent already (or the
    /// token is gone). One atomic statement: concurrent resolves on any number of
    /// instances get exactly `max_uses` `true`s between them.
    async fn consume_use(&self, id: DownloadTokenId, max_uses: MaxUses) -> Result<bool, RepoError>;

    /// Takes back one use of token `id` that [`Self::consume_use`] counted for a resolve
    /// that then handed out no link (its quota was spent, or a later step failed);
    /// never below zero, and nothing when the token is gone. One atomic statement, like
    /// the count.
    async fn return_use(&self, id: DownloadTokenId) -> Result<(), RepoError>;
}

/// Whether the database answers, for readiness checks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::ports::Repositories;
///
/// let repos = Repositories::in_memory();
///
/// repos.health.ping().await.unwrap();
/// # }
/// ```
#[async_trait]
pub trait HealthProbe: Send + Sync + std::fmt::Debug {
    /// Runs a trivial query.
    async fn ping(&self) -> Result<(), RepoError>;
}
