//! The rule that decides whether a presented customer key is accepted, and the audit
//! trail it leaves either way.

use std::net::IpAddr;
use std::sync::Arc;

use crate::api_key::model::is_revoked_at;
use crate::api_key::unindexed::{UnindexedSearch, VERIFICATIONS_PER_SEARCH};
use crate::api_key::{
    AllowedNetworks, ApiKeySecret, AuthCandidate, KeyType, Scope, ScopeSet, address_allowed,
};
use crate::audit::{AuditEvent, AuthReason};
use crate::ports::{
    ApiKeyRepository, AuditRepository, Clock, HashError, KeyHasher, RateLimiter, RepoError,
};
use crate::rate_limit::{BudgetState, Spend, Throttled, count_failure};
use crate::{ApiKeyId, CustomerId, Timestamp};

/// The carried-over keys one search reads: each is tried under one pepper at least, so
/// a search reaches no more.
const SEARCH_CANDIDATES: u32 = VERIFICATIONS_PER_SEARCH as u32;

/// An accepted key: who it acts for and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedKey {
    /// The key's id.
    pub api_key_id: ApiKeyId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// Who holds it.
    pub key_type: KeyType,
    /// What it may do.
    pub scopes: ScopeSet,
    /// When it expires, if ever.
    pub expires_at: Option<Timestamp>,
    /// Where it may be used from (its download tokens inherit it); `None`: anywhere.
    pub allowed_networks: Option<AllowedNetworks>,
}

/// The key is valid but lacks the scope an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("missing scope")]
pub struct MissingScope(pub Scope);

impl AuthenticatedKey {
    /// Checks the key carries `scope`.
    ///
    /// # Errors
    /// [`MissingScope`] when it does not.
    pub fn require(&self, scope: Scope) -> Result<(), MissingScope> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(MissingScope(scope))
        }
    }
}

/// A key accepted for one request, and where it stands in its request budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmittedKey {
    /// The key.
    pub key: AuthenticatedKey,
    /// Its budget after this request, when its type has one.
    pub budget: Option<BudgetState>,
}

/// Why authentication did not produce a key.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// The key was rejected for this reason (already recorded in the audit trail).
    #[error("invalid api key ({})", .0.as_str())]
    Rejected(AuthReason),
    /// The key was rejected, and its address is past the failure limit: counted into
    /// the address's summary event instead of an event of its own.
    #[error("too many failed authentications from this address ({})", .reason.as_str())]
    Throttled {
        /// Why the key was rejected.
        reason: AuthReason,
        /// When the address may try again.
        throttled: Throttled,
    },
    /// The key is valid but has spent its request budget.
    #[error("request budget of this key spent")]
    OverBudget {
        /// Where the key stands.
        state: BudgetState,
        /// When the next request fits, in seconds.
        retry_after_seconds: u64,
    },
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The hasher failed.
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Authenticates customer API keys.
///
/// Each request asks the key repository for the key's row and decides afresh, so
/// expiry takes effect at its second, and revocation and customer suspension on the
/// next request. A caching repository must therefore never answer with a row a write
/// has replaced (the read cache of `releasy-throughput` invalidates on every write, and
/// on other instances' writes as its change feed reports them); the cryptographic
/// verification may be served from the hasher's cache.
///
/// The crate's own example (at its root) issues a key and authenticates it; a refusal
/// names its reason:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::api_key::AuthFailure;
/// use releasy_domain::audit::AuthReason;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::{Ports, Services, Timestamp};
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
/// let refused = releasy.authenticator.authenticate(Some("releasy_unknown")).await;
/// assert!(matches!(refused, Err(AuthFailure::Rejected(AuthReason::NotFound))));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ApiKeyAuthenticator {
    keys: Arc<dyn ApiKeyRepository>,
    hasher: Arc<dyn KeyHasher>,
    audit: Arc<dyn AuditRepository>,
    clock: Arc<dyn Clock>,
    /// `None`: no limits (an embedding service that limits elsewhere).
    limiter: Option<Arc<dyn RateLimiter>>,
    /// Searches for carried-over keys, shared by clones.
    unindexed: Arc<UnindexedSearch>,
}

