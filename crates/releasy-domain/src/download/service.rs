//! Download use cases: a customer key issues a token for one artifact; anyone holding
//! the token resolves it to a short-lived presigned GET while every rule still holds.

use std::sync::Arc;

use crate::api_key::AuthenticatedKey;
use crate::artifact::Verification;
use crate::audit::{AuditEvent, Origin};
use crate::batches::in_batches;
use crate::delivery::{DownloadOutcome, DownloadRecord, DownloadSubject, Requester};
use crate::download::DownloadGrant;
use crate::download::{DownloadToken, DownloadTokenSecret, MaxUses, ResolveRefusal, TokenTtl};
use crate::entitlement::{
    Allowance, MeteredGrant, QuotaUsage, QuotaWindow, ReleaseFacts, soonest_reset,
};
use crate::ports::{
    ArtifactRepository, AuditRepository, Clock, DownloadLedger, DownloadTokenRepository,
    EntitlementRepository, KeyHasher, ObjectStore, PresignedUrl, QuotaCounter, RateLimiter,
    RepoError, SecretGenerator, StoreError,
};
use crate::rate_limit::{Throttled, count_failure};
use crate::release::ReleaseStatus;
use crate::{ArtifactId, DownloadTokenId, Timestamp, ValidationError};

/// The longest `purpose` kept with a token.
pub const MAX_PURPOSE_CHARS: usize = 200;

