//! Metrics wiring (`RELEASY_METRICS`, `RELEASY_METRICS_BIND_ADDR`): what is sampled at
//! each scrape, and the listener of its own that serves them when configured.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use releasy_domain::ports::ErrorChain;
use releasy_metrics::{Metrics, Sample, SampleKind, Sampled};
use releasy_store_diesel::{Database, LinkedBatches, PgStore, PoolStats};
use releasy_throughput::read_cache::{CacheKindStats, ReadCache};
use releasy_throughput::{AuditWriteBehind, LedgerWriteBehind, ProductionStack, QueueStats};

const NANOS_PER_SECOND: f64 = 1e9;

/// Every metric, with the database pool, the read cache and the write-behind queues of
/// `stack` sampled at each scrape.
pub(crate) fn sampling(database: &Database, stack: &ProductionStack) -> Metrics {
    let mut metrics = Metrics::new();
    metrics.add_sampled(pool_samples(database));
    if let Database::Postgres(store) = database {
        metrics.add_sampled(linked_batch_samples(store.clone()));
    }
    if let Some(cache) = stack.cache.clone() {
        metrics.add_sampled(cache_samples(cache));
    }
    metrics.add_sampled(queue_samples(stack.audit.clone(), stack.ledger.clone()));
    metrics
}

/// How the batches of audit events were linked (PostgreSQL), read at each scrape.
fn linked_batch_samples(store: PgStore) -> Sampled<LinkedBatches> {
    Sampled::reading(move || store.linked_batches()).metric(
        "audit_chain_batches",
        "Batches of audit events linked since the process started, by path: conditional \
         (after the head this instance last wrote) or locking (another writer had moved it)",
        SampleKind::Counter,
        |counts| {
            vec![
                Sample::labelled("path", "conditional", counts.conditional as f64),
                Sample::labelled("path", "locking", counts.locking as f64),
            ]
        },
    )
}

/// The database pool, read at each scrape.
fn pool_samples(database: &Database) -> Sampled<PoolStats> {
    let database = database.clone();
    Sampled::reading(move || database.pool_stats())
        .metric(
            "db_pool_connections_max",
            "Connections the database pool may open (RELEASY_DATABASE_MAX_CONNECTIONS)",
            SampleKind::Gauge,
            |stats| vec![Sample::of(stats.max_size as f64)],
        )
        .metric(
            "db_pool_connections_open",
            "Connections the database pool holds open now",
            SampleKind::Gauge,
            |stats| vec![Sample::of(stats.size as f64)],
        )
        .metric(
            "db_pool_connections_in_use",
            "Connections handed out to requests and tasks now",
            SampleKind::Gauge,
            |stats| vec![Sample::of(stats.in_use as f64)],
        )
        .metric(
            "db_pool_waiting",
            "Callers waiting for a connection now",
            SampleKind::Gauge,
            |stats| vec![Sample::of(stats.waiting as f64)],
        )
        .metric(
            "db_pool_checkouts",
            "Connections handed out since the process started",
            SampleKind::Counter,
            |stats| vec![Sample::of(stats.checkouts as f64)],
        )
        .metric(
            "db_pool_wait_seconds",
            "Time spent waiting for a connection since the process started (divide its rate \
             by db_pool_checkouts' for the mean wait)",
            SampleKind::Counter,
            |stats| vec![Sample::of(stats.wait_nanos as f64 / NANOS_PER_SECOND)],
        )
}

/// The read cache's hits and misses by kind of answer.
fn cache_samples(cache: ReadCache) -> Sampled<Vec<CacheKindStats>> {
    Sampled::reading(move || cache.stats())
        .metric(
            "cache_hits",
            "Reads answered from the read cache, by kind of answer",
            SampleKind::Counter,
            |kinds| {
                kinds
                    .iter()
                    .map(|kind| Sample::labelled("kind", kind.kind, kind.hits as f64))
                    .collect()
            },
        )
        .metric(
            "cache_misses",
            "Reads the read cache sent to the database, by kind of answer",
            SampleKind::Counter,
            |kinds| {
                kinds
                    .iter()
                    .map(|kind| Sample::labelled("kind", kind.kind, kind.misses as f64))
                    .collect()
            },
        )
}

/// The write-behind queues (audit events, and download ledger rows when it is on).
fn queue_samples(
    audit: AuditWriteBehind,
    ledger: Option<LedgerWriteBehind>,
) -> Sampled<Vec<(&'static str, QueueStats)>> {
    let per_queue = |read: fn(&QueueStats) -> f64| {
        move |queues: &Vec<(&'static str, QueueStats)>| {
            queues
                .iter()
                .map(|(name, queue)| Sample::labelled("queue", *name, read(queue)))
                .collect()
        }
    };
    Sampled::reading(move || {
        let mut queues = vec![("audit", audit.queue_stats())];
        queues.extend(
            ledger
                .as_ref()
                .map(|l| ("download_ledger", l.queue_stats())),
        );
        queues
    })
    .metric(
        "write_behind_queue_depth",
        "Rows queued for the database now",
        SampleKind::Gauge,
        per_queue(|queue| queue.depth as f64),
    )
    .metric(
        "write_behind_flushes",
        "Write rounds that found rows, since the process started",
        SampleKind::Counter,
        per_queue(|queue| queue.flushes as f64),
    )
    .metric(
        "write_behind_flush_seconds",
        "Time those write rounds took (divide its rate by write_behind_flushes' for the \
         mean flush latency)",
        SampleKind::Counter,
        per_queue(|queue| queue.flush_nanos as f64 / NANOS_PER_SECOND),
    )
}

/// The listener of `RELEASY_METRICS_BIND_ADDR`: `GET /metrics` alone, one worker.
#[derive(Debug)]
pub struct MetricsListener {
    handle: ServerHandle,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl MetricsListener {
    /// Starts serving `metrics` on `addr` (an actix server runs only while polled, so
    /// it gets a task of its own); returns it and the address it bound.
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub(crate) fn start(
        addr: SocketAddr,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Self, SocketAddr)> {
        let listener = TcpListener::bind(addr)?;
        let bound = listener.local_addr()?;
        let server = HttpServer::new(move || {
            App::new().configure(releasy_http::routes::metrics::metrics_routes(
                metrics.clone(),
            ))
        })
        .workers(1)
        // The public server handles the signals; this one stops after it (`stop`).
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        let serving = tokio::spawn(server);
        Ok((Self { handle, serving }, bound))
    }

    /// Stops serving and waits until it has.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        if let Ok(Err(err)) = self.serving.await {
            tracing::warn!(error = %ErrorChain(&err), "the metrics listener stopped with an error");
        }
    }
}
