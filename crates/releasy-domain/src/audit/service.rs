//! Reading the audit trail, and verifying its chain.

use std::sync::Arc;

use crate::Timestamp;
use crate::audit::{AuditEvent, AuditFilter, ChainBounds, ChainBreak, ChainLink, ChainVerifier};
use crate::batches::in_batches;
use crate::pagination::PageRequest;
use crate::ports::{AuditRepository, RepoError};

/// How many chained events [`AuditService::verify`] reads at a time.
const VERIFY_PAGE: u32 = 1_000;

/// How many events awaiting their link [`AuditService::verify`] counts, at most.
pub const AWAITING_COUNTED: u32 = 10_000;

/// How often a walk starts over when retention moved the chain's start under it.
const VERIFY_ATTEMPTS: u32 = 3;

/// Events linked per transaction by [`AuditService::link_pending`].
pub const LINK_BATCH: u32 = 1_000;

/// The most batches one [`AuditService::link_pending`] call links, so that it returns
/// even while events keep arriving.
const LINK_BATCHES_PER_CALL: u32 = 1_000;

/// Events removed per transaction by [`AuditService::prune`]. On PostgreSQL a cut
/// holds the chain's head only to move the start and link its own event, after its
/// delete (on SQLite every write waits for a cut's write lock, a few milliseconds per
/// batch).
pub const PRUNE_BATCH: u32 = 5_000;

/// What a walk of the chain found.
struct Walked {
    /// Events checked.
    events: u64,
    /// Whether the `audit.pruned` event naming the walk's start was among them.
    start_named: bool,
    /// The bounds walked: those read when the walk began, or, when retention moved
    /// the start past where the walk had come, those read then.
    bounds: ChainBounds,
}

/// Whether `event` is the `audit.pruned` event of the cut that left the chain's start
/// at `start`.
fn names_start(event: &AuditEvent, start: ChainLink) -> bool {
    let named = &event.payload["chain_start"];
    event.event == AuditEvent::AUDIT_PRUNED
        && named["position"].as_u64() == Some(start.position)
        && named["hash"].as_str() == Some(start.hash.to_string().as_str())
}

/// Why the chain could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain is broken: the first event found wrong.
    #[error(transparent)]
    Broken(#[from] ChainBreak),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// What a verification walked: how many events, from where to where, and what still
/// awaits its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedChain {
    /// Events checked.
    pub events: u64,
    /// The chain's recorded start and head (print the head to anchor it elsewhere).
    pub bounds: ChainBounds,
    /// Events committed but not linked yet (counted up to [`AWAITING_COUNTED`]): the
    /// linker's backlog, a few at most while a server runs.
    pub awaiting_link: u64,
    /// When the oldest of them was created: long ago means no linker ran since.
    pub oldest_awaiting: Option<Timestamp>,
}

/// Lists audit events, newest first, and verifies their chain.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::audit::AuditFilter;
/// use releasy_domain::pagination::PageRequest;
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
///
/// // A refused key check is recorded like an accepted one.
/// assert!(releasy.authenticator.authenticate(None).await.is_err());
/// let events = releasy.audit.list(&AuditFilter::default(), PageRequest::default()).await.unwrap();
/// assert_eq!(events[0].event, "api_key.auth");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AuditService {
    events: Arc<dyn AuditRepository>,
}

impl AuditService {
    /// A service over the audit repository.
    pub fn new(events: Arc<dyn AuditRepository>) -> Self {
        Self { events }
    }

