//! The SQLite adapter: deadpool pools of `SyncConnectionWrapper<SqliteConnection>`s
//! that are safe to abandon mid-statement (`cancel_safe.rs`), with per-connection pragmas
//! (WAL, foreign keys, a busy timeout); one shared pool and one connection of the batch
//! writers' own; its migration runner, and the start of its background checkpoints
//! (`wal_checkpointer.rs`).

mod backup;
mod cancel_safe;
mod lock_wait;
mod partial_copy;

pub use backup::{BackupError, BackupReport, backup_sqlite};
pub use partial_copy::remove_backups_in_progress;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool::managed::Pool;
use diesel::RunQueryDsl as _;
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use releasy_domain::ports::RepoError;

pub(crate) use cancel_safe::{PooledConn, SqliteConn, immediate_transaction};
pub use lock_wait::MIGRATION_LOCK_WAIT;
pub(crate) use lock_wait::while_locked;

use crate::error::{SetupError, pool_error};
use crate::migration_state::{AppliedVersion, BOOKKEEPING_TABLE, unapplied};
use crate::pool_stats::{PoolStats, PoolWaits};
use cancel_safe::Manager;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Set on every connection: writers wait for each other instead of failing (the busy
/// timeout, set first so that switching to WAL waits too), readers never block the
/// writer (WAL), and foreign keys are enforced.
pub(crate) const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
    PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// [`PRAGMAS`]' busy timeout alone, to put back on a connection that waited longer.
const POOL_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 5000;";

/// A pool of up to `size` connections to `path`, each set up with [`PRAGMAS`].
fn build_pool(path: &str, size: usize) -> Result<Pool<Manager>, SetupError> {
    Pool::builder(Manager::new(path.to_owned()))
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(SetupError::Pool)
}

/// Repositories on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool<Manager>,
    waits: PoolWaits,
    path: String,
    /// The one connection the batch writers (audit events, download tokens) write on,
    /// in turns. Two writers on separate connections would meet in SQLite's busy
    /// handler, which sleeps in steps of 1, 2, 5, 10 ms and more (the waiting batch's
    /// callers saw 20-35 ms); a pool of one hands the connection over at once. And
    /// SQLite empties a connection's page cache whenever another connection has
    /// committed since its last transaction: on a connection of their own, batches
    /// find the index pages the previous batch touched still in memory.
    batch_writer: Pool<Manager>,
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
    /// [`SetupError`] when the folder cannot be created or the pool built.
    pub fn open(path: Option<PathBuf>, max_connections: usize) -> Result<Self, SetupError> {
        let in_memory = path.is_none();
        let (path, max_connections) = match path {
            Some(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| SetupError::CreateFolder {
                        path: parent.to_owned(),
                        source,
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
            waits: PoolWaits::default(),
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
    /// Returns the versions of the migrations it applied, oldest first.
    ///
    /// # Errors
    /// [`SetupError::Migration`] when a migration fails.
    pub async fn migrate(&self) -> Result<Vec<String>, SetupError> {
        self.with_sync_connection(|conn| {
            // Another instance's migrations (an index rebuilt over millions of audit
            // rows) outlast the pool's busy timeout: wait for them, then put the
            // connection's own timeout back before it returns to the pool.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {}",
                MIGRATION_LOCK_WAIT.as_millis()
            ))?;
            let applied = conn.immediate_transaction(|conn| {
                conn.run_pending_migrations(MIGRATIONS)
                    .map(|applied| applied.iter().map(ToString::to_string).collect())
                    .map_err(diesel::result::Error::QueryBuilderError)
            });
            let restored = conn.batch_execute(POOL_BUSY_TIMEOUT);
            let applied = applied?;
            if let Err(err) = restored {
                // The migrations are committed: not a failure of theirs. The connection
                // (whose PRAGMA failed, so likely broken) may wait up to the migration's
                // 30 minutes for a held lock when used again.
                tracing::warn!(error = %err, "could not restore a connection's busy timeout after migrating");
            }
            Ok(applied)
        })
        .await
    }

    /// The versions of the migrations not applied yet, oldest first (read only).
    ///
    /// # Errors
    /// [`SetupError::Migration`] when the database cannot be read.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, SetupError> {
        self.with_sync_connection(|conn| {
            let present = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{BOOKKEEPING_TABLE}')"
            )))
            .get_result::<bool>(conn)?;
            let applied = if present {
                diesel::sql_query(format!("SELECT version FROM {BOOKKEEPING_TABLE}"))
                    .load::<AppliedVersion>(conn)?
            } else {
                Vec::new()
            };
            unapplied::<diesel::sqlite::Sqlite>(&MIGRATIONS, &applied)
        })
        .await
    }

    /// Reverts every migration (for the migration round-trip test).
    ///
    /// # Errors
    /// [`SetupError::Migration`] when a down migration fails.
    pub async fn revert_all_migrations(&self) -> Result<(), SetupError> {
        self.with_sync_connection(|conn| conn.revert_all_migrations(MIGRATIONS).map(|_| ()))
            .await
    }

    async fn with_sync_connection<T: Send + 'static>(
        &self,
        task: impl FnOnce(&mut SqliteConnection) -> diesel::migration::Result<T> + Send + 'static,
    ) -> Result<T, SetupError> {
        let mut conn = self
            .pool
            .get()
            .await
            .map(PooledConn::new)
            .map_err(SetupError::migration)?;
        conn.spawn_blocking(move |c| task(c).map_err(diesel::result::Error::QueryBuilderError))
            .await
            .map_err(SetupError::migration)
    }

    pub(crate) async fn conn(&self) -> Result<PooledConn, RepoError> {
        self.waits
            .checkout(&self.pool)
            .await
            .map(PooledConn::new)
            .map_err(pool_error)
    }

    /// The shared connection pool's state and waits, for the metrics (the batch
    /// writers' one connection is not in it).
    pub fn pool_stats(&self) -> PoolStats {
        self.waits.stats(&self.pool)
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
    pub(crate) async fn batch_writer_conn(&self) -> Result<PooledConn, RepoError> {
        self.batch_writer
            .get()
            .await
            .map(PooledConn::new)
            .map_err(pool_error)
    }
}
