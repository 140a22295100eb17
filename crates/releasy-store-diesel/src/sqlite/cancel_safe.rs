//! SQLite connections that a caller may abandon mid-statement.
//!
//! diesel-async's `SyncConnectionWrapper` runs each statement on a blocking thread. With
//! its stock tokio runtime, a future dropped while its statement runs blocks the
//! dropping thread until the statement ends (`block_in_place`), which panics on a
//! current-thread runtime such as each of actix-web's workers. So any request that was
//! cancelled (a client hanging up, a sibling extractor failing) while a SQLite query ran
//! took its worker down.
//!
//! Here a statement whose caller went away simply finishes on its blocking thread and
//! its result is dropped. A connection dropped while a statement of its runs, or inside
//! a transaction, is not handed out again as it is (`crate::pooled`): once the
//! statement ends, a transaction left open is rolled back (freeing the write lock) and
//! the connection returns to the pool. (The pool's recycle step still waits for running
//! statements and discards a connection inside a transaction, should one come back
//! another way.)

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use diesel::SqliteConnection;
use diesel_async::SimpleAsyncConnection;
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, TryFutureExt};
use tokio::sync::Notify;

use super::PRAGMAS;

/// A SQLite connection usable from async code, whose statements run on blocking
/// threads that are never waited for on drop.
pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection, Detached>;

/// Counts the statements of one connection still running on blocking threads.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    running: AtomicUsize,
    finished: Notify,
}

impl InFlight {
    /// Waits until no statement of the connection is running.
    async fn idle(&self) {
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            // Registered before the check, so a statement ending in between is seen.
            finished.as_mut().enable();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            finished.await;
        }
    }
}

/// Marks a statement finished when dropped: after the statement's closure (and the
/// connection handle it holds) is gone, and also when the statement panicked.
struct Finished(Arc<InFlight>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.finished.notify_waiters();
    }
}

/// The blocking-thread runtime of one connection: tokio's blocking pool, with the
/// connection's statements counted in [`InFlight`].
pub(crate) struct Detached {
    runtime: tokio::runtime::Handle,
    in_flight: Arc<InFlight>,
}

impl SpawnBlocking for Detached {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        self.in_flight.running.fetch_add(1, Ordering::AcqRel);
        let finished = Finished(self.in_flight.clone());
        // The statement runs under the span that asked for it (a request's): its log
        // lines and its trace span belong to that request, not to a blocking thread.
        let caller = tracing::Span::current();
        self.runtime
            .spawn_blocking(move || {
                let _entered = caller.enter();
                let result = task();
                drop(finished);
                result
            })
            .map_err(Box::from)
            .boxed()
    }

    fn get_runtime() -> Self {
        // Only reached through `SyncConnectionWrapper::new`/`establish`, which this
        // crate does not use: connections are made by `Manager::create`.
        Self {
            runtime: tokio::runtime::Handle::current(),
            in_flight: Arc::default(),
        }
    }
}

/// A pooled connection with its statement counter.
pub(crate) struct TrackedConn {
    conn: SqliteConn,
    in_flight: Arc<InFlight>,
}

/// A connection checked out of a [`Manager`]'s pool.
pub(crate) type PooledConn = crate::pooled::Pooled<Manager>;

impl crate::pooled::ConnectionPool for Manager {
    type Conn = SqliteConn;

    fn connection(object: &TrackedConn) -> &SqliteConn {
        &object.conn
    }

    fn connection_mut(object: &mut TrackedConn) -> &mut SqliteConn {
        &mut object.conn
    }

    /// A statement still running means its caller went away mid-way; and only once
    /// none runs may the transaction state be read (the statement shares the
    /// connection until it ends).
    fn left_mid_transaction(object: &mut TrackedConn) -> bool {
        object.in_flight.running.load(Ordering::Acquire) > 0 || object.conn.is_broken()
    }

