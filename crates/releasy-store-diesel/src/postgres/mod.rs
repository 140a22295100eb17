//! The PostgreSQL adapter: a deadpool pool of `AsyncPgConnection`s, and the migration
//! runner that serialises concurrent starts with an advisory lock. Connections are made
//! by [`connector`], over TLS when the URL asks for it.

mod connector;
mod tls_config;
pub(crate) mod tls_parameters;

pub use tls_config::PostgresTlsError;

use std::sync::Arc;
use std::time::Duration;

use diesel::RunQueryDsl as _;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use releasy_domain::ports::RepoError;

use self::connector::PgConnector;
use crate::error::{SetupError, pool_error};
use crate::migration_state::{AppliedVersion, BOOKKEEPING_TABLE, unapplied};
use crate::pool_stats::{PoolStats, PoolWaits};
use crate::repos::linked_batch::{KnownHead, LinkedBatches};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A connection checked out of the pool.
pub(crate) type PgPooled = crate::pooled::Pooled<AsyncDieselConnectionManager<AsyncPgConnection>>;

impl crate::pooled::ConnectionPool for AsyncDieselConnectionManager<AsyncPgConnection> {
    type Conn = AsyncPgConnection;

    fn connection(object: &AsyncPgConnection) -> &AsyncPgConnection {
        object
    }

    fn connection_mut(object: &mut AsyncPgConnection) -> &mut AsyncPgConnection {
        object
    }
}

/// Reads the files `url`'s TLS parameters name, as [`PgStore::connect`] does.
pub(crate) fn check_tls_files(url: &str) -> Result<(), SetupError> {
    PgConnector::new(url).map(drop)
}

/// Any constant works; it only has to be the same for every Releasy instance.
const MIGRATION_LOCK_ID: i64 = 0x0052_454c_4541_5359;

/// Repositories on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
    waits: PoolWaits,
    connector: PgConnector,
    known_head: Arc<KnownHead>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// A pool of at most `max_connections` connections to `url`. Connections are made
    /// lazily; call [`PgStore::migrate`] to reach the database once. The URL's TLS
    /// parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslnegotiation`,
    /// `sslsni`, `ssl_min_protocol_version`, `ssl_max_protocol_version`) are read as
    /// libpq reads them, except that without `sslmode` (and `sslrootcert=system`) no
    /// TLS is used.
    ///
    /// # Errors
    /// [`SetupError::DatabaseUrl`] for TLS parameters of no supported form,
    /// [`SetupError::PostgresTls`] when the certificates or key they name cannot be
    /// read or used, [`SetupError::Pool`] when the pool cannot be built.
    pub fn connect(url: &str, max_connections: usize) -> Result<Self, SetupError> {
        let connector = PgConnector::new(url)?;
        let mut config = ManagerConfig::default();
        let pool_connector = connector.clone();
        config.custom_setup = Box::new(move |_url| {
            let connector = pool_connector.clone();
            Box::pin(async move { connector.establish().await })
        });
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(SetupError::Pool)?;
        Ok(Self {
            pool,
            waits: PoolWaits::default(),
            connector,
            known_head: Arc::default(),
        })
    }

    /// Applies pending migrations while holding an advisory lock, so instances starting
    /// together apply each migration once. Returns the versions of the migrations it
    /// applied, oldest first.
    ///
    /// # Errors
    /// [`SetupError::Migration`] when the database cannot be reached or a migration fails.
    pub async fn migrate(&self) -> Result<Vec<String>, SetupError> {
        let mut conn = self.migration_connection().await?;
        tokio::task::spawn_blocking(move || -> Result<Vec<String>, SetupError> {
            let lock = format!("SELECT pg_advisory_lock({MIGRATION_LOCK_ID})");
            diesel::sql_query(lock)
                .execute(&mut conn)
                .map_err(SetupError::migration)?;
            let applied = conn
                .run_pending_migrations(MIGRATIONS)
                .map(|applied| applied.iter().map(ToString::to_string).collect())
                .map_err(SetupError::migration);
            let unlock = format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})");
            // Closing the connection releases the lock too; unlocking explicitly is tidier.
            let _ = diesel::sql_query(unlock).execute(&mut conn);
            applied
        })
        .await
        .map_err(SetupError::migration)?
    }

    /// The versions of the migrations not applied yet, oldest first (read only).
    ///
    /// # Errors
    /// [`SetupError::Migration`] when the database cannot be reached or read.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, SetupError> {
        let mut conn = self.migration_connection().await?;
        tokio::task::spawn_blocking(move || -> Result<Vec<String>, SetupError> {
            let present = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "to_regclass('{BOOKKEEPING_TABLE}') IS NOT NULL"
            )))
            .get_result::<bool>(&mut conn)
            .map_err(SetupError::migration)?;
            let applied = if present {
                diesel::sql_query(format!("SELECT version FROM {BOOKKEEPING_TABLE}"))
                    .load::<AppliedVersion>(&mut conn)
                    .map_err(SetupError::migration)?
            } else {
                Vec::new()
            };
            unapplied::<diesel::pg::Pg>(&MIGRATIONS, &applied).map_err(SetupError::migration)
        })
        .await
        .map_err(SetupError::migration)?
    }

    /// Reverts every migration (for the migration round-trip test).
    ///
    /// # Errors
    /// [`SetupError::Migration`] when a down migration fails.
    pub async fn revert_all_migrations(&self) -> Result<(), SetupError> {
        let mut conn = self.migration_connection().await?;
        tokio::task::spawn_blocking(move || -> Result<(), SetupError> {
            conn.revert_all_migrations(MIGRATIONS)
                .map(|_| ())
                .map_err(SetupError::migration)
        })
        .await
        .map_err(SetupError::migration)?
    }

    /// A connection of its own (not the pool's) for diesel's synchronous migration
    /// harness, which runs it on a blocking thread.
    async fn migration_connection(
        &self,
    ) -> Result<AsyncConnectionWrapper<AsyncPgConnection>, SetupError> {
        let conn = self
            .connector
            .establish()
            .await
            .map_err(SetupError::migration)?;
        Ok(AsyncConnectionWrapper::from(conn))
    }

    pub(crate) async fn conn(&self) -> Result<PgPooled, RepoError> {
        self.waits
            .checkout(&self.pool)
            .await
            .map(PgPooled::new)
            .map_err(pool_error)
    }

    /// Where this instance's last batch of linked audit events left the chain's head.
    pub(crate) fn known_head(&self) -> &KnownHead {
        &self.known_head
    }

    /// How this instance's batches of audit events were linked, for the metrics.
    pub fn linked_batches(&self) -> LinkedBatches {
        self.known_head.counts()
    }

    /// The connection pool's state and waits, for the metrics.
    pub fn pool_stats(&self) -> PoolStats {
        self.waits.stats(&self.pool)
    }
}
