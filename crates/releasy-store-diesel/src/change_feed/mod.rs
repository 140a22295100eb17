//! The change feed: how a server instance hears that the cached tables changed, whoever
//! changed them.
//!
//! On PostgreSQL several instances share one database, and operators may write to it by
//! hand, so each instance's read cache must learn of writes it did not make itself.
//! Triggers (migration `change_notifications`) send each changed table's name on the
//! channel `releasy_changes` when the writing transaction commits; [`PgStore::watch_changes`]
//! listens on a dedicated connection and reports [`ChangeEvent`]s.
//!
//! A write that withdraws access also waits for a [`ChangeBarrier`] (`barrier.rs`):
//! every other listener confirms it has relayed the write before the write is answered.
//!
//! SQLite has no such feed, and needs none: an embedded database is served by one
//! process, so all of its writes are local ones.

mod barrier;

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::{FutureExt as _, StreamExt as _};
use releasy_domain::ports::{ErrorChain, RepoError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::PgStore;
use barrier::{ACK_CHANNEL, BARRIER_PREFIX, BackendPid, Waiting};
pub use barrier::{BarrierOutcome, ChangeBarrier};

/// The channel the migration's triggers notify.
const CHANNEL: &str = "releasy_changes";

/// Names the listener in `pg_stat_activity`, for operators (and tests) to find it.
const APPLICATION_NAME: &str = "releasy-change-feed";

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// How long an idle feed goes without proof that its listener still hears: a
/// notification of its own (a ping on a channel of its own) is sent this long after
/// the last notification heard.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// How long the feed waits to hear its own ping. Past it, the listener is deaf (a
/// half-open connection, a database cut off, a pooler that passes no notifications)
/// and the feed reports [`ChangeEvent::Lost`].
const PROBE_TIMEOUT: Duration = Duration::from_millis(1_200);

/// The longest a listener cut off without a word goes unnoticed: from the last
/// notification it heard to [`ChangeEvent::Lost`]. A barrier that waits longer than
/// this for a listener's answer outlasts the cache of an instance cut off right after
/// its last answer.
pub const LOSS_NOTICED_WITHIN: Duration = PROBE_INTERVAL.saturating_add(PROBE_TIMEOUT);

/// The longest the feed's connection and its `LISTEN`s may take.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(15);

/// What the change feed reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEvent {
    /// The feed is listening: every change committed from now on will be reported. Sent
    /// after (re)connecting, once the listener heard a notification of its own;
    /// changes made while it was not listening were missed, so a consumer should treat
    /// everything as changed.
    Listening,
    /// A statement changed this table (its SQL name, e.g. "customers").
    Changed(String),
    /// The feed lost its connection; changes are not reported until the next
    /// `Listening`.
    Lost,
}

/// The running change feed of [`PgStore::watch_changes`]; dropping it stops the feed.
#[derive(Debug)]
#[must_use = "dropping the handle stops the change feed"]
pub struct ChangeFeedHandle {
    /// Dropping this sender is the stop signal.
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    barrier: ChangeBarrier,
}

impl ChangeFeedHandle {
    /// Barriers whose answers this feed hears.
    #[must_use]
    pub fn barrier(&self) -> ChangeBarrier {
        self.barrier.clone()
    }

    /// Stops the feed and waits for its task to end. The connection is then closed in
    /// the background (by diesel-async's task that drives it), so its backend can stay
    /// in `pg_stat_activity` for a moment. Dropping the handle stops the feed too, without
    /// waiting.
    pub async fn stop(self) {
        let Self { stop, task, .. } = self;
        drop(stop);
        // A panic in the callback has already been reported by tokio; nothing to add.
        let _ = task.await;
    }
}

impl PgStore {
    /// Starts a background task that listens for changes to the cached tables on a
    /// dedicated connection (taken out of the pool for good) and calls `on_event` for each
    /// [`ChangeEvent`], starting with [`ChangeEvent::Listening`] once it listens.
    ///
    /// A lost connection is reported as [`ChangeEvent::Lost`] and re-established with
    /// backoff (100 ms, doubling, at most 5 s). An idle listener proves every half second
    /// that it still hears (a notification to itself, answered within 1.2 s), so a
    /// connection that died silently is reported lost within [`LOSS_NOTICED_WITHIN`]
    /// (1.7 s). Until the first
    /// `Listening`, changes are not reported either; a feed that stops (its handle
    /// dropped, or its task ended by a panic) reports `Lost` last. `on_event` runs on
    /// the feed's task, so it should return quickly.
    ///
    /// The listener appears in `pg_stat_activity` as `application_name`
    /// `releasy-change-feed`. It answers every [`ChangeBarrier`] it hears, once it has
    /// reported what came before. Must be called within a tokio runtime.
    pub fn watch_changes(
        &self,
        on_event: impl Fn(ChangeEvent) + Send + Sync + 'static,
    ) -> ChangeFeedHandle {
        let (stop, stopped) = oneshot::channel::<()>();
        let store = self.clone();
        let waiting = Arc::new(Waiting::default());
        let barrier = ChangeBarrier::new(self.clone(), waiting.clone());
        let task = tokio::spawn(async move {
            let feed = async {
                tokio::select! {
                    _ = stopped => {}
                    _ = run(&store, &on_event, &waiting) => {}
                }
            };
            let ended = AssertUnwindSafe(feed).catch_unwind().await;
            // A consumer must not go on trusting a feed that is gone, whatever ended it
            // (a panic in the callback itself, told again, is not made worse).
            let _told = std::panic::catch_unwind(AssertUnwindSafe(|| on_event(ChangeEvent::Lost)));
            if let Err(panic) = ended {
                std::panic::resume_unwind(panic);
            }
        });
        ChangeFeedHandle {
            stop,
            task,
            barrier,
        }
    }
}