    /// Waits, off the caller's path, for the statement still running, then rolls back
    /// a transaction left open and hands the connection back to the pool; one that
    /// cannot be rolled back is closed. (Closing at once would lose an in-memory
    /// database, which lives in its one connection.)
    fn abandoned(mut object: deadpool::managed::Object<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime left: dropped, the pool's recycling check decides
        };
        runtime.spawn(async move {
            object.in_flight.idle().await;
            if object.conn.is_broken() {
                use diesel_async::TransactionManager;
                type Transactions =
                    <SqliteConn as diesel_async::AsyncConnection>::TransactionManager;
                let rolled_back = Transactions::rollback_transaction(&mut object.conn).await;
                if rolled_back.is_err() || object.conn.is_broken() {
                    tracing::debug!("closing a connection left inside a transaction");
                    drop(deadpool::managed::Object::take(object));
                }
            }
        });
    }
}

/// Runs `work` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front
/// rather than by upgrading a read lock mid-transaction (an upgrade can fail with
/// `SQLITE_BUSY` at once, without the busy timeout). Commits when `work` succeeds,
/// rolls back otherwise. (diesel-async offers this only for its stock runtime.)
pub(crate) async fn immediate_transaction<R, E, F>(conn: &mut SqliteConn, work: F) -> Result<R, E>
where
    F: AsyncFnOnce(&mut SqliteConn) -> Result<R, E>,
    E: From<diesel::result::Error>,
{
    conn.spawn_blocking(|conn| {
        diesel::connection::AnsiTransactionManager::begin_transaction_sql(conn, "BEGIN IMMEDIATE")
    })
    .await?;
    crate::transaction::commit_or_roll_back(conn, work).await
}

/// Makes connections to one database file (or `:memory:`) with [`PRAGMAS`] applied,
/// and takes them back only once their statements have finished.
#[derive(Debug)]
pub(crate) struct Manager {
    path: String,
}

impl Manager {
    pub(crate) fn new(path: String) -> Self {
        Self { path }
    }

    /// Applies the pragmas. Switching a new database file to WAL needs it to itself and
    /// does not wait on the busy timeout, so when several instances open a fresh file at
    /// once the switch is retried for up to five seconds.
    async fn set_pragmas(&self, conn: &mut SqliteConn) -> Result<(), diesel::ConnectionError> {
        let mut attempts = 0;
        loop {
            match conn.batch_execute(PRAGMAS).await {
                Ok(()) => return Ok(()),
                Err(err) if attempts < 100 && err.to_string().contains("locked") => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => {
                    return Err(diesel::ConnectionError::CouldntSetupConfiguration(err));
                }
            }
        }
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = TrackedConn;
    type Error = diesel::ConnectionError;

    async fn create(&self) -> Result<TrackedConn, diesel::ConnectionError> {
        let path = self.path.clone();
        let raw = tokio::task::spawn_blocking(move || {
            let mut raw = <SqliteConnection as diesel::Connection>::establish(&path)?;
            crate::repos::register_fold_case(&mut raw)
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok::<_, diesel::ConnectionError>(raw)
        })
        .await
        .map_err(|err| diesel::ConnectionError::BadConnection(err.to_string()))??;
        let in_flight = Arc::<InFlight>::default();
        let mut conn = SqliteConn::with_runtime(
            raw,
            Detached {
                runtime: tokio::runtime::Handle::current(),
                in_flight: in_flight.clone(),
            },
        );
        self.set_pragmas(&mut conn).await?;
        Ok(TrackedConn { conn, in_flight })
    }

    async fn recycle(
        &self,
        tracked: &mut TrackedConn,
        _: &Metrics,
    ) -> RecycleResult<diesel::ConnectionError> {
        // A statement abandoned by its caller may still be running.
        tracked.in_flight.idle().await;
        // Left inside a transaction (its caller went away between BEGIN and COMMIT):
        // discard it; closing the connection rolls the transaction back.
        if tracked.conn.is_broken() {
            return Err(RecycleError::message(
                "connection left inside a transaction",
            ));
        }
        Ok(())
    }
}
