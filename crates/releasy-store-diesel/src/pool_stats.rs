//! What a store's connection pool reports to the metrics: its size and how long
//! callers waited for a connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use deadpool::managed::{Manager, Object, Pool, PoolError};

/// A pool's state at one instant, and its waits since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// The most connections the pool opens.
    pub max_size: usize,
    /// Connections open now.
    pub size: usize,
    /// Connections open and handed out now.
    pub in_use: usize,
    /// Callers waiting for a connection now.
    pub waiting: usize,
    /// Connections handed out, in all.
    pub checkouts: u64,
    /// Time callers spent waiting for those connections, in all, in nanoseconds.
    pub wait_nanos: u64,
}

/// Counts checkouts and the time they took; shared by a store's clones.
#[derive(Debug, Default, Clone)]
pub(crate) struct PoolWaits(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    checkouts: AtomicU64,
    wait_nanos: AtomicU64,
}

impl PoolWaits {
    /// A connection from `pool`, the wait counted.
    pub(crate) async fn checkout<M: Manager>(
        &self,
        pool: &Pool<M>,
    ) -> Result<Object<M>, PoolError<M::Error>> {
        let started = Instant::now();
        let object = pool.get().await;
        let waited = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0.checkouts.fetch_add(1, Ordering::Relaxed);
        self.0.wait_nanos.fetch_add(waited, Ordering::Relaxed);
        object
    }

    /// `pool`'s state and these counts.
    pub(crate) fn stats<M: Manager>(&self, pool: &Pool<M>) -> PoolStats {
        let status = pool.status();
        PoolStats {
            max_size: status.max_size,
            size: status.size,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
            checkouts: self.0.checkouts.load(Ordering::Relaxed),
            wait_nanos: self.0.wait_nanos.load(Ordering::Relaxed),
        }
    }
}