/// Why the feed is not (or no longer) listening.
#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("cannot connect: {}", ErrorChain(.0))]
    Connect(RepoError),
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
    #[error("no notification heard within {PROBE_TIMEOUT:?} of its ping")]
    LivenessTimeout,
    #[error("connecting and listening took more than {LISTEN_TIMEOUT:?}")]
    ListenTimeout,
    #[error("the statement did not finish within {PROBE_TIMEOUT:?}")]
    StatementTimeout,
    #[error(
        "the listener did not hear its own notification within {PROBE_TIMEOUT:?} (a connection pooler in transaction mode passes no notifications: the change feed needs a direct connection or session pooling)"
    )]
    Deaf,
    #[error("the connection closed")]
    Closed,
}

/// Listens, relays and reconnects until the task is stopped.
async fn run(
    store: &PgStore,
    on_event: &(impl Fn(ChangeEvent) + Send + Sync),
    waiting: &Waiting,
) -> Infallible {
    let mut retry_delay = FIRST_RETRY_DELAY;
    let mut was_lost = false;
    let mut failed_attempts: u32 = 0;
    loop {
        let listened = tokio::time::timeout(LISTEN_TIMEOUT, listen(store))
            .await
            .unwrap_or(Err(FeedError::ListenTimeout));
        let failure = match listened {
            Ok((mut conn, own_pid)) => {
                waiting.connected(own_pid);
                let relayed = relay(&mut conn, own_pid, on_event, waiting, was_lost).await;
                if relayed.listened {
                    tracing::warn!(
                        error = %relayed.error,
                        "change feed lost its connection; other writers' changes go unnoticed until it reconnects"
                    );
                    on_event(ChangeEvent::Lost);
                    was_lost = true;
                    retry_delay = FIRST_RETRY_DELAY;
                    failed_attempts = 0;
                    None
                } else {
                    Some(relayed.error)
                }
            }
            Err(err) => Some(err),
        };
        if let Some(err) = failure {
            failed_attempts += 1;
            // One warning per outage; the retries that follow are only worth a debug line.
            if failed_attempts == 1 {
                tracing::warn!(error = %err, "change feed cannot listen; retrying");
            } else {
                tracing::debug!(error = %err, failed_attempts, "change feed still cannot listen");
            }
        }
        tokio::time::sleep(retry_delay).await;
        retry_delay = (retry_delay * 2).min(MAX_RETRY_DELAY);
    }
}

/// A dedicated connection that listens on [`CHANNEL`], [`ACK_CHANNEL`] and its own
/// [`ping_channel`], and its backend's pid (which names its answers to barriers and its
/// ping channel). It is taken out of the pool for good (the pool may open another in
/// its place). It names itself a listener (`application_name`, which barriers look
/// for) only once its `LISTEN`s took effect, so no barrier waits for a listener that
/// cannot hear it yet.
async fn listen(store: &PgStore) -> Result<(AsyncPgConnection, i32), FeedError> {
    let mut conn = store.conn().await.map_err(FeedError::Connect)?.detach();
    let backend: BackendPid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut conn)
        .await?;
    conn.batch_execute(&format!(
        "LISTEN {CHANNEL}; LISTEN {ACK_CHANNEL}; LISTEN {}",
        ping_channel(backend.pid)
    ))
    .await?;
    // The database drops this session within about 25 s of its client going silent (a
    // host that crashed, a partition), not after the minutes of TCP's defaults: until
    // then barriers find it in `pg_stat_activity` and every withdrawal waits its whole
    // bound for it. Keepalives cover an idle link; `tcp_user_timeout` (PostgreSQL 12 and
    // later, left alone where unknown) one with data unanswered. Only a help: a server
    // that refuses them still gets a listener.
    let keepalives = conn
        .batch_execute(
            "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; \
             SET tcp_keepalives_count = 3; \
             DO $$ BEGIN PERFORM set_config('tcp_user_timeout', '15000', false); \
             EXCEPTION WHEN undefined_object THEN NULL; END $$",
        )
        .await;
    conn.batch_execute(&format!("SET application_name = '{APPLICATION_NAME}'"))
        .await?;
    // Said only once the connection proved to work: a lost one is reported as such.
    if let Err(err) = keepalives {
        tracing::warn!(
            error = %err,
            "the change feed's listener could not ask for TCP keepalives; a silent \
             instance's listener is then dropped only when TCP gives up"
        );
    }
    Ok((conn, backend.pid))
}

