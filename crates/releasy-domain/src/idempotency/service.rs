//! The idempotency rule: claim a key before doing the work, keep the response after.

use std::sync::Arc;

use crate::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse};
use crate::ports::{Claim, Clock, IdempotencyRepository, RepoError};

/// How long an unfinished claim blocks its key. A request still running after this
/// long is presumed to have died with its instance, and a retry may take the key over.
/// Times are whole seconds, so a claim is taken over only once more than this has
/// passed: between 10 and 11 s after the request began, never sooner.
/// Short, so that a client retries a request cut off by a crash within seconds; safe,
/// because the ids a keyed create makes derive from the request
/// ([`crate::audit::Origin::new_id`]): a retry that runs while (or after) the first run
/// commits finds its row instead of making a second one.
pub const ABANDONED_AFTER_SECONDS: i64 = 10;

/// How long a key and its stored response are kept. Stored responses can hold
/// short-lived secrets (a download link, a presigned upload URL), so they are not kept
/// longer than a retrying client could need them.
pub const RETENTION_SECONDS: i64 = 86_400;

/// What the caller should do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The key is now claimed for this request: do the work, then call
    /// [`IdempotencyService::finish`] or [`IdempotencyService::abandon`].
    Proceed(IdempotencyRecord),
    /// The same request already finished: answer with its stored response.
    Replay(StoredResponse),
}

/// Why a keyed request may not run.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key was used with a different request.
    #[error("idempotency key reused with a different request")]
    Conflict,
    /// The first request with this key is still running.
    #[error("a request with this idempotency key is still in progress")]
    InProgress,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Applies the idempotency rule over a repository whose unique constraint on
/// `(scope, key)` makes concurrent claims race safely: exactly one wins.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::idempotency::{Begin, IdempotencyKey, StoredResponse};
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
///
/// let key = IdempotencyKey::parse("create-acme-1").unwrap();
/// let Begin::Proceed(claim) = releasy.idempotency.begin("admin", &key, "body-hash").await.unwrap()
/// else { unreachable!("a new key is claimed") };
/// let response = StoredResponse { status: 201, body: "{}".to_owned() };
/// releasy.idempotency.finish(&claim, response.clone()).await.unwrap();
/// // The same request again is answered from the stored response.
/// let again = releasy.idempotency.begin("admin", &key, "body-hash").await.unwrap();
/// assert!(matches!(again, Begin::Replay(stored) if stored == response));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct IdempotencyService {
    records: Arc<dyn IdempotencyRepository>,
    clock: Arc<dyn Clock>,
}

impl IdempotencyService {
    /// A service over the given ports.
    pub fn new(records: Arc<dyn IdempotencyRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { records, clock }
    }

    /// Claims `key` in `scope` for a request with `fingerprint`, or tells why not.
    ///
    /// # Errors
    /// [`IdempotencyError::Conflict`] when the key was used with another fingerprint,
    /// [`IdempotencyError::InProgress`] while the first request runs.
    pub async fn begin(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Begin, IdempotencyError> {
        let now = self.clock.now();
        let claim = IdempotencyRecord {
            scope: scope.to_owned(),
            key: key.clone(),
            fingerprint: fingerprint.to_owned(),
            state: IdempotencyState::InProgress,
            created_at: now,
        };
        // At most two rounds: the second only after taking over an abandoned claim.
        for _ in 0..2 {
            let existing = match self.records.claim(&claim).await {
                Ok(Claim::Claimed) => return Ok(Begin::Proceed(claim)),
                Ok(Claim::Existing(existing)) => existing,
                // The key kept changing hands under the claim: another request holds
                // it, or held it a moment ago.
                Err(RepoError::Conflict) => return Err(IdempotencyError::InProgress),
                Err(err) => return Err(err.into()),
            };
            // Another body is a conflict whatever the first request's state: a key
            // names one request, and the first one may have committed before it died.
            if existing.fingerprint != fingerprint {
                return Err(IdempotencyError::Conflict);
            }
            let abandoned = existing.state == IdempotencyState::InProgress
                && existing.created_at.plus_seconds(ABANDONED_AFTER_SECONDS) < now;
            if abandoned {
                // A dead request's claim no longer holds the key for its retry.
                self.records.release(&existing).await?;
                continue;
            }
            match existing.state {
                IdempotencyState::Completed(response) => return Ok(Begin::Replay(response)),
                IdempotencyState::InProgress => return Err(IdempotencyError::InProgress),
            }
        }
        Err(IdempotencyError::InProgress)
    }

    /// Keeps the response of a claimed request for replay.
    ///
    /// # Errors
    /// [`RepoError`] when it could not be stored.
    pub async fn finish(
        &self,
        claim: &IdempotencyRecord,
        response: StoredResponse,
    ) -> Result<(), RepoError> {
        self.records.complete(claim, &response).await
    }

    /// Forgets keys older than [`RETENTION_SECONDS`]; returns how many. Run periodically.
    ///
    /// # Errors
    /// [`RepoError`] when the repository failed.
    pub async fn purge_expired(&self) -> Result<u64, RepoError> {
        let cutoff = self.clock.now().plus_seconds(-RETENTION_SECONDS);
        self.records.purge_created_before(cutoff).await
    }

    /// Gives the key back after a request that created nothing (it failed), so a retry
    /// can run again.
    ///
    /// # Errors
    /// [`RepoError`] when the claim could not be removed.
    pub async fn abandon(&self, claim: &IdempotencyRecord) -> Result<(), RepoError> {
        self.records.release(claim).await
    }
}
