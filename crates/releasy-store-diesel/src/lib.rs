//! # releasy-store-diesel
//!
//! Releasy's repositories on PostgreSQL (`AsyncPgConnection`, pooled) and SQLite
//! (`SyncConnectionWrapper<SqliteConnection>`, pooled, WAL), with diesel and
//! diesel-async. Both backends share one schema ([`schema`]) and one body of query code
//! (`repos`), and the migrations embedded from the workspace's `migrations/` folder.
//!
//! [`Database::open`] picks the backend from a [`DatabaseUrl`]; [`Database::repositories`]
//! hands the domain its ports.

#![warn(missing_docs)]

mod change_feed;
mod error;
mod migration_state;
mod pool_stats;
mod pooled;
mod postgres;
mod query_spans;
mod repos;
pub mod rows;
pub mod schema;
mod sqlite;
mod transaction;
mod url;
mod wal_checkpointer;

use std::sync::Arc;

use releasy_domain::ports::{
    ApiKeyRepository, ArtifactRepository, AuditRepository, CustomerRepository, DownloadLedger,
    DownloadTokenRepository, EntitlementRepository, HealthProbe, IdempotencyRepository,
    ProductRepository, QuotaCounter, ReleaseRepository, RepoError, Repositories,
};

pub use change_feed::{
    BarrierOutcome, ChangeBarrier, ChangeEvent, ChangeFeedHandle, LOSS_NOTICED_WITHIN,
};
pub use error::SetupError;
pub use pool_stats::PoolStats;
pub use postgres::{PgStore, PostgresTlsError};
pub use query_spans::{TraceQueriesError, trace_queries};
pub use repos::linked_batch::LinkedBatches;
pub use sqlite::{
    BackupError, BackupReport, SqliteStore, backup_sqlite, remove_backups_in_progress,
};
pub use url::{DatabaseUrl, InvalidDatabaseUrl};

/// An open database of either backend.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL.
    Postgres(PgStore),
    /// SQLite.
    Sqlite(SqliteStore),
}

/// What [`Database::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Versions of the migrations applied by this call, oldest first (none when the
    /// database was up to date).
    pub applied: Vec<String>,
    /// Releases stored before versions were ordered whose order was filled in.
    pub releases_ordered: usize,
    /// Audit events stored before the audit chain existed that were linked now.
    pub audit_events_linked: u64,
}

impl Database {
    /// The connection pool's state and waits, for the metrics.
    pub fn pool_stats(&self) -> PoolStats {
        match self {
            Self::Postgres(store) => store.pool_stats(),
            Self::Sqlite(store) => store.pool_stats(),
        }
    }

    /// How this instance's batches of audit events were linked (PostgreSQL; `None` on
    /// SQLite, whose batches link after the head they read under its write lock).
    pub fn linked_batches(&self) -> Option<LinkedBatches> {
        match self {
            Self::Postgres(store) => Some(store.linked_batches()),
            Self::Sqlite(_) => None,
        }
    }

    /// Whether this database's writes link their own audit events (SQLite: its write
    /// lock runs writes one at a time anyway). Then no linker runs once the chain has
    /// begun, and an event without a link is one Releasy did not write; otherwise
    /// (PostgreSQL) committed events await the linker for a moment.
    pub fn links_audit_events_inline(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }
}

impl Database {
    /// Opens a pool of at most `max_connections` to `url` (no connection is made yet).
    ///
    /// # Errors
    /// [`SetupError`] when the pool (or a SQLite file's folder) cannot be made.
    pub fn open(url: &DatabaseUrl, max_connections: usize) -> Result<Self, SetupError> {
        match url {
            DatabaseUrl::Postgres(url) => {
                PgStore::connect(url, max_connections).map(Self::Postgres)
            }
            DatabaseUrl::SqliteFile(path) => {
                SqliteStore::open(Some(path.clone()), max_connections).map(Self::Sqlite)
            }
            DatabaseUrl::SqliteExistingFile(path) => {
                if !path.is_file() {
                    return Err(SetupError::MissingSqliteFile { path: path.clone() });
                }
                SqliteStore::open(Some(path.clone()), max_connections).map(Self::Sqlite)
            }
            DatabaseUrl::SqliteMemory => SqliteStore::open(None, 1).map(Self::Sqlite),
        }
    }

    /// Fills in the version order key, and the channel its version implies, of every
    /// release stored without them: by a server before the release model (at
    /// [`Self::migrate`]), or by an older instance during a rolling upgrade since
    /// (which the server does every minute on PostgreSQL). Such a release sorts below
    /// every other and sits on `stable` until then. Returns how many it filled in.
    ///
    /// # Errors
    /// [`RepoError`] when the database fails.
    pub async fn fill_in_version_order(&self) -> Result<usize, RepoError> {
        let filled = match self {
            Self::Postgres(store) => store.fill_in_version_order().await,
            Self::Sqlite(store) => store.fill_in_version_order().await,
        }?;
        if filled > 0 {
            tracing::info!(releases = filled, "filled in the version order of releases");
        }
        Ok(filled)
    }