/// The channel only the listener of backend `pid` listens on: its pings.
fn ping_channel(pid: i32) -> String {
    format!("releasy_feed_{pid}")
}

/// What one notification asks of the feed.
enum Heard {
    /// Nothing more than relaying it (done already), or nothing at all.
    Relayed,
    /// A barrier: answer it, now that what came before it has been relayed.
    Barrier(String),
}

/// Relays one notification: table changes to `on_event`, answers to `waiting`.
fn hear(
    channel: &str,
    payload: String,
    on_event: &(impl Fn(ChangeEvent) + Send + Sync),
    waiting: &Waiting,
) -> Heard {
    if channel == CHANNEL {
        if let Some(token) = payload.strip_prefix(BARRIER_PREFIX) {
            return Heard::Barrier(token.to_owned());
        }
        on_event(ChangeEvent::Changed(payload));
    } else if channel == ACK_CHANNEL {
        waiting.answered(&payload);
    }
    Heard::Relayed
}

/// How a listening connection ended.
struct Relayed {
    error: FeedError,
    /// Whether the feed reported [`ChangeEvent::Listening`] on it.
    listened: bool,
}

/// Proves the listener hears (its own ping), reports [`ChangeEvent::Listening`], then
/// relays notifications, pinging itself whenever nothing was heard for
/// [`PROBE_INTERVAL`], until the connection fails or goes deaf. `reconnected`: an
/// earlier connection was lost (worth saying when this one listens).
async fn relay(
    conn: &mut AsyncPgConnection,
    own_pid: i32,
    on_event: &(impl Fn(ChangeEvent) + Send + Sync),
    waiting: &Waiting,
    reconnected: bool,
) -> Relayed {
    let pings = ping_channel(own_pid);
    let mut listening = None;
    let ended = |error, listening: &Option<_>| Relayed {
        error,
        listened: listening.is_some(),
    };
    // The first ping is sent at once: until it is heard, the feed does not listen.
    let mut next_ping = Instant::now();
    let mut answer_due: Option<Instant> = None;
    loop {
        let wake_at = answer_due.unwrap_or(next_ping);
        let heard = {
            // The stream borrows the connection, so it is made anew after each statement
            // of the feed's own; notifications arriving meanwhile wait in the
            // connection's queue.
            let mut notifications = pin!(conn.notifications_stream());
            tokio::select! {
                notification = notifications.next() => match notification {
                    Some(Ok(notification)) => Some(notification),
                    Some(Err(err)) => return ended(err.into(), &listening),
                    None => return ended(FeedError::Closed, &listening),
                },
                () = tokio::time::sleep_until(wake_at) => None,
            }
        };
        // Each turn sends at most one notification of the feed's own: `(channel, payload)`.
        let (channel, payload) = match heard {
            Some(notification) => {
                // Any notification proves the listener hears.
                answer_due = None;
                next_ping = Instant::now() + PROBE_INTERVAL;
                if listening.is_none() {
                    listening = Some(waiting.listening());
                    if reconnected {
                        tracing::info!("change feed listening again");
                    } else {
                        tracing::debug!("change feed listening");
                    }
                    on_event(ChangeEvent::Listening);
                }
                if notification.channel == pings {
                    continue;
                }
                match hear(
                    &notification.channel,
                    notification.payload,
                    on_event,
                    waiting,
                ) {
                    Heard::Relayed => continue,
                    Heard::Barrier(token) => (ACK_CHANNEL.to_owned(), format!("{token} {own_pid}")),
                }
            }
            None if answer_due.is_some() => {
                let error = if listening.is_some() {
                    FeedError::LivenessTimeout
                } else {
                    FeedError::Deaf
                };
                return ended(error, &listening);
            }
            None => {
                answer_due = Some(Instant::now() + PROBE_TIMEOUT);
                (pings.clone(), "ping".to_owned())
            }
        };
        let notify = diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(channel)
            .bind::<Text, _>(payload)
            .execute(conn);
        match tokio::time::timeout(PROBE_TIMEOUT, notify).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => return ended(err.into(), &listening),
            Err(_) => return ended(FeedError::StatementTimeout, &listening),
        }
    }
}