/// A token just issued: the secret (shown once) and when it expires.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token.
    pub secret: DownloadTokenSecret,
    /// When it stops resolving.
    pub expires_at: Timestamp,
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueTokenError {
    /// No artifact has that id.
    #[error("artifact not found")]
    ArtifactNotFound,
    /// The artifact's release is a draft.
    #[error("release not published")]
    ReleaseNotPublished,
    /// No entitlement of the customer allows the release (product, window, channels,
    /// versions, perpetual fallback).
    #[error("entitlement required")]
    EntitlementRequired,
    /// The artifact's bytes are still being checked, or did not match.
    #[error("artifact not verified")]
    NotVerified,
    /// The release was yanked with `block_downloads`.
    #[error("release yanked")]
    Yanked,
    /// Every download quota that could count a download of the artifact is spent.
    #[error("quota exceeded")]
    QuotaExceeded {
        /// Seconds until the soonest of those quotas resets.
        retry_after_seconds: u64,
    },
    /// The request breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why a token did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A rule refused it (the contract's 404 messages).
    #[error(transparent)]
    Refused(#[from] ResolveRefusal),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// An unknown token (or a suspended customer's), from an address past its failure
    /// limit: refusals of the client's doing are failed attempts, counted as failed
    /// authentications are.
    #[error(transparent)]
    Throttled(#[from] Throttled),
}

/// How long an expired token is kept before it is purged.
const EXPIRED_TOKEN_GRACE_SECONDS: i64 = 3_600;

/// Issues and resolves download tokens. Tokens are stored only as hashes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::api_key::{KeyType, NewApiKeyRequest, ScopeSet};
/// use releasy_domain::artifact::{
///     ArtifactSize, ArtifactTarget, Checksum, Filename, Platform, RegisterArtifact,
/// };
/// use releasy_domain::customer::CustomerName;
/// use releasy_domain::download::{IssueTokenError, TokenTtl};
/// use releasy_domain::entitlement::{EntitlementScope, EntitlementWindow, NewEntitlement};
/// use releasy_domain::memory::{FixedClock, InMemoryObjects};
/// use releasy_domain::release::{Product, Version};
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::audit::Origin;
/// use releasy_domain::delivery::Requester;
///
/// let now = Timestamp::from_unix_seconds(1_735_312_000);
/// let objects = Arc::new(InMemoryObjects::default());
/// let releasy = Services::new(Ports::in_memory_with_objects(
///     Arc::new(FixedClock::at(now)),
///     objects.clone(),
/// ));
/// // A published release with one artifact.
/// let agent = Product::parse("agent").unwrap();
/// let release = releasy
///     .releases
///     .create(&Origin::admin_key(), agent.clone(), Version::parse("2.4.0").unwrap())
///     .await
///     .unwrap();
/// let platform = Platform::parse("linux").unwrap();
/// let upload = releasy
///     .artifacts
///     .presign(release.id, &Filename::parse("agent.tgz").unwrap(), &platform)
///     .await
///     .unwrap();
/// objects.put(&upload.object_key, vec![0; 3]);
/// let registration = RegisterArtifact {
///     artifact_id: upload.artifact_id,
///     object_key: upload.object_key.as_str().to_owned(),
///     checksum: Checksum::of_bytes(&[0; 3]),
///     size: ArtifactSize::parse(3).unwrap(),
///     platform,
///     target: ArtifactTarget::default(),
///     parts: None,
/// };
/// releasy.artifacts.register(&Origin::admin_key(), release.id, registration).await.unwrap();
/// releasy.releases.publish(&Origin::admin_key(), release.id).await.unwrap();
/// // A customer's key.
/// let acme = releasy.customers.create(&Origin::admin_key(), CustomerName::parse("Acme").unwrap(), None).await.unwrap();
/// let issued = releasy
///     .api_keys
///     .create(&Origin::admin_key(), NewApiKeyRequest {
///         customer_id: acme.id,
///         name: None,
///         key_type: KeyType::Ci,
///         scopes: ScopeSet::parse(&["downloads:token"]).unwrap(),
///         expires_at: None,
///         allowed_networks: None,
///     })
///     .await
///     .unwrap();
/// let key = releasy.authenticator.authenticate(Some(issued.secret.expose())).await.unwrap();
/// let ttl = TokenTtl::parse(Some(300), 600).unwrap();
///
/// // No entitlement, no token.
/// let refused = releasy.downloads.issue(&Origin::admin_key(), &key, upload.artifact_id, None, ttl, None).await;
/// assert!(matches!(refused, Err(IssueTokenError::EntitlementRequired)));
/// let window = EntitlementWindow::new(now, None).unwrap();
/// let scope = EntitlementScope::default();
/// let entitlement = NewEntitlement { product: agent, window, scope, metadata: None, download_quota: None };
/// releasy.entitlements.create(&Origin::admin_key(), acme.id, entitlement).await.unwrap();
/// let token = releasy.downloads.issue(&Origin::admin_key(), &key, upload.artifact_id, None, ttl, None).await.unwrap();
/// let link = releasy.downloads.resolve(token.secret.expose(), &Requester::default()).await.unwrap();
/// assert!(link.url.starts_with("memory://get/"));
/// assert_eq!(link.expires_at, token.expires_at, "the link dies with its token");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DownloadService {
    artifacts: Arc<dyn ArtifactRepository>,
    tokens: Arc<dyn DownloadTokenRepository>,
    entitlements: Arc<dyn EntitlementRepository>,
    objects: Arc<dyn ObjectStore>,
    secrets: Arc<dyn SecretGenerator>,
    hasher: Arc<dyn KeyHasher>,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditRepository>,
    ledger: Arc<dyn DownloadLedger>,
    quotas: Arc<dyn QuotaCounter>,
    link_ttl_seconds: i64,
    limiter: Option<Arc<dyn RateLimiter>>,
}

/// One download counted against a quota, which a later refusal takes back.
#[derive(Debug, Clone, Copy)]
struct QuotaCharge {
    entitlement: crate::EntitlementId,
    window: QuotaWindow,
    bytes: u64,
}

/// The ports and settings a [`DownloadService`] runs on.
#[derive(Debug, Clone)]
pub struct DownloadPorts {
    /// Artifacts and their releases.
    pub artifacts: Arc<dyn ArtifactRepository>,
    /// Tokens.
    pub tokens: Arc<dyn DownloadTokenRepository>,
    /// Entitlements.
    pub entitlements: Arc<dyn EntitlementRepository>,
    /// Where the bytes are.
    pub objects: Arc<dyn ObjectStore>,
    /// New tokens.
    pub secrets: Arc<dyn SecretGenerator>,
    /// Token hashes.
    pub hasher: Arc<dyn KeyHasher>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Where refusals are recorded.
    pub audit: Arc<dyn AuditRepository>,
    /// Where every token issued and every resolve is recorded.
    pub ledger: Arc<dyn DownloadLedger>,
    /// Where download quotas are counted.
    pub quotas: Arc<dyn QuotaCounter>,
    /// The longest lifetime of the presigned GET a token resolves to (it never
    /// outlives the token either).
    pub link_ttl_seconds: i64,
}

impl DownloadService {
    /// A service over `ports`.
    pub fn new(ports: DownloadPorts) -> Self {
        Self {
            artifacts: ports.artifacts,
            tokens: ports.tokens,
            entitlements: ports.entitlements,
            objects: ports.objects,
            secrets: ports.secrets,
            hasher: ports.hasher,
            clock: ports.clock,
            audit: ports.audit,
            ledger: ports.ledger,
            quotas: ports.quotas,
            link_ttl_seconds: ports.link_ttl_seconds,
            limiter: None,
        }
    }

    /// Counts refused resolves of the client's doing
    /// ([`ResolveRefusal::is_failed_attempt`]) as failed attempts of their client's
    /// address in `limiter`, as failed authentications are: past the address's limit an
    /// unknown token (or a suspended customer's) is answered
    /// [`ResolveError::Throttled`], and the other such refusals keep their answer but
    /// are no longer recorded one by one.
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The answer to `refusal` of `grant`: recorded (its ledger row and audit event)
    /// unless it is a failed attempt ([`ResolveRefusal::is_failed_attempt`]) past the
    /// address's limit, which is only counted (summed into `auth.throttled`), so that a
    /// leaked link asked again and again fills neither. Past the limit "not found" is
    /// answered 429, as a made-up token's (a suspended customer's must read the same);
    /// the other refusals keep their answer, which clients act on (an expired link is
    /// their cue to ask for a new one).
    async fn answer_refusal(
        &self,
        grant: &DownloadGrant,
        refusal: ResolveRefusal,
        requester: &Requester,
        now: Timestamp,
    ) -> ResolveError {
        if refusal.is_failed_attempt()
            && let Err(throttled) = self.count_failed_attempt(requester)
        {
            return if refusal == ResolveRefusal::NotFound {
                throttled.into()
            } else {
                refusal.into()
            };
        }
        self.refuse(grant, refusal, requester, now).await
    }

    /// Counts a refused resolve as a failed attempt of `requester`'s address.
    ///
    /// # Errors
    /// [`Throttled`] past the address's limit: the answer is then 429, and nothing else
    /// is recorded of it (the limiter sums it into the address's summary).
    fn count_failed_attempt(&self, requester: &Requester) -> Result<(), Throttled> {
        match (&self.limiter, requester.address) {
            (Some(limiter), Some(address)) => count_failure(limiter.as_ref(), address),
            _ => Ok(()),
        }
    }

    /// Issues a token for `artifact_id` to the key's customer, checked in the contract's
    /// order: the artifact exists, its release is published, its customer's entitlements allow it;
    /// then the artifact's bytes must be downloadable
    /// ([`crate::artifact::Verification::allows_download`]), and when only entitlements
    /// with a download quota allow it, one of them must have room for one more download
    /// of the artifact (a refusal is audited as `download_token.refused`; issuing
    /// counts nothing, resolving does). The token is recorded in the download ledger as
    /// `issued`, with the request's address and `User-Agent`.
    ///
    /// # Errors
    /// [`IssueTokenError`].
    pub async fn issue(
        &self,
        origin: &Origin,
        key: &AuthenticatedKey,
        artifact_id: ArtifactId,
        purpose: Option<String>,
        ttl: TokenTtl,
        max_uses: Option<MaxUses>,
    ) -> Result<IssuedToken, IssueTokenError> {
        let purpose = purpose
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if let Some(purpose) = &purpose {
            if purpose.chars().count() > MAX_PURPOSE_CHARS {
                return Err(ValidationError::new(
                    "purpose",
                    format!("must be at most {MAX_PURPOSE_CHARS} characters"),
                )
                .into());
            }
            crate::text::refuse_nul("purpose", purpose)?;
        }
        let (artifact, release) = self
            .artifacts
            .get_with_release(artifact_id)
            .await?
            .ok_or(IssueTokenError::ArtifactNotFound)?;
        if release.status != ReleaseStatus::Published {
            return Err(IssueTokenError::ReleaseNotPublished);
        }
        let now = self.clock.now();
        let access = self.entitlements.customer_access(key.customer_id).await?;
        let allowance =
            access.allowance(release.product.as_str(), ReleaseFacts::from(&release), now);
        if !allowance.allows() {
            return Err(IssueTokenError::EntitlementRequired);
        }
        if release.downloads_blocked() {
            return Err(IssueTokenError::Yanked);
        }
        if !artifact.verification.allows_download() {
            return Err(IssueTokenError::NotVerified);
        }
        if let Err(retry_after_seconds) = self
            .check_quota_room(&allowance, artifact.size.bytes(), now)
            .await?
        {
            let event = AuditEvent::download_token_refused(
                origin,
                key.customer_id,
                artifact_id,
                DownloadOutcome::QuotaExceeded.as_str(),
                now,
            );
            self.audit.record(&event).await?;
            return Err(IssueTokenError::QuotaExceeded {
                retry_after_seconds,
            });
        }
        let secret = self.secrets.new_download_token();
        let token = DownloadToken {
            id: DownloadTokenId::generate(),
            token_hash: self.hasher.peppered_sha256(secret.expose().as_bytes()),
            artifact_id,
            customer_id: key.customer_id,
            api_key_id: Some(key.api_key_id),
            purpose,
            created_at: now,
            expires_at: now.plus_seconds(ttl.seconds()),
            allowed_networks: key.allowed_networks.clone(),
            max_uses,
        };
        let event = AuditEvent::download_token_issued(origin, &token);
        match self.tokens.insert(&token, &event).await {
            Ok(()) => {}
            // The artifact's release was deleted while this request ran.
            Err(RepoError::MissingReference) => return Err(IssueTokenError::ArtifactNotFound),
            Err(other) => return Err(other.into()),
        }
        let subject = DownloadSubject {
            artifact_id,
            release_id: release.id,
            product: release.product,
            version: release.version,
            platform: artifact.platform,
            bytes: artifact.size.bytes(),
        };
        let requester = Requester {
            address: origin.client,
            user_agent: origin.user_agent.clone(),
        };
        self.ledger
            .record(&DownloadRecord::issued(&token, subject, requester))
            .await?;
        Ok(IssuedToken {
            secret,
            expires_at: token.expires_at,
        })
    }

    /// Deletes the tokens that expired over an hour ago (the hour spares a client whose
    /// clock runs late a "not found" for a token it just saw expire), a thousand at a
    /// time, until none is left, however many (a cap per call would let a sustained
    /// issuing rate above it grow the table without end); returns how many.
    ///
    /// # Errors
    /// [`RepoError`]; the batches deleted before it stay deleted.
    pub async fn purge_expired_tokens(&self) -> Result<u64, RepoError> {
        let cutoff = self.clock.now().plus_seconds(-EXPIRED_TOKEN_GRACE_SECONDS);
        in_batches(1_000, u64::MAX, |batch| {
            self.tokens.purge_expired_before(cutoff, batch)
        })
        .await
    }

    /// Deletes the counts of quota periods that are over (a new period counts from
    /// zero in a row of its own) and have been for
    /// [`crate::entitlement::ENDED_PERIOD_KEPT_SECONDS`], a thousand at a time, until
    /// none is left; returns how many.
    ///
    /// # Errors
    /// [`RepoError`]; the batches deleted before it stay deleted.
    pub async fn prune_quota_counts(&self) -> Result<u64, RepoError> {
        let reset_by = crate::entitlement::counts_reset_by(self.clock.now());
        in_batches(1_000, u64::MAX, |batch| {
            self.quotas.prune_ended(reset_by, batch)
        })
        .await
    }

    /// Resolves a token, used by `requester`, to a presigned GET, re-checking every
    /// rule at this instant (see [`DownloadGrant::check`]): the customer is not
    /// suspended, the token has not expired, the client's address is one the token's
    /// key allowed (an unknown address is refused when there is a rule), the release is
    /// still published and the entitlements still allow it. The link expires with the
    /// token, or sooner (see [`crate::download::DownloadGrant::link_lifetime_seconds`]);
    /// a client that needs longer asks the still-valid token again.
    ///
    /// Every resolve of a token that exists is recorded in the download ledger, as
    /// `redirected` or with the reason it was refused; a refusal is also audited as
    /// `download.refused`. An unknown token is recorded nowhere: it names no customer
    /// or artifact. A refusal of the client's doing
    /// ([`ResolveRefusal::is_failed_attempt`]: an unknown token, a suspended
    /// customer's, which must read the same, an expired or used-up one, one from an
    /// address its key does not allow) counts as a failed attempt of the requester's
    /// address ([`Self::with_rate_limiter`]); past the address's limit it is only
    /// counted (and summed into `auth.throttled`), so a flood of made-up tokens, or of
    /// a leaked link asked again after it expired, writes no row each time. Past the
    /// limit "not found" is answered 429; the other refusals keep their answer. Other
    /// tokens from that address still resolve.
    ///
    /// # Errors
    /// [`ResolveError::Refused`] with the contract's reason;
    /// [`ResolveError::Throttled`] for a refusal past the address's limit.
    pub async fn resolve(
        &self,
        raw_token: &str,
        requester: &Requester,
    ) -> Result<PresignedUrl, ResolveError> {
        let Some(grant) = self.find_grant(raw_token).await? else {
            self.count_failed_attempt(requester)?;
            return Err(ResolveRefusal::NotFound.into());
        };
        let now = self.clock.now();
        let allowance = self
            .entitlements
            .customer_access(grant.token.customer_id)
            .await?
            .allowance(grant.product.as_str(), grant.release_facts(), now);
        if let Err(refusal) = grant.check(now, allowance.allows(), requester.address) {
            return Err(self.answer_refusal(&grant, refusal, requester, now).await);
        }
        if grant.needs_unchanged_check()
            && let Err(err) = self.check_unchanged(&grant, now).await
        {
            return Err(match err {
                ResolveError::Refused(refusal) => {
                    self.refuse(&grant, refusal, requester, now).await
                }
                other => other,
            });
        }
        let lifetime = grant.link_lifetime_seconds(now, self.link_ttl_seconds);
        let url = match &grant.object_version {
            Some(version) => {
                self.objects
                    .presign_get_version(&grant.object_key, version, now, lifetime)
                    .await?
            }
            None => {
                self.objects
                    .presign_get(&grant.object_key, now, lifetime)
                    .await?
            }
        };
        // Last, so only a resolve that hands out a link spends a use and counts against
        // a quota. The use first: a link used up is gone for good (404), whatever the
        // quota says, and a resolve the quota refuses gives its use back.
        if let Some(max_uses) = grant.token.max_uses
            && !self.tokens.consume_use(grant.token.id, max_uses).await?
        {
            return Err(self
                .answer_refusal(&grant, ResolveRefusal::UsedUp, requester, now)
                .await);
        }
        let charge = match self
            .charge_quota(&allowance, grant.artifact_size.bytes(), now)
            .await
        {
            Ok(Ok(charge)) => charge,
            Ok(Err(retry_after_seconds)) => {
                let refusal = ResolveRefusal::QuotaExceeded {
                    retry_after_seconds,
                };
                // Recorded whatever follows; a use that cannot be given back is an
                // error the caller sees, not a 429 that hides a lost use.
                let refused = self.refuse(&grant, refusal, requester, now).await;
                self.give_back(&grant, None).await?;
                return Err(refused);
            }
            Err(err) => {
                // The charge's own failure is the answer (and is logged where it is
                // answered); the use is given back if the store allows.
                let _ = self.give_back(&grant, None).await;
                return Err(err.into());
            }
        };
        let record =
            DownloadRecord::resolved(&grant, requester.clone(), DownloadOutcome::Redirected, now);
        if let Err(err) = self.ledger.record(&record).await {
            // No link is handed out: what it counted is taken back if the store allows;
            // the ledger's failure is the answer.
            let _ = self.give_back(&grant, charge).await;
            return Err(err.into());
        }
        Ok(url)
    }

    /// Takes back what a resolve that hands out no link counted: its use of a
    /// `max_uses` token, and `charge` when a quota counted it. Each is tried whatever
    /// the other's outcome; the first failure is returned.
    async fn give_back(
        &self,
        grant: &DownloadGrant,
        charge: Option<QuotaCharge>,
    ) -> Result<(), RepoError> {
        let returned = match grant.token.max_uses {
            Some(_) => self.tokens.return_use(grant.token.id).await,
            None => Ok(()),
        };
        let refunded = match charge {
            Some(charge) => {
                self.quotas
                    .refund(charge.entitlement, &charge.window, charge.bytes)
                    .await
            }
            None => Ok(()),
        };
        returned.and(refunded)
    }

    /// Whether one more download of `bytes` fits the allowance at `now`, counting
    /// nothing: `Err` with the seconds until the soonest reset when every quota that
    /// could count it is spent.
    async fn check_quota_room(
        &self,
        allowance: &Allowance,
        bytes: u64,
        now: Timestamp,
    ) -> Result<Result<(), u64>, RepoError> {
        let Allowance::Metered(grants) = allowance else {
            return Ok(Ok(()));
        };
        for MeteredGrant { entitlement, quota } in grants {
            let window = quota.period().window_at(now);
            let used = self.quotas.usage(*entitlement, &window).await?;
            if quota.admits(used, bytes) {
                return Ok(Ok(()));
            }
        }
        Ok(Err(soonest_reset(grants, bytes, now)))
    }

    /// Counts one download of `bytes` against the first quota of the allowance with
    /// room (none when an unlimited entitlement allows it): `Err` with the seconds until
    /// the soonest reset when every one is spent.
    async fn charge_quota(
        &self,
        allowance: &Allowance,
        bytes: u64,
        now: Timestamp,
    ) -> Result<Result<Option<QuotaCharge>, u64>, RepoError> {
        let Allowance::Metered(grants) = allowance else {
            return Ok(Ok(None));
        };
        for MeteredGrant { entitlement, quota } in grants {
            let window = quota.period().window_at(now);
            // A download that no count could admit is never written.
            if quota.admits(QuotaUsage::default(), bytes)
                && self
                    .quotas
                    .try_charge(*entitlement, &window, quota, bytes)
                    .await?
            {
                return Ok(Ok(Some(QuotaCharge {
                    entitlement: *entitlement,
                    window,
                    bytes,
                })));
            }
        }
        Ok(Err(soonest_reset(grants, bytes, now)))
    }

    /// Records a refused resolve in the ledger and as a `download.refused` event, and
    /// returns the refusal (or a port's error: no refusal goes unrecorded).
    async fn refuse(
        &self,
        grant: &DownloadGrant,
        refusal: ResolveRefusal,
        requester: &Requester,
        now: Timestamp,
    ) -> ResolveError {
        let outcome = DownloadOutcome::of_refusal(refusal);
        let record = DownloadRecord::resolved(grant, requester.clone(), outcome, now);
        let event = AuditEvent::download_refused(grant, outcome.as_str(), now)
            .from_client(requester.address);
        let recorded = match self.ledger.record(&record).await {
            Ok(()) => self.audit.record(&event).await,
            Err(err) => Err(err),
        };
        match recorded {
            Ok(()) => refusal.into(),
            Err(err) => err.into(),
        }
    }

    /// The grant of `raw_token`: stored under the current pepper, or else under the
    /// previous one while a rotation's grace lasts (tokens issued before it resolve
    /// until they expire).
    async fn find_grant(&self, raw_token: &str) -> Result<Option<DownloadGrant>, RepoError> {
        let hash = self.hasher.peppered_sha256(raw_token.as_bytes());
        if let Some(grant) = self.tokens.find_grant(&hash).await? {
            return Ok(Some(grant));
        }
        match self.hasher.under_previous_pepper() {
            Some(previous) => {
                let hash = previous.peppered_sha256(raw_token.as_bytes());
                self.tokens.find_grant(&hash).await
            }
            None => Ok(None),
        }
    }

    /// Refuses the download when the stored object is not the one registered (another
    /// entity tag, or none): someone replaced or removed it in the store. The artifact
    /// is set `failed`, so later requests are refused without looking, and that is
    /// audited with it (`artifact.changed`).
    async fn check_unchanged(
        &self,
        grant: &DownloadGrant,
        now: Timestamp,
    ) -> Result<(), ResolveError> {
        let stored = self.objects.head(&grant.object_key).await?;
        let stored_etag = stored.and_then(|meta| meta.etag);
        if stored_etag == grant.object_etag {
            return Ok(());
        }
        self.artifacts
            .set_verification(
                grant.token.artifact_id,
                grant.verification,
                Verification::Failed,
                None,
                &AuditEvent::artifact_changed(grant, stored_etag.as_deref(), now),
            )
            .await?;
        Err(ResolveRefusal::NotVerified.into())
    }
}