    /// Applies pending migrations (PostgreSQL: under an advisory lock; SQLite: in one
    /// `BEGIN IMMEDIATE` transaction), so processes starting together on one database
    /// take turns and the later ones find nothing left to do.
    ///
    /// # Errors
    /// [`SetupError::Migration`] when the database is unreachable or a migration fails.
    pub async fn migrate(&self) -> Result<Migrated, SetupError> {
        let applied = match self {
            Self::Postgres(store) => store.migrate().await?,
            Self::Sqlite(store) => store.migrate().await?,
        };
        // What SQL cannot compute: the version order of releases stored before.
        // On PostgreSQL a failure is not fatal: every server fills them in again each
        // minute (an instance running such a fill may hold the rows meanwhile). A SQLite
        // file's server is the only one that fills them in: it must not start without.
        // On SQLite they wait for another instance's migrations, as the migrations do.
        let filled = match self {
            Self::Postgres(_) => self.fill_in_version_order().await,
            Self::Sqlite(_) => {
                sqlite::while_locked(sqlite::MIGRATION_LOCK_WAIT, || self.fill_in_version_order())
                    .await
            }
        };
        let filled = match (self, filled) {
            (_, Ok(filled)) => filled,
            (Self::Postgres(_), Err(err)) => {
                tracing::warn!(error = %err, "could not fill in the version order of releases; retried within a minute");
                0
            }
            (Self::Sqlite(_), Err(err)) => return Err(SetupError::migration(err)),
        };
        // And the audit chain's links of the events stored before it existed.
        let linked = match self {
            Self::Postgres(store) => store.link_events_stored_before_the_chain().await,
            Self::Sqlite(store) => {
                sqlite::while_locked(sqlite::MIGRATION_LOCK_WAIT, || {
                    store.link_events_stored_before_the_chain()
                })
                .await
            }
        }
        .map_err(SetupError::migration)?;
        if linked > 0 {
            tracing::info!(
                events = linked,
                "linked the audit events stored before the chain"
            );
        }
        Ok(Migrated {
            applied,
            releases_ordered: filled,
            audit_events_linked: linked,
        })
    }

    /// The versions of the migrations not applied yet, oldest first, for commands
    /// that must not change the database: it reads diesel's bookkeeping table (all are
    /// pending when there is none) and writes nothing, so it works for a read-only
    /// role.
    ///
    /// # Errors
    /// [`SetupError::Migration`] when the database cannot be reached or read.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, SetupError> {
        match self {
            Self::Postgres(store) => store.pending_migrations().await,
            Self::Sqlite(store) => store.pending_migrations().await,
        }
    }

    /// Reverts every migration.
    ///
    /// # Errors
    /// [`SetupError::Migration`] when a down migration fails.
    pub async fn revert_all_migrations(&self) -> Result<(), SetupError> {
        match self {
            Self::Postgres(store) => store.revert_all_migrations().await,
            Self::Sqlite(store) => store.revert_all_migrations().await,
        }
    }

    /// Bumps the external-writes counter, which a serving process on the same database
    /// polls to drop its read cache: call it after writing from another process.
    ///
    /// # Errors
    /// [`RepoError`] when the database cannot be written.
    pub async fn note_external_write(&self) -> Result<(), RepoError> {
        match self {
            Self::Postgres(store) => store.note_external_write().await,
            Self::Sqlite(store) => store.note_external_write().await,
        }
    }

    /// The ports this database implements.
    pub fn repositories(&self) -> Repositories {
        fn all<S>(store: &S) -> Repositories
        where
            S: CustomerRepository
                + ApiKeyRepository
                + AuditRepository
                + IdempotencyRepository
                + ReleaseRepository
                + ArtifactRepository
                + EntitlementRepository
                + DownloadTokenRepository
                + DownloadLedger
                + QuotaCounter
                + ProductRepository
                + HealthProbe
                + Clone
                + 'static,
        {
            Repositories {
                customers: Arc::new(store.clone()),
                api_keys: Arc::new(store.clone()),
                audit: Arc::new(store.clone()),
                idempotency: Arc::new(store.clone()),
                releases: Arc::new(store.clone()),
                artifacts: Arc::new(store.clone()),
                entitlements: Arc::new(store.clone()),
                download_tokens: Arc::new(store.clone()),
                download_ledger: Arc::new(store.clone()),
                quota_counter: Arc::new(store.clone()),
                products: Arc::new(store.clone()),
                health: Arc::new(store.clone()),
            }
        }
        match self {
            Self::Postgres(store) => all(store),
            Self::Sqlite(store) => all(store),
        }
    }
}
