//! The SQLite adapter: deadpool pools of `SyncConnectionWrapper<SqliteConnection>`s with
//! per-connection pragmas (WAL, foreign keys, a busy timeout), one shared and one
//! connection of the batch writers' own, its migration runner, and the start of its
//! background checkpoints (`wal_checkpointer.rs`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use releasy_domain::ports::RepoError;

use crate::StoreError;
use crate::error::pool_error;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Set on every connection: writers wait for each other instead of failing (the busy
/// timeout, set first so that switching to WAL waits too), readers never block the
/// writer (WAL), and foreign keys are enforced.
pub(crate) const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
    PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Applies [`PRAGMAS`]. Switching a new database file to WAL needs it to itself and does
/// not wait on the busy timeout, so when several instances open a fresh file at once the
/// switch is retried for up to five seconds.
async fn set_pragmas(conn: &mut SqliteConn) -> Result<(), diesel::ConnectionError> {
    let mut attempts = 0;
    loop {
        match conn.batch_execute(PRAGMAS).await {
            Ok(()) => return Ok(()),
            Err(err) if attempts < 100 && err.to_string().contains("locked") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => return Err(diesel::ConnectionError::CouldntSetupConfiguration(err)),
        }
    }
}

/// A pool of up to `size` connections to `path`, each set up with [`PRAGMAS`].
fn build_pool(path: &str, size: usize) -> Result<Pool<SqliteConn>, StoreError> {
    let mut config = ManagerConfig::<SqliteConn>::default();
    config.custom_setup = Box::new(|url| {
        async move {
            let mut conn = SqliteConn::establish(url).await?;
            set_pragmas(&mut conn).await?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Pool(e.to_string()))
}

/// Repositories on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool<SqliteConn>,
    path: String,
    /// The one connection the batch writers (audit events, download tokens) write on,
    /// in turns. Two writers on separate connections would meet in SQLite's busy
    /// handler, which sleeps in steps of 1, 2, 5, 10 ms and more (the waiting batch's
    /// callers saw 20-35 ms); a pool of one hands the connection over at once. And
    /// SQLite empties a connection's page cache whenever another connection has
    /// committed since its last transaction: on a connection of their own, batches
    /// find the index pages the previous batch touched still in memory.
    batch_writer: Pool<SqliteConn>,
    in_memory: bool,
    /// Held while the background checkpointer runs; the thread stops once the last
    /// clone of this store has dropped it.
    checkpointer_alive: Arc<Mutex<Option<Arc<()>>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// A pool over the database file at `path` (created with its parent folders when
    /// missing), or over one in-memory database when `path` is `None`. An in-memory
    /// database lives in its one connection, so that pool holds exactly one.
    ///
    /// # Errors
    /// [`StoreError::Pool`] when the folder cannot be created or the pool built.
    pub fn open(path: Option<PathBuf>, max_connections: usize) -> Result<Self, StoreError> {
        let in_memory = path.is_none();
        let (path, max_connections) = match path {
            Some(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Pool(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                (path.to_string_lossy().into_owned(), max_connections)
            }
            None => (":memory:".to_owned(), 1),
        };
        let pool = build_pool(&path, max_connections)?;
        // An in-memory database exists only in the pool's one connection.
        let batch_writer = if in_memory {
            pool.clone()
        } else {
            build_pool(&path, 1)?
        };
        Ok(Self {
            pool,
            path,
            batch_writer,
            in_memory,
            checkpointer_alive: Arc::default(),
        })
    }

    /// Applies pending migrations on a pooled connection (the only one, for an
    /// in-memory database), inside one `BEGIN IMMEDIATE` transaction: instances starting
    /// together on one database file take turns, and the later ones find nothing left to
    /// apply (each migration's own transaction becomes a savepoint).
    ///
    /// # Errors
    /// [`StoreError::Migration`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.with_sync_connection(|conn| {
            conn.immediate_transaction(|conn| {
                conn.run_pending_migrations(MIGRATIONS)
                    .map(|_| ())
                    .map_err(diesel::result::Error::QueryBuilderError)
            })
            .map_err(Into::into)
        })
        .await
    }

    /// Reverts every migration (for the migration round-trip test).
    ///
    /// # Errors
    /// [`StoreError::Migration`] when a down migration fails.
    pub async fn revert_all_migrations(&self) -> Result<(), StoreError> {
        self.with_sync_connection(|conn| conn.revert_all_migrations(MIGRATIONS).map(|_| ()))
            .await
    }

    async fn with_sync_connection(
        &self,
        task: impl FnOnce(&mut SqliteConnection) -> diesel::migration::Result<()> + Send + 'static,
    ) -> Result<(), StoreError> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        conn.spawn_blocking(move |c| task(c).map_err(diesel::result::Error::QueryBuilderError))
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    pub(crate) async fn conn(&self) -> Result<Object<SqliteConn>, RepoError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Keeps the write-ahead log checkpointed from a thread and connection of their
    /// own (`wal_checkpointer.rs`), for as long as a clone of this store exists: back to
    /// back while the log grows, and after pauses that double up to `idle` once it has
    /// stopped. Without it a commit now and then copies a thousand pages into the
    /// database file and syncs it before it returns. Does nothing for an in-memory
    /// database, which has no log, or when the checkpointer already runs.
    ///
    /// # Errors
    /// The thread could not be started (a later call tries again).
    pub fn checkpoint_in_background(&self, idle: Duration) -> std::io::Result<()> {
        if self.in_memory {
            return Ok(());
        }
        let mut alive = self
            .checkpointer_alive
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if alive.is_some() {
            return Ok(());
        }
        let token = Arc::new(());
        crate::wal_checkpointer::start(self.path.clone(), idle, Arc::downgrade(&token))?;
        *alive = Some(token);
        Ok(())
    }

    /// Waits for the batch writers' connection (see `batch_writer`).
    pub(crate) async fn batch_writer_conn(&self) -> Result<Object<SqliteConn>, RepoError> {
        self.batch_writer.get().await.map_err(pool_error)
    }
}
