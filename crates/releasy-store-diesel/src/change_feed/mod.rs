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
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt as _;
use releasy_domain::ports::RepoError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::PgStore;
use barrier::{ACK_CHANNEL, BARRIER_PREFIX, BackendPid, Waiting};
pub use barrier::{BarrierOutcome, ChangeBarrier};

/// The channel the migration's triggers notify.
const CHANNEL: &str = "releasy_changes";

/// Names the listener in `pg_stat_activity`, for operators (and tests) to find it.
const APPLICATION_NAME: &str = "releasy-change-feed";

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// An idle connection is checked this often; a connection that died silently would
/// otherwise leave the feed deaf without ever reporting `Lost`.
const LIVENESS_INTERVAL: Duration = Duration::from_secs(10);

/// A half-open connection never answers, so its liveness check has to give up.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(5);

/// What the change feed reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEvent {
    /// The feed is listening: every change committed from now on will be reported. Sent
    /// after (re)connecting; changes made while it was not listening were missed, so a
    /// consumer should treat everything as changed.
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
    /// backoff (100 ms, doubling, at most 5 s); an idle connection is checked every 10 s.
    /// Until the first `Listening`, changes are not reported either. `on_event` runs on
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
            tokio::select! {
                _ = stopped => {}
                _ = run(&store, &on_event, &waiting) => {}
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
    #[error("cannot connect: {}", with_sources(.0))]
    Connect(RepoError),
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
    #[error("no answer to the liveness check within {LIVENESS_TIMEOUT:?}")]
    LivenessTimeout,
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
        match listen(store).await {
            Ok((mut conn, own_pid)) => {
                waiting.connected(own_pid);
                if was_lost {
                    tracing::info!("change feed listening again");
                } else {
                    tracing::debug!("change feed listening");
                }
                retry_delay = FIRST_RETRY_DELAY;
                failed_attempts = 0;
                on_event(ChangeEvent::Listening);
                let listening = waiting.listening();
                let err = relay(&mut conn, own_pid, on_event, waiting).await;
                drop(listening);
                tracing::warn!(
                    error = %err,
                    "change feed lost its connection; other writers' changes go unnoticed until it reconnects"
                );
                on_event(ChangeEvent::Lost);
                was_lost = true;
            }
            Err(err) => {
                failed_attempts += 1;
                // One warning per outage; the retries that follow are only worth a debug line.
                if failed_attempts == 1 {
                    tracing::warn!(error = %err, "change feed cannot listen; retrying");
                } else {
                    tracing::debug!(error = %err, failed_attempts, "change feed still cannot listen");
                }
            }
        }
        tokio::time::sleep(retry_delay).await;
        retry_delay = (retry_delay * 2).min(MAX_RETRY_DELAY);
    }
}

/// A dedicated connection that listens on [`CHANNEL`] and [`ACK_CHANNEL`], and its
/// backend's pid (which names its answers to barriers). It is taken out of the pool for
/// good (the pool may open another in its place), which bounds the wait for it by the
/// pool's timeouts.
async fn listen(store: &PgStore) -> Result<(AsyncPgConnection, i32), FeedError> {
    let mut conn = store.conn().await.map_err(FeedError::Connect)?.detach();
    conn.batch_execute(&format!(
        "SET application_name = '{APPLICATION_NAME}'; LISTEN {CHANNEL}; LISTEN {ACK_CHANNEL}"
    ))
    .await?;
    let backend: BackendPid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut conn)
        .await?;
    Ok((conn, backend.pid))
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

/// Reports notifications until the connection fails; returns why it did.
async fn relay(
    conn: &mut AsyncPgConnection,
    own_pid: i32,
    on_event: &(impl Fn(ChangeEvent) + Send + Sync),
    waiting: &Waiting,
) -> FeedError {
    let mut liveness =
        tokio::time::interval_at(Instant::now() + LIVENESS_INTERVAL, LIVENESS_INTERVAL);
    liveness.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let barrier = {
            // The stream borrows the connection, so it is made anew after each statement
            // of the feed's own; notifications arriving meanwhile wait in the
            // connection's queue.
            let mut notifications = pin!(conn.notifications_stream());
            tokio::select! {
                notification = notifications.next() => {
                    match notification {
                        Some(Ok(notification)) => {
                            // Traffic proves the connection alive.
                            liveness.reset();
                            match hear(&notification.channel, notification.payload, on_event, waiting) {
                                Heard::Relayed => continue,
                                Heard::Barrier(token) => Some(token),
                            }
                        }
                        Some(Err(err)) => return err.into(),
                        None => return FeedError::Closed,
                    }
                }
                _ = liveness.tick() => None,
            }
        };
        let statement = match barrier {
            Some(token) => diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(ACK_CHANNEL)
                .bind::<Text, _>(format!("{token} {own_pid}"))
                .execute(conn),
            None => diesel::sql_query("SELECT 1").execute(conn),
        };
        match tokio::time::timeout(LIVENESS_TIMEOUT, statement).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => return err.into(),
            Err(_) => return FeedError::LivenessTimeout,
        }
    }
}

/// `err` and its causes, for the log: a [`RepoError`] alone says only "unavailable".
fn with_sources(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
