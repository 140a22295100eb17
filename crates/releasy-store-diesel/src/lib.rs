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

mod audit_batcher;
#[cfg(feature = "bulk-seed")]
pub mod bulk;
mod change_feed;
mod error;
mod postgres;
mod repos;
mod rows;
pub mod schema;
mod sqlite;
mod token_batcher;
mod url;
mod wal_checkpointer;

use std::sync::Arc;

use releasy_domain::ports::{
    ApiKeyRepository, ArtifactRepository, AuditRepository, CustomerRepository,
    DownloadTokenRepository, EntitlementRepository, HealthProbe, IdempotencyRepository,
    ReleaseRepository,
};

pub use audit_batcher::{BatchPolicy, BatchedAudit, FlushError};
pub use change_feed::{ChangeEvent, ChangeFeedHandle};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use token_batcher::GroupedTokenWrites;
pub use url::{DatabaseUrl, InvalidDatabaseUrl};

/// The store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The connection pool could not be built.
    #[error("database pool: {0}")]
    Pool(String),
    /// Migrations could not be applied.
    #[error("database migration: {0}")]
    Migration(String),
}

/// An open database of either backend.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL.
    Postgres(PgStore),
    /// SQLite.
    Sqlite(SqliteStore),
}

/// The repository ports of one database.
#[derive(Debug, Clone)]
pub struct Repositories {
    /// Customers.
    pub customers: Arc<dyn CustomerRepository>,
    /// API keys.
    pub api_keys: Arc<dyn ApiKeyRepository>,
    /// The audit trail.
    pub audit: Arc<dyn AuditRepository>,
    /// Idempotency records.
    pub idempotency: Arc<dyn IdempotencyRepository>,
    /// Releases.
    pub releases: Arc<dyn ReleaseRepository>,
    /// Artifacts.
    pub artifacts: Arc<dyn ArtifactRepository>,
    /// Entitlements.
    pub entitlements: Arc<dyn EntitlementRepository>,
    /// Download tokens.
    pub download_tokens: Arc<dyn DownloadTokenRepository>,
    /// Readiness.
    pub health: Arc<dyn HealthProbe>,
}

impl Database {
    /// Opens a pool of at most `max_connections` to `url` (no connection is made yet).
    ///
    /// # Errors
    /// [`StoreError::Pool`] when the pool cannot be built.
    pub fn open(url: &DatabaseUrl, max_connections: usize) -> Result<Self, StoreError> {
        match url {
            DatabaseUrl::Postgres(url) => {
                PgStore::connect(url, max_connections).map(Self::Postgres)
            }
            DatabaseUrl::SqliteFile(path) => {
                SqliteStore::open(Some(path.clone()), max_connections).map(Self::Sqlite)
            }
            DatabaseUrl::SqliteMemory => SqliteStore::open(None, 1).map(Self::Sqlite),
        }
    }

    /// Applies pending migrations (PostgreSQL: under an advisory lock).
    ///
    /// # Errors
    /// [`StoreError::Migration`] when the database is unreachable or a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(store) => store.migrate().await,
            Self::Sqlite(store) => store.migrate().await,
        }
    }

    /// Reverts every migration.
    ///
    /// # Errors
    /// [`StoreError::Migration`] when a down migration fails.
    pub async fn revert_all_migrations(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(store) => store.revert_all_migrations().await,
            Self::Sqlite(store) => store.revert_all_migrations().await,
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
                health: Arc::new(store.clone()),
            }
        }
        match self {
            Self::Postgres(store) => all(store),
            Self::Sqlite(store) => all(store),
        }
    }
}
