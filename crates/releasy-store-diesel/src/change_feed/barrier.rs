//! Barriers: a write that withdraws access is answered only once every other
//! instance's cache has heard of it.
//!
//! PostgreSQL delivers each listener its notifications in commit order. A barrier is
//! one more notification on the feed's channel, `barrier:<token>`, sent after the
//! write committed: a listener that receives it has already relayed the write's own
//! notifications to its cache, and answers `<token> <its backend pid>` on
//! [`ACK_CHANNEL`]. The instance that sent the barrier hears the answers on its own
//! feed and returns once every listener `pg_stat_activity` shows on this database has
//! answered or is gone (an instance killed mid-wait cannot answer, and needs not: its
//! cache died with it). A listener that connects after the barrier was sent starts
//! with an empty cache, so it is not waited for either.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use releasy_domain::ports::RepoError;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

use super::APPLICATION_NAME;
use crate::PgStore;
use crate::error::query_error;

/// What starts a barrier's payload on the feed's channel; table names never do.
pub(super) const BARRIER_PREFIX: &str = "barrier:";

/// The channel listeners answer barriers on.
pub(super) const ACK_CHANNEL: &str = "releasy_change_acks";

/// How often the listeners still awaited are looked up again, to stop waiting for one
/// that went away.
const RECHECK_INTERVAL: Duration = Duration::from_millis(100);

/// What a barrier found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierOutcome {
    /// Every listener on the database answered (this instance's own among them).
    Confirmed {
        /// How many listeners there were when the barrier was sent.
        listeners: usize,
    },
    /// Time ran out first.
    Unconfirmed {
        /// How many listeners had not answered.
        missing: usize,
    },
    /// This feed does not listen (starting, or reconnecting), so it could hear no
    /// answer: it waited out the bound when other listeners were there.
    NotListening {
        /// The other listeners on the database.
        others: usize,
    },
}

/// Sends barriers and waits for their answers; made by
/// [`ChangeFeedHandle::barrier`](super::ChangeFeedHandle::barrier), and only as useful
/// as that feed: while it is not listening, no answer arrives.
#[derive(Debug, Clone)]
pub struct ChangeBarrier {
    store: PgStore,
    waiting: Arc<Waiting>,
}

impl ChangeBarrier {
    pub(super) fn new(store: PgStore, waiting: Arc<Waiting>) -> Self {
        Self { store, waiting }
    }

    /// Returns once every listener on the database has relayed what was committed
    /// before this call, or when `within` has passed, whatever held it up (a pool with
    /// no connection to spare, a database that stopped answering). While this feed does
    /// not listen, it waits out `within` when other listeners are there, and returns at
    /// once when none are ([`BarrierOutcome::NotListening`]).
    ///
    /// # Errors
    /// When the database cannot be reached (or did not answer within `within`) to send
    /// the barrier or look up listeners.
    pub async fn confirm(&self, within: Duration) -> Result<BarrierOutcome, RepoError> {
        let deadline = Instant::now() + within;
        if !self.waiting.is_listening() {
            return self.wait_out_without_listening(deadline, within).await;
        }
        let mut awaited = None;
        match tokio::time::timeout_at(deadline, self.wait_for_answers(deadline, &mut awaited)).await
        {
            Ok(outcome) => outcome,
            Err(_) => match awaited {
                Some(awaited) => Ok(BarrierOutcome::Unconfirmed {
                    missing: awaited.len(),
                }),
                None => Err(RepoError::unavailable(format!(
                    "the database did not take the barrier within {within:?}"
                ))),
            },
        }
    }

    /// [`Self::confirm`] while this feed does not listen: no answer could be heard, but
    /// the other listeners may still hold what the write changed (they drop it when its
    /// notification reaches them, or stop serving from memory once cut off, within
    /// 1.7 s), so the write waits out the bound, as for a listener that does not answer.
    /// This feed's own latest listener is not counted: a stopped feed's connection is
    /// closed in the background, so its backend can stay in `pg_stat_activity` for a
    /// moment. (Should PostgreSQL give that pid to another instance's listener later,
    /// the count is one short.)
    async fn wait_out_without_listening(
        &self,
        deadline: Instant,
        within: Duration,
    ) -> Result<BarrierOutcome, RepoError> {
        let looked_up = tokio::time::timeout_at(deadline, async {
            let mut conn = self.store.conn().await?;
            listeners(&mut conn).await
        })
        .await;
        let mut others = looked_up.map_err(|_| {
            RepoError::unavailable(format!(
                "the database did not list its listeners within {within:?}"
            ))
        })??;
        let last_own = self.waiting.last_own_pid();
        others.retain(|pid| Some(*pid) != last_own);
        if !others.is_empty() {
            // No connection is held while waiting.
            tokio::time::sleep_until(deadline).await;
        }
        Ok(BarrierOutcome::NotListening {
            others: others.len(),
        })
    }