impl ApiKeyAuthenticator {
    /// An authenticator over the given ports, without rate limits.
    pub fn new(
        keys: Arc<dyn ApiKeyRepository>,
        hasher: Arc<dyn KeyHasher>,
        audit: Arc<dyn AuditRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            hasher,
            audit,
            clock,
            limiter: None,
            unindexed: Arc::default(),
        }
    }

    /// Counts failures per client address and spends keys' budgets in `limiter`.
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Decides on the key presented in a request (`None` when no key was sent), records
    /// the outcome as an `api_key.auth` audit event, and on success upgrades a legacy
    /// hash and records the key's last use. No client address is known, so no failure
    /// limit applies; see [`Self::authenticate_from`].
    ///
    /// # Errors
    /// [`AuthFailure::Rejected`] with the contract's reason; repository or hasher
    /// failures otherwise.
    pub async fn authenticate(
        &self,
        presented: Option<&str>,
    ) -> Result<AuthenticatedKey, AuthFailure> {
        self.authenticate_from(presented, None)
            .await
            .map(|admitted| admitted.key)
    }

    /// [`Self::authenticate`] for a request from `client`: its address goes into the
    /// audit event; a failure is counted against the address, and past the limit it is
    /// [`AuthFailure::Throttled`] and summed into the address's summary event instead
    /// of written as its own. An accepted key then spends one request of its budget:
    /// over it, [`AuthFailure::OverBudget`] before anything is recorded, so a budget
    /// also bounds the audit rows a key can cause.
    ///
    /// # Errors
    /// As [`Self::authenticate`], and the two refusals above.
    pub async fn authenticate_from(
        &self,
        presented: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<AdmittedKey, AuthFailure> {
        let now = self.clock.now();
        let reject = |reason, candidate| self.reject(reason, candidate, client, now);
        let Some(presented) = presented.map(str::trim).filter(|p| !p.is_empty()) else {
            return Err(reject(AuthReason::MissingHeader, None).await);
        };
        // A value too long to be any key is simply not a known key.
        let Some(secret) = ApiKeySecret::from_presented(presented) else {
            return Err(reject(AuthReason::NotFound, None).await);
        };
        let Some(Matched { candidate, stale }) = self.find_matching(&secret, client).await? else {
            return Err(reject(AuthReason::NotFound, None).await);
        };
        if matches!(stale, Some(Stale::PreviousPepper | Stale::Unindexed)) {
            // Before the checks: a key of a suspended customer (or one over its budget)
            // must move to the new pepper too, or it is lost when the grace ends; and a
            // carried-over key is searched for only once.
            self.rehash(&candidate, &secret).await?;
        }
        let key = match check_candidate(&candidate, now, client) {
            Ok(key) => key,
            Err(reason) => return Err(reject(reason, Some(&candidate)).await),
        };
        let budget = match self.spend_budget(&key) {
            None => None,
            Some(Spend::Within(state)) => Some(state),
            Some(Spend::Exceeded {
                state,
                retry_after_seconds,
            }) => {
                return Err(AuthFailure::OverBudget {
                    state,
                    retry_after_seconds,
                });
            }
        };
        if stale == Some(Stale::Legacy) {
            self.rehash(&candidate, &secret).await?;
        }
        if needs_last_use_recorded(candidate.last_used_at, now) {
            self.keys.touch_last_used(candidate.id, now, client).await?;
        }
        let accepted = AuditEvent::api_key_auth(
            AuthReason::Ok,
            Some(key.api_key_id),
            Some(key.customer_id),
            now,
        );
        self.audit.record(&accepted.from_client(client)).await?;
        Ok(AdmittedKey { key, budget })
    }

    /// Stores `candidate`'s hash again: Argon2id under the current pepper.
    async fn rehash(
        &self,
        candidate: &AuthCandidate,
        secret: &ApiKeySecret,
    ) -> Result<(), AuthFailure> {
        let upgraded = self.hasher.hash(secret).await?;
        self.keys
            .upgrade_hash(candidate.id, &upgraded, &secret.lookup())
            .await?;
        Ok(())
    }

    fn spend_budget(&self, key: &AuthenticatedKey) -> Option<Spend> {
        self.limiter.as_ref()?.spend(key.api_key_id, key.key_type)
    }

    /// Writes one `auth.throttled` event for each address whose failures were refused
    /// since the last report (customer keys and operator credentials alike), with the
    /// count. The server calls it every minute and at shutdown.
    ///
    /// # Errors
    /// The audit repository's first error, once every summary was tried; the
    /// summaries it refused are lost (the caller logs it).
    pub async fn report_refused_failures(&self) -> Result<usize, RepoError> {
        let Some(limiter) = &self.limiter else {
            return Ok(0);
        };
        let refused = limiter.take_refused();
        let now = self.clock.now();
        let mut first_error = None;
        for summary in &refused {
            let written = self
                .audit
                .record(&AuditEvent::auth_throttled(summary, now))
                .await;
            if let Err(err) = written {
                first_error.get_or_insert(err);
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(refused.len()),
        }
    }

    /// The stored key `secret` matches: under the current pepper, or else under the
    /// previous one while a rotation's grace lasts.
    async fn find_matching(
        &self,
        secret: &ApiKeySecret,
        client: Option<IpAddr>,
    ) -> Result<Option<Matched>, AuthFailure> {
        if let Some(candidate) = self.find_matching_under(&*self.hasher, secret).await? {
            let stale = candidate.hash.is_legacy().then_some(Stale::Legacy);
            return Ok(Some(Matched { candidate, stale }));
        }
        if let Some(previous) = self.hasher.under_previous_pepper()
            && let Some(candidate) = self.find_matching_under(previous, secret).await?
        {
            return Ok(Some(Matched {
                candidate,
                stale: Some(Stale::PreviousPepper),
            }));
        }
        let found = self.find_unindexed(secret, client).await?;
        Ok(found.map(|candidate| Matched {
            candidate,
            stale: Some(Stale::Unindexed),
        }))
    }

    /// The carried-over key `secret` matches, tried against each such key (see
    /// `unindexed`), the most recently used first, each under the current pepper and,
    /// during a rotation, the previous one: `None` when none matches, none is left, or
    /// the search's, the client address's share of the minute's, or the minute's budget
    /// ends first.
    async fn find_unindexed(
        &self,
        secret: &ApiKeySecret,
        client: Option<IpAddr>,
    ) -> Result<Option<AuthCandidate>, AuthFailure> {
        if !self.unindexed.may_start(self.clock.now(), client) {
            return Ok(None);
        }
        let candidates = self
            .keys
            .unindexed_candidates(self.clock.now(), SEARCH_CANDIDATES)
            .await?;
        if candidates.is_empty() {
            self.unindexed.none_left();
            return Ok(None);
        }
        let peppers: Vec<&dyn KeyHasher> = std::iter::once(&*self.hasher)
            .chain(self.hasher.under_previous_pepper())
            .collect();
        let tries = candidates
            .iter()
            .flat_map(|candidate| peppers.iter().map(move |hasher| (candidate, *hasher)))
            .take(VERIFICATIONS_PER_SEARCH);
        for (candidate, hasher) in tries {
            if !self.unindexed.try_spend_one(self.clock.now(), client) {
                return Ok(None);
            }
            if hasher.verify(secret, &candidate.hash).await? {
                return Ok(Some(candidate.clone()));
            }
        }
        Ok(None)
    }

    async fn find_matching_under(
        &self,
        hasher: &dyn KeyHasher,
        secret: &ApiKeySecret,
    ) -> Result<Option<AuthCandidate>, AuthFailure> {
        let legacy = hasher.peppered_sha256(secret.expose().as_bytes());
        let candidates = self
            .keys
            .find_auth_candidates(&secret.lookup(), &legacy)
            .await?;
        for candidate in candidates {
            if hasher.verify(secret, &candidate.hash).await? {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// Records a rejection, unless its address is past the failure limit (then it is
    /// only counted); a failure to record it wins over the rejection itself, so a
    /// request is never answered without the audit port having taken its event.
    async fn reject(
        &self,
        reason: AuthReason,
        candidate: Option<&AuthCandidate>,
        client: Option<IpAddr>,
        now: Timestamp,
    ) -> AuthFailure {
        if let (Some(limiter), Some(client)) = (&self.limiter, client)
            && let Err(throttled) = count_failure(limiter.as_ref(), client)
        {
            return AuthFailure::Throttled { reason, throttled };
        }
        let event = AuditEvent::api_key_auth(
            reason,
            candidate.map(|c| c.id),
            candidate.map(|c| c.customer_id),
            now,
        )
        .from_client(client);
        match self.audit.record(&event).await {
            Ok(()) => AuthFailure::Rejected(reason),
            Err(err) => AuthFailure::Repo(err),
        }
    }
}

/// The stored key a presented secret matched.
struct Matched {
    candidate: AuthCandidate,
    /// Why its hash is to be made again under the current pepper, if it is.
    stale: Option<Stale>,
}

/// A stored hash to replace by Argon2id under the current pepper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stale {
    /// The unsalted SHA-256 of older servers: replaced once the key is accepted.
    Legacy,
    /// Made under the previous pepper: replaced as soon as it matches, whatever the
    /// checks then decide, so that no key is lost when the grace ends.
    PreviousPepper,
    /// Carried over without a lookup value: given one as soon as it matches, so it is
    /// found by index from then on.
    Unindexed,
}

/// How stale `last_used_at` may get before a request records it again: one write per key
/// per minute instead of one per request.
pub const LAST_USE_RESOLUTION_SECONDS: i64 = 60;

/// Whether a use at `now` should be recorded, given the last recorded one.
fn needs_last_use_recorded(last_used_at: Option<Timestamp>, now: Timestamp) -> bool {
    last_used_at.is_none_or(|last| last.plus_seconds(LAST_USE_RESOLUTION_SECONDS) <= now)
}

/// The checks after a key's secret matched, in the contract's order: revoked, expired,
/// customer suspended, scopes parse; then the key's address rule admits `client` (a
/// rule that does not read refuses, like one that does not match).
fn check_candidate(
    candidate: &AuthCandidate,
    now: Timestamp,
    client: Option<IpAddr>,
) -> Result<AuthenticatedKey, AuthReason> {
    if is_revoked_at(candidate.revoked_at, now) {
        return Err(AuthReason::Revoked);
    }
    if candidate.expires_at.is_some_and(|expires| expires <= now) {
        return Err(AuthReason::Expired);
    }
    if candidate.customer_suspended_at.is_some() {
        return Err(AuthReason::Suspended);
    }
    let scopes = ScopeSet::from_stored(&candidate.scopes).map_err(|_| AuthReason::InvalidScopes)?;
    let key_type = KeyType::parse(&candidate.key_type).map_err(|_| AuthReason::InvalidScopes)?;
    let allowed_networks = candidate
        .allowed_cidrs
        .as_deref()
        .map(AllowedNetworks::from_stored)
        .transpose()
        .map_err(|_| AuthReason::AddressNotAllowed)?;
    if !address_allowed(allowed_networks.as_ref(), client) {
        return Err(AuthReason::AddressNotAllowed);
    }
    Ok(AuthenticatedKey {
        api_key_id: candidate.id,
        customer_id: candidate.customer_id,
        key_type,
        scopes,
        expires_at: candidate.expires_at,
        allowed_networks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_key::StoredKeyHash;

    fn candidate() -> AuthCandidate {
        AuthCandidate {
            id: ApiKeyId::generate(),
            customer_id: CustomerId::generate(),
            hash: StoredKeyHash::Argon2id("$argon2id$".into()),
            scopes: "releases:read keys:read".into(),
            key_type: "ci".into(),
            expires_at: None,
            revoked_at: None,
            customer_suspended_at: None,
            last_used_at: None,
            allowed_cidrs: None,
        }
    }

    const NOW: Timestamp = Timestamp::from_unix_seconds(1_000);

    #[test]
    fn last_use_is_recorded_at_most_once_a_minute() {
        assert!(needs_last_use_recorded(None, NOW));
        assert!(!needs_last_use_recorded(Some(NOW.plus_seconds(-59)), NOW));
        assert!(needs_last_use_recorded(Some(NOW.plus_seconds(-60)), NOW));
    }

    #[test]
    fn a_clean_key_is_accepted_with_its_scopes() {
        let key = check_candidate(&candidate(), NOW, None).unwrap();
        assert_eq!(key.key_type, KeyType::Ci);
        assert!(key.require(Scope::KeysRead).is_ok());
        assert_eq!(
            key.require(Scope::AuditRead),
            Err(MissingScope(Scope::AuditRead))
        );
    }

    #[test]
    fn revocation_wins_over_expiry_and_suspension() {
        let c = AuthCandidate {
            revoked_at: Some(NOW),
            expires_at: Some(NOW),
            customer_suspended_at: Some(NOW),
            ..candidate()
        };
        assert_eq!(
            check_candidate(&c, NOW, None).unwrap_err(),
            AuthReason::Revoked
        );
    }

    #[test]
    fn a_scheduled_revocation_takes_effect_at_its_second() {
        let c = AuthCandidate {
            revoked_at: Some(NOW.plus_seconds(1)),
            ..candidate()
        };
        assert!(check_candidate(&c, NOW, None).is_ok());
        assert_eq!(
            check_candidate(&c, NOW.plus_seconds(1), None).unwrap_err(),
            AuthReason::Revoked
        );
    }

    #[test]
    fn an_address_rule_admits_only_its_ranges_and_fails_closed() {
        let c = AuthCandidate {
            allowed_cidrs: Some("10.0.0.0/8 2001:db8::/32".into()),
            ..candidate()
        };
        let inside = Some("10.2.3.4".parse().unwrap());
        let key = check_candidate(&c, NOW, inside).unwrap();
        assert_eq!(
            key.allowed_networks.map(|n| n.to_stored()),
            Some("10.0.0.0/8 2001:db8::/32".to_owned())
        );
        for outside in [Some("192.0.2.1".parse().unwrap()), None] {
            assert_eq!(
                check_candidate(&c, NOW, outside).unwrap_err(),
                AuthReason::AddressNotAllowed
            );
        }
        let unreadable = AuthCandidate {
            allowed_cidrs: Some("nowhere".into()),
            ..candidate()
        };
        assert_eq!(
            check_candidate(&unreadable, NOW, inside).unwrap_err(),
            AuthReason::AddressNotAllowed
        );
        // Revocation is reported before the address.
        let revoked = AuthCandidate {
            revoked_at: Some(NOW),
            ..c
        };
        assert_eq!(
            check_candidate(&revoked, NOW, None).unwrap_err(),
            AuthReason::Revoked
        );
    }

    #[test]
    fn a_key_expires_at_its_expiry_second() {
        let c = AuthCandidate {
            expires_at: Some(NOW),
            ..candidate()
        };
        assert_eq!(
            check_candidate(&c, NOW, None).unwrap_err(),
            AuthReason::Expired
        );
        let c = AuthCandidate {
            expires_at: Some(NOW.plus_seconds(1)),
            ..candidate()
        };
        assert!(check_candidate(&c, NOW, None).is_ok());
    }

    #[test]
    fn suspension_and_bad_scopes_are_rejected() {
        let c = AuthCandidate {
            customer_suspended_at: Some(NOW),
            ..candidate()
        };
        assert_eq!(
            check_candidate(&c, NOW, None).unwrap_err(),
            AuthReason::Suspended
        );
        let c = AuthCandidate {
            scopes: "releases:read root".into(),
            ..candidate()
        };
        assert_eq!(
            check_candidate(&c, NOW, None).unwrap_err(),
            AuthReason::InvalidScopes
        );
    }
}
