//! The read cache: decorators over the repository ports that answer the hot reads from
//! memory and never answer with data a write has replaced.
//!
//! The requests customers' CI jobs send all day (authenticate a key, list entitled
//! releases, issue and resolve download tokens) read rows that change rarely. Each
//! decorator ([`ReadCache::customers`], [`ReadCache::api_keys`], ...) wraps a repository
//! and implements the same port, so the domain's services run on it unchanged.
//! Correctness rests on three rules:
//!
//! * **Rows, not decisions.** What is cached is what the database returned; every
//!   rule (revocation, expiry, suspension, entitlement windows, publication) is still
//!   applied by the domain at each request, against the current time.
//! * **Every write invalidates.** Each table has a generation counter; a write through
//!   a decorator bumps the counters of the tables it changed once it returns, and an
//!   answer is served only while the counters it was read under are unchanged (see
//!   `coherence.rs` for why a write racing a read cannot leave a stale answer behind).
//! * **Writes from elsewhere are reported.** Other server instances (or SQL run by
//!   hand) write to the same database; a change feed reports them through an
//!   [`Invalidator`]. A cache made with [`ReadCache::awaiting_change_feed`] serves
//!   nothing from memory until the feed says it is listening, and again stops while
//!   the feed has lost its connection. A write that withdraws access also waits until
//!   the other instances' caches have heard of it ([`PeerCaches`]).
//!
//! ```
//! use std::sync::Arc;
//! use releasy_throughput::read_cache::ReadCache;
//! use releasy_domain::memory::InMemoryCustomers;
//! use releasy_domain::ports::CustomerRepository;
//!
//! // One process owns the database here, so every write passes through the cache.
//! let cache = ReadCache::new(10_000);
//! let customers: Arc<dyn CustomerRepository> =
//!     cache.customers(Arc::new(InMemoryCustomers::default()));
//! # let _ = customers;
//! ```

mod coherence;
mod entries;
mod repos;
mod stats;

use std::sync::Arc;

use releasy_domain::ports::{
    ApiKeyRepository, ArtifactRepository, CustomerRepository, DownloadTokenRepository,
    EntitlementRepository, ReleaseRepository, Repositories,
};

pub use coherence::{PeerCaches, Table};
pub use stats::CacheKindStats;

use coherence::Generations;
use repos::{
    CachedApiKeys, CachedArtifacts, CachedCustomers, CachedDownloadTokens, CachedEntitlements,
    CachedReleases,
};

/// The cache: hands out caching decorators that share one set of generations.
#[derive(Debug, Clone)]
pub struct ReadCache {
    generations: Arc<Generations>,
    max_rows: u64,
}

impl ReadCache {
    /// A cache for a database that only this process writes to (SQLite, or tests):
    /// coherent from the start. Each kind of answer holds at most `max_rows` rows.
    pub fn new(max_rows: u64) -> Self {
        Self {
            generations: Arc::new(Generations::new(true)),
            max_rows,
        }
    }

    /// A cache for a shared database: it serves nothing from memory until its change
    /// feed calls [`Invalidator::listening`].
    pub fn awaiting_change_feed(max_rows: u64) -> Self {
        Self {
            generations: Arc::new(Generations::new(false)),
            max_rows,
        }
    }

    /// `repos` with every repository this cache knows wrapped in its decorator; the
    /// others (audit, idempotency, health, products: read at each use) are left as
    /// they are.
    pub fn wrap(&self, repos: Repositories) -> Repositories {
        Repositories {
            customers: self.customers(repos.customers),
            api_keys: self.api_keys(repos.api_keys),
            releases: self.releases(repos.releases),
            artifacts: self.artifacts(repos.artifacts),
            entitlements: self.entitlements(repos.entitlements),
            download_tokens: self.download_tokens(repos.download_tokens),
            ..repos
        }
    }

    /// Each kind of answer's hits and misses since the process started.
    pub fn stats(&self) -> Vec<CacheKindStats> {
        self.generations.stats.snapshot()
    }

    /// The handle a change feed reports other writers' changes through.
    pub fn invalidator(&self) -> Invalidator {
        Invalidator {
            generations: self.generations.clone(),
        }
    }

    /// Customers by id, and admin listing pages.
    pub fn customers(&self, inner: Arc<dyn CustomerRepository>) -> Arc<dyn CustomerRepository> {
        Arc::new(CachedCustomers::new(
            inner,
            self.generations.clone(),
            self.max_rows,
        ))
    }

    /// The candidates a presented key is checked against.
    pub fn api_keys(&self, inner: Arc<dyn ApiKeyRepository>) -> Arc<dyn ApiKeyRepository> {
        Arc::new(CachedApiKeys::new(
            inner,
            self.generations.clone(),
            self.max_rows,
        ))
    }

    /// Releases by id, and listing pages.
    pub fn releases(&self, inner: Arc<dyn ReleaseRepository>) -> Arc<dyn ReleaseRepository> {
        Arc::new(CachedReleases::new(
            inner,
            self.generations.clone(),
            self.max_rows,
        ))
    }

    /// Artifacts with their release, and the artifacts of listed releases.
    pub fn artifacts(&self, inner: Arc<dyn ArtifactRepository>) -> Arc<dyn ArtifactRepository> {
        Arc::new(CachedArtifacts::new(
            inner,
            self.generations.clone(),
            self.max_rows,
        ))
    }

    /// Each customer's entitlement windows (the activity rule is applied per request).
    pub fn entitlements(
        &self,
        inner: Arc<dyn EntitlementRepository>,
    ) -> Arc<dyn EntitlementRepository> {
        Arc::new(CachedEntitlements::new(
            inner,
            self.generations.clone(),
            self.max_rows,
        ))
    }

    /// The grants download tokens resolve to.
    pub fn download_tokens(
        &self,
        inner: Arc<dyn DownloadTokenRepository>,
    ) -> Arc<dyn DownloadTokenRepository> {
        Arc::new(CachedDownloadTokens::new(
            inner,
            self.generations.clone(),
            self.max_rows,
        ))
    }
}

/// Reports writes that did not pass through this process's decorators.
#[derive(Debug, Clone)]
pub struct Invalidator {
    generations: Arc<Generations>,
}

impl Invalidator {
    /// `table` changed.
    pub fn changed(&self, table: Table) {
        self.generations.bump(table);
    }

    /// The table with this SQL name changed; a name the cache does not know counts as
    /// everything having changed.
    pub fn changed_named(&self, sql_name: &str) {
        match Table::from_sql_name(sql_name) {
            Some(table) => self.changed(table),
            None => self.generations.bump_all(),
        }
    }

    /// The feed is listening: it reports every change from now on. Anything cached
    /// before is dropped, since changes may have gone unreported until now.
    pub fn listening(&self) {
        self.generations.bump_all();
        self.generations.set_coherent(true);
    }

    /// Makes writes that withdraw access wait for `peers` (see [`PeerCaches`]); only
    /// the first call counts.
    pub fn reach_peers_through(&self, peers: Arc<dyn PeerCaches>) {
        self.generations.reach_peers_through(peers);
    }

    /// The feed stopped listening: read everything from the database until
    /// [`Invalidator::listening`].
    pub fn lost(&self) {
        self.generations.set_coherent(false);
        self.generations.bump_all();
    }
}