    /// [`Self::confirm`] without its bound; `awaited` holds the listeners not heard
    /// from yet, once they were looked up.
    async fn wait_for_answers(
        &self,
        deadline: Instant,
        awaited: &mut Option<HashSet<i32>>,
    ) -> Result<BarrierOutcome, RepoError> {
        let token = Uuid::new_v4();
        let registered = self.waiting.register(token);
        let waiter = &registered.waiter;
        let listening = {
            let mut conn = self.store.conn().await?;
            let listening = listeners(&mut conn).await?;
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(super::CHANNEL)
                .bind::<Text, _>(format!("{BARRIER_PREFIX}{token}"))
                .execute(&mut conn)
                .await
                .map_err(query_error)?;
            listening
        };
        let listeners_then = listening.len();
        let awaited = awaited.insert(listening);
        loop {
            awaited.retain(|pid| !waiter.has_answered(*pid));
            if awaited.is_empty() {
                return Ok(BarrierOutcome::Confirmed {
                    listeners: listeners_then,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(BarrierOutcome::Unconfirmed {
                    missing: awaited.len(),
                });
            }
            let wait = RECHECK_INTERVAL.min(deadline - now);
            if tokio::time::timeout(wait, waiter.answer.notified())
                .await
                .is_err()
            {
                // Answers keep arriving on the feed while a lookup fails: keep waiting.
                match self.live_listeners().await {
                    Ok(live) => awaited.retain(|pid| live.contains(pid)),
                    Err(err) => {
                        tracing::debug!(error = %err, "could not look up the change feed's listeners")
                    }
                }
            }
        }
    }

    async fn live_listeners(&self) -> Result<HashSet<i32>, RepoError> {
        let mut conn = self.store.conn().await?;
        listeners(&mut conn).await
    }
}

/// The backend pids of the change-feed listeners on this database.
async fn listeners(conn: &mut AsyncPgConnection) -> Result<HashSet<i32>, RepoError> {
    let rows: Vec<BackendPid> = diesel::sql_query(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind::<Text, _>(APPLICATION_NAME)
    .load(conn)
    .await
    .map_err(query_error)?;
    Ok(rows.into_iter().map(|row| row.pid).collect())
}

/// A PostgreSQL backend's process id, as `pg_stat_activity` and `pg_backend_pid()`
/// name it.
#[derive(QueryableByName)]
pub(super) struct BackendPid {
    #[diesel(sql_type = Integer)]
    pub(super) pid: i32,
}

/// The barriers this instance waits on, which its feed hands the answers to.
#[derive(Debug, Default)]
pub(super) struct Waiting {
    barriers: Mutex<HashMap<Uuid, Arc<Waiter>>>,
    /// Whether the feed listens, and so can hear answers.
    listening: AtomicBool,
    /// The backend pid of the feed's latest listening connection (0: none yet).
    own_pid: AtomicI32,
}

impl Waiting {
    /// Notes the backend of the feed's new listening connection, as soon as it
    /// listens (before the feed reports it).
    pub(super) fn connected(&self, own_pid: i32) {
        self.own_pid.store(own_pid, Ordering::Release);
    }

    /// Marks the feed listening until the guard is dropped (the connection failed, or
    /// the feed was stopped).
    pub(super) fn listening(&self) -> ListeningGuard<'_> {
        self.listening.store(true, Ordering::Release);
        ListeningGuard(self)
    }

    fn is_listening(&self) -> bool {
        AtomicBool::load(&self.listening, Ordering::Acquire)
    }

    fn last_own_pid(&self) -> Option<i32> {
        Some(AtomicI32::load(&self.own_pid, Ordering::Acquire)).filter(|pid| *pid != 0)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<Waiter>>> {
        self.barriers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(self: &Arc<Self>, token: Uuid) -> Registered {
        let waiter = Arc::new(Waiter::default());
        self.lock().insert(token, waiter.clone());
        Registered {
            waiting: self.clone(),
            token,
            waiter,
        }
    }

    /// An answer heard on [`ACK_CHANNEL`]: `<token> <pid>`. Answers to other
    /// instances' barriers (every listener hears every answer) are ignored.
    pub(super) fn answered(&self, payload: &str) {
        let Some((token, pid)) = payload.split_once(' ') else {
            return;
        };
        let (Ok(token), Ok(pid)) = (token.parse::<Uuid>(), pid.parse::<i32>()) else {
            return;
        };
        if let Some(waiter) = self.lock().get(&token) {
            waiter
                .answered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(pid);
            waiter.answer.notify_one();
        }
    }
}

/// See [`Waiting::listening`].
pub(super) struct ListeningGuard<'a>(&'a Waiting);

impl Drop for ListeningGuard<'_> {
    fn drop(&mut self) {
        self.0.listening.store(false, Ordering::Release);
    }
}

/// One barrier's answers so far.
#[derive(Debug, Default)]
struct Waiter {
    answered: Mutex<HashSet<i32>>,
    /// Woken at each answer (a permit is kept when nobody waits yet).
    answer: Notify,
}

impl Waiter {
    fn has_answered(&self, pid: i32) -> bool {
        self.answered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&pid)
    }
}

/// A barrier being waited on; dropping it (the wait ended, or was cancelled) forgets it.
struct Registered {
    waiting: Arc<Waiting>,
    token: Uuid,
    waiter: Arc<Waiter>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.waiting.lock().remove(&self.token);
    }
}