    /// One page of events matching `filter`, newest first.
    ///
    /// # Errors
    /// [`RepoError`] when the repository failed.
    pub async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        self.events.list(filter, page).await
    }

    /// Links the events committed since the last call to the chain, in batches of
    /// [`LINK_BATCH`], until none are left (or a thousand batches are done). Returns how
    /// many it linked. The server calls it every few hundred milliseconds and once
    /// more as it stops.
    ///
    /// # Errors
    /// [`RepoError`]; the batches linked before it stay linked.
    pub async fn link_pending(&self) -> Result<u64, RepoError> {
        in_batches(LINK_BATCH, LINK_BATCHES_PER_CALL.into(), |batch| {
            self.events.link_pending(batch)
        })
        .await
    }

    /// Walks the whole stored chain, page by page, from its recorded start to its
    /// head as read when the walk begins, and fails on the first event altered, deleted
    /// or inserted; checks that a retention sweep moved the start where it is (an
    /// `audit.pruned` event names it), and that no event sits past the head read at
    /// the end. A walk that finds a gap where retention has since moved the start past
    /// it goes on from the new start. Events not linked yet are counted, not judged.
    ///
    /// # Errors
    /// [`VerifyError::Broken`] naming the first break, [`VerifyError::Repo`].
    pub async fn verify(&self) -> Result<VerifiedChain, VerifyError> {
        let mut attempt = 1;
        let (events, bounds) = loop {
            let bounds = self.events.chain_bounds().await?;
            let checked = match self.walk(bounds).await {
                Ok(walked) => Self::check_start_named(walked.bounds.start, walked.start_named)
                    .map(|()| (walked.events, walked.bounds)),
                Err(broken) => Err(broken),
            };
            let retry = match &checked {
                // Retention moved the start under the walk.
                Err(VerifyError::Broken(ChainBreak::Deleted { .. })) => {
                    self.events.chain_bounds().await?.start != bounds.start
                }
                // The start moved after the walk read it.
                Err(VerifyError::Broken(ChainBreak::StartNotPruned { .. })) => {
                    self.events.chain_bounds().await? != bounds
                }
                _ => false,
            };
            if retry && attempt < VERIFY_ATTEMPTS {
                attempt += 1;
                continue;
            }
            break checked?;
        };
        self.check_nothing_at_or_below(bounds.start).await?;
        self.check_nothing_past_head().await?;
        let awaiting = self.events.unchained(AWAITING_COUNTED).await?;
        // A cut links its own event, and no linker links one: an unlinked `audit.pruned`
        // row awaits nothing (it was slipped in, or an older server was killed right
        // after its cut, docs/security.md).
        if let Some(slipped) = awaiting
            .iter()
            .find(|e| e.event == AuditEvent::AUDIT_PRUNED)
        {
            return Err(ChainBreak::Inserted {
                event_id: slipped.id.to_string(),
                why: "an audit.pruned event is linked by its cut, and this one is not",
            }
            .into());
        }
        Ok(VerifiedChain {
            events,
            bounds,
            awaiting_link: awaiting.len() as u64,
            oldest_awaiting: awaiting.iter().map(|event| event.created_at).min(),
        })
    }

    /// Checks the chain from `bounds.start` to `bounds.head`: how many events, and
    /// whether one of them is the `audit.pruned` event naming `bounds.start`. A gap
    /// where retention has since moved the start past the walk (a sweep removing a
    /// backlog while the walk runs) is no deletion: the walk goes on from the new
    /// start, to the head read with it.
    async fn walk(&self, mut bounds: ChainBounds) -> Result<Walked, VerifyError> {
        let mut verifier = ChainVerifier::new(bounds);
        let mut start_named = false;
        let mut after = bounds.start.position;
        // The walk ends at the head read when it began: events linked since (the
        // server keeps writing while this runs) are the next walk's.
        'pages: while after < bounds.head.position {
            let page = self.events.chained_after(after, VERIFY_PAGE).await?;
            for chained in &page {
                let Some(link) = chained.link else {
                    return Err(ChainVerifier::half_linked(&chained.event).into());
                };
                if link.position > bounds.head.position {
                    break 'pages;
                }
                match verifier.check(&chained.event, link) {
                    Err(deleted @ ChainBreak::Deleted { .. }) => {
                        let now = self.events.chain_bounds().await?;
                        if now.start.position <= after {
                            return Err(deleted.into());
                        }
                        // Retention moved the start past this walk: start from there.
                        bounds = now;
                        verifier = ChainVerifier::new(bounds);
                        start_named = false;
                        after = bounds.start.position;
                        continue 'pages;
                    }
                    checked => checked?,
                }
                start_named |= names_start(&chained.event, bounds.start);
                after = link.position;
            }
            if page.len() < VERIFY_PAGE as usize {
                break;
            }
        }
        Ok(Walked {
            events: verifier.finish()?,
            start_named,
            bounds,
        })
    }

    /// Fails when `start` is not where the chain began nor named by an `audit.pruned`
    /// event in the chain after it: deleting the first events and moving the start over
    /// them needs no hash computed, so the start alone proves nothing; the event each
    /// retention batch records with its cut, linked in the cut's own transaction (on
    /// PostgreSQL too), does. Only a linked one counts: a row slipped in unlinked is no
    /// part of the chain, and no linker links an `audit.pruned` event.
    fn check_start_named(start: ChainLink, named_in_chain: bool) -> Result<(), VerifyError> {
        if start == ChainLink::START || named_in_chain {
            return Ok(());
        }
        Err(ChainBreak::StartNotPruned {
            position: start.position,
        }
        .into())
    }

    /// Fails when an event sits at or below `start`, where retention leaves none (it
    /// removes whole leading runs, and `start` only moves up): the walk, which begins
    /// above `start`, would not see it.
    async fn check_nothing_at_or_below(&self, start: ChainLink) -> Result<(), VerifyError> {
        match self.events.chained_at_or_below(start.position).await? {
            None => Ok(()),
            Some(event_id) => Err(ChainBreak::Inserted {
                event_id,
                why: "its position is at or below the chain's recorded start",
            }
            .into()),
        }
    }

    /// Fails when an event sits past the head. The head is read again after the event:
    /// the linker moves the head in the transaction that links, so a link it wrote is
    /// never past a head read later.
    async fn check_nothing_past_head(&self) -> Result<(), VerifyError> {
        let head = self.events.chain_bounds().await?.head;
        let Some(next) = self.events.chained_after(head.position, 1).await?.pop() else {
            return Ok(());
        };
        let head_now = self.events.chain_bounds().await?.head;
        match next.link {
            Some(link) if link.position <= head_now.position => Ok(()),
            _ => Err(ChainBreak::Inserted {
                event_id: next.event.id.to_string(),
                why: "its position is past the chain's recorded head",
            }
            .into()),
        }
    }

    /// Removes the events created before `cutoff` from the chain's start, in batches of
    /// [`PRUNE_BATCH`], until none is left (events recorded meanwhile are newer than
    /// `cutoff`, so the sweep ends however fast they arrive, and a trail that grows by
    /// more than any fixed number a sweep is still held to its retention); each batch
    /// records, in its own transaction, an `audit.pruned` event naming the new start.
    /// Returns how many it removed.
    ///
    /// # Errors
    /// [`RepoError`]; the batches removed before it are kept, each with its event.
    pub async fn prune(&self, cutoff: Timestamp, at: Timestamp) -> Result<u64, RepoError> {
        let record =
            |removed: u64, start: ChainLink| AuditEvent::audit_pruned(removed, cutoff, start, at);
        in_batches(PRUNE_BATCH, u64::MAX, |batch| {
            self.events.prune_before(cutoff, batch, &record)
        })
        .await
    }
}
