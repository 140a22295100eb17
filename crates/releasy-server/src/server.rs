//! Wiring: open the database and migrate it (before the listener binds), build the
//! domain's services on the adapters, and serve HTTP until told to stop.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpServer, web};
use releasy_auth_jwt::{CachePolicy, JwtConfig, JwtOperatorVerifier};
use releasy_crypto::{Argon2Hasher, OsSecrets, RandomnessUnavailable, SealedIdempotency};
use releasy_domain::api_key::ApiKeyAuthenticator;
use releasy_domain::artifact::{ArtifactService, VerificationReport, VerifyOutcome};
use releasy_domain::audit::{AuditRetention, AuditService};
use releasy_domain::delivery::{DeliveryService, LedgerRetention};
use releasy_domain::download::DownloadService;
use releasy_domain::idempotency::IdempotencyService;
use releasy_domain::ports::{
    Clock, ErrorChain, ObservedObjectStore, OperatorTokenVerifier, SystemClock,
};
use releasy_domain::{Limits, Ports, Services};
use releasy_http::request_limits::RequestLimits;
use releasy_http::{AdminKey, AppState};
use releasy_rate_limit::{LocalRateLimiter, RateLimitConfig};
use releasy_store_diesel::{Database, SetupError};
use releasy_throughput::{
    AuditWriteBehind, BatchPolicy, FlushError, LedgerWriteBehind, SHUTDOWN_WRITE_LIMIT,
    ThroughputSettings, Writers, wrap_for_production,
};
use releasy_traces::SpanPerCall;
use tokio::sync::oneshot;

use crate::bootstrap::{BootstrapError, generated_admin_key};
use crate::change_feed::{CacheFeed, feed_cache};
use crate::metrics::{self, MetricsListener};
use crate::settings::Settings;
use crate::storage::{ArtifactStorage, StorageError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] SetupError),
    /// The generated admin key could not be provisioned.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// The artifact store could not be set up.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Operator JWT verification could not be set up.
    #[error(transparent)]
    OperatorTokens(#[from] releasy_auth_jwt::BuildError),
    /// The key hasher could not be keyed.
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
    /// The SQLite checkpoint thread could not be started.
    #[error("cannot start the SQLite checkpoint thread: {0}")]
    Checkpointer(std::io::Error),
    /// SQL statements could not be traced.
    #[error(transparent)]
    TraceQueries(#[from] releasy_store_diesel::TraceQueriesError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A started server.
pub struct RunningServer {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// Stops it.
    pub handle: actix_web::dev::ServerHandle,
    /// Completes when it has stopped.
    pub server: actix_web::dev::Server,
    /// The audit trail's write-behind queue, written out by [`RunningServer::run`].
    pub audit: AuditWriteBehind,
    /// The download ledger's write-behind queue, written out by [`RunningServer::run`].
    pub ledger: Option<LedgerWriteBehind>,
    /// The listener of `RELEASY_METRICS_BIND_ADDR`, stopped by [`RunningServer::run`]
    /// once the server has drained (so a scrape can watch the drain).
    pub metrics_server: Option<MetricsListener>,
    /// The read cache's change feed (PostgreSQL): it runs until this is dropped, which
    /// [`RunningServer::run`] does once the server has stopped.
    pub cache_feed: CacheFeed,
    /// Reports the failed authentications refused since the last report, which
    /// [`RunningServer::run`] does once more at shutdown.
    pub authenticator: ApiKeyAuthenticator,
    /// Links committed audit events to the chain (on PostgreSQL; SQLite's writes link
    /// their own), which [`RunningServer::run`] does once more at shutdown, after the
    /// queue is written.
    pub audit_chain: Option<AuditService>,
}

/// Why a server's run ended badly.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// The HTTP server failed.
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
    /// Rows queued to be written behind (audit events, download ledger rows) could not
    /// be written at shutdown, even after its retries: they are lost, and the process
    /// must not exit as if nothing were.
    #[error("queued rows were lost")]
    RowsLost(#[source] FlushError),
}

impl RunningServer {
    /// Serves until stopped (SIGTERM, Ctrl-C or the handle), then writes out the
    /// audit events still queued and links them, so a graceful shutdown loses none and
    /// leaves none unlinked.
    ///
    /// # Errors
    /// [`StopError::Serve`] for the server's I/O error; [`StopError::RowsLost`] when
    /// the queued audit events or ledger rows could not be written, or a write that
    /// panicked lost some earlier (the rest of the shutdown still runs).
    pub async fn run(self) -> Result<(), StopError> {
        let (forced, forced_stop) = oneshot::channel();
        let signals = tokio::spawn(stop_on_signals(self.handle.clone(), forced));
        let served = tokio::select! {
            served = self.server => served,
            Ok(()) = forced_stop => {
                // The workers drop the requests still in flight on their own threads;
                // a moment for those that finish meanwhile to queue their rows.
                tokio::time::sleep(FORCED_STOP_SETTLE).await;
                Ok(())
            }
        };
        signals.abort();
        report_refused_failures(&self.authenticator).await;
        // Side by side, so a stop waits at most one queue's write limit; the audit
        // chain's links get what is left of it.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_WRITE_LIMIT;
        let ledger_shutdown = async {
            match &self.ledger {
                Some(ledger) => ledger.shutdown().await,
                None => Ok(()),
            }
        };
        let (audit, ledger) = tokio::join!(self.audit.shutdown(), ledger_shutdown);
        // Written at the end, though rows may have been lost to a panic earlier.
        let audit_written = audit
            .as_ref()
            .err()
            .is_none_or(FlushError::is_only_an_earlier_loss);
        let mut lost = None;
        if let Err(err) = audit {
            tracing::error!(error = %ErrorChain(&err), "audit events were lost");
            lost = Some(err);
        }
        if let Err(err) = ledger {
            tracing::error!(error = %ErrorChain(&err), "download ledger rows were lost");
            // Rows left unwritten now say more than rows a panic lost earlier.
            if lost
                .as_ref()
                .is_none_or(FlushError::is_only_an_earlier_loss)
            {
                lost = Some(err);
            }
        }
        // Linking is the next start's too: it is not worth a stop that outlasts its
        // supervisor, nor a wait on a database that did not take the events.
        if audit_written && let Some(linker) = &self.audit_chain {
            match tokio::time::timeout_at(deadline, linker.link_pending()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::error!(error = %ErrorChain(&err), "audit events could not be linked at shutdown");
                }
                Err(_) => tracing::warn!("audit events left to link at the next start"),
            }
        }
        if let Some(metrics) = self.metrics_server {
            metrics.stop().await;
        }
        served.map_err(StopError::Serve)?;
        lost.map_or(Ok(()), |err| Err(StopError::RowsLost(err)))
    }
}

/// Stops the server gracefully on SIGTERM or SIGINT (Ctrl-C) alike: requests in flight
/// finish within the grace, as docs/configuration.md promises for both. A second such
/// signal while it drains, or SIGQUIT, stops it at once: `forced` tells
/// [`RunningServer::run`] to stop waiting for the drain (actix-web takes a second stop
/// command only once the first is done) and go on to write the queued rows.
async fn stop_on_signals(handle: actix_web::dev::ServerHandle, forced: oneshot::Sender<()>) {
    use tokio::signal::unix::SignalKind;
    let (mut interrupt, mut terminate, mut quit) = (
        stop_signal(SignalKind::interrupt()),
        stop_signal(SignalKind::terminate()),
        stop_signal(SignalKind::quit()),
    );
    let graceful = tokio::select! {
        () = next_signal(&mut interrupt) => true,
        () = next_signal(&mut terminate) => true,
        () = next_signal(&mut quit) => false,
    };
    if graceful {
        tracing::info!("stop signal received; stopping gracefully");
        // The command is sent by the call; the future would only wait for the drain.
        drop(handle.stop(true));
        tokio::select! {
            () = next_signal(&mut interrupt) => {}
            () = next_signal(&mut terminate) => {}
            () = next_signal(&mut quit) => {}
        }
        tracing::info!("second stop signal received; stopping at once");
    } else {
        tracing::info!("SIGQUIT received; stopping at once");
        drop(handle.stop(false));
    }
    let _ = forced.send(());
}

/// How long a forced stop waits for the workers to drop their requests before the
/// queued rows are written.
const FORCED_STOP_SETTLE: Duration = Duration::from_millis(250);

/// A listener for one stop signal, or none (logged) when it cannot be had.
pub(crate) fn stop_signal(
    kind: tokio::signal::unix::SignalKind,
) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
        .inspect_err(
            |err| tracing::error!(error = %ErrorChain(&err), "cannot listen for a stop signal"),
        )
        .ok()
}

/// The next delivery of `listener`'s signal (never, without a listener).
pub(crate) async fn next_signal(listener: &mut Option<tokio::signal::unix::Signal>) {
    match listener {
        Some(listener) => {
            listener.recv().await;
        }
        None => std::future::pending().await,
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The throughput layer for `database`: the embedded SQLite file has one writer (this
/// process) and admits one write at a time, so token batches go one at a time; a
/// PostgreSQL database is shared, and two token batches at once let the second gather
/// its tokens and build its statement while the first is written. No more than two: a
/// batch links its tokens' audit events itself, so batches take turns on the chain's
/// head (in this process, in the order they reach it), and more of them only queue for
/// it (with a pool of 10, five at once issued 3 800 to 4 300 tokens a second, two
/// 5 800, before batches were written as one conditional statement).
fn throughput_settings(database: &Database, settings: &Settings) -> ThroughputSettings {
    // SQLite has one writer at a time; PostgreSQL runs transactions in parallel, and
    // the ledger's rows outrun one writer at full download speed (a single writer kept
    // resolves to 39% of their speed without the ledger; see docs/benchmark-notes.md).
    let (writers, concurrent_token_batches, concurrent_ledger_writes) = match database {
        Database::Sqlite(_) => (Writers::ThisProcessOnly, 1, 1),
        Database::Postgres(_) => (
            Writers::Shared,
            (settings.database_max_connections / 2).clamp(1, 2),
            (settings.database_max_connections / 2).clamp(1, 4),
        ),
    };
    let written_behind = BatchPolicy {
        max_delay: Duration::from_millis(settings.audit_flush_interval_ms),
        ..BatchPolicy::default()
    };
    ThroughputSettings {
        writers,
        cache_rows: settings.cache_rows,
        audit: written_behind,
        ledger: BatchPolicy {
            concurrent_writes: concurrent_ledger_writes,
            ..written_behind
        },
        record_downloads: settings.download_log,
        concurrent_token_batches,
    }
}

/// Writes the `auth.throttled` summaries of the failures refused since the last time.
async fn report_refused_failures(authenticator: &ApiKeyAuthenticator) {
    match authenticator.report_refused_failures().await {
        Ok(0) => {}
        Ok(addresses) => tracing::warn!(
            addresses,
            "failed authentications refused past RELEASY_AUTH_FAILURE_LIMIT (see auth.throttled audit events)"
        ),
        Err(err) => {
            tracing::warn!(error = %ErrorChain(&err), "could not record refused authentications")
        }
    }
}

/// Reports refused failures every minute (and, through it, drops the buckets of
/// addresses and keys that are whole again), for as long as the runtime runs.
fn spawn_refusal_reports(authenticator: ApiKeyAuthenticator) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(REFUSAL_REPORT_PERIOD);
        every.tick().await;
        loop {
            every.tick().await;
            report_refused_failures(&authenticator).await;
        }
    });
}

/// How often refused failures are summed into `auth.throttled` events.
const REFUSAL_REPORT_PERIOD: Duration = Duration::from_secs(60);

/// Forgets expired idempotency keys every ten minutes, for as long as the runtime runs.
fn spawn_idempotency_purge(idempotency: IdempotencyService) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            match idempotency.purge_expired().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired idempotency keys removed"),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "could not remove expired idempotency keys")
                }
            }
        }
    });
}

/// How often the linker chains the audit events committed since it last ran: the
/// longest an event waits for its link while the server runs.
const AUDIT_LINK_PERIOD: Duration = Duration::from_millis(250);

/// Links committed audit events to the chain every [`AUDIT_LINK_PERIOD`], for as long
/// as the runtime runs. Every instance links; they take turns on the chain's head, and
/// a turn that finds nothing is one indexed read.
fn spawn_audit_linker(audit: AuditService) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(AUDIT_LINK_PERIOD);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(err) = audit.link_pending().await {
                tracing::warn!(error = %ErrorChain(&err), "could not link audit events to the chain");
            }
        }
    });
}

/// How often a PostgreSQL server fills in the order of releases stored without one.
const RELEASE_ORDER_FILL_PERIOD: Duration = Duration::from_secs(60);

/// During a rolling upgrade from a server before the release model, the older
/// instances store releases without a version order key: they would sort below every
/// other release (and a pre-release would sit on `stable`) until the next start of an
/// instance. Every minute such rows are filled in, as at startup; a turn that finds
/// none is one read. (A SQLite file has one server, whose start fills them in.)
fn spawn_release_order_fill(database: Database) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RELEASE_ORDER_FILL_PERIOD);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await; // migrate() has just filled them in
        loop {
            every.tick().await;
            if let Err(err) = database.fill_in_version_order().await {
                tracing::warn!(error = %ErrorChain(&err), "could not fill in the version order of releases");
            }
        }
    });
}

/// Ledger rows one retention sweep removes: no fixed number, all past the retention.
/// Rows recorded meanwhile are newer, so a sweep ends, and downloads faster than any
/// fixed number a sweep cannot outgrow the retention.
const LEDGER_ROWS_PER_SWEEP: u64 = u64::MAX;

/// How long the audit trail and the download ledger are kept.
#[derive(Debug, Clone, Copy)]
struct Retention {
    audit: AuditRetention,
    download_log: LedgerRetention,
}

/// Every ten minutes, for as long as the runtime runs: removes every audit event older
/// than the retention from the chain's start (each batch recording an `audit.pruned`
/// event), every row of the download ledger's days past its retention (a thousand rows
/// a statement, so writers never wait long), the download tokens that expired over an hour ago, and
/// the counts of download quota periods that are over. Every instance sweeps; sweeps on several instances take turns on the chain's head.
fn spawn_retention(
    audit: AuditService,
    downloads: DownloadService,
    delivery: DeliveryService,
    retention: Retention,
    clock: Arc<dyn Clock>,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            let now = clock.now();
            if let Some(cutoff) = retention.audit.cutoff(now) {
                match audit.prune(cutoff, now).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "audit events past retention removed"),
                    Err(err) => {
                        tracing::warn!(error = %ErrorChain(&err), "could not remove old audit events")
                    }
                }
            }
            match delivery
                .prune(retention.download_log, LEDGER_ROWS_PER_SWEEP)
                .await
            {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "download ledger rows past retention removed"),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "could not remove old download ledger rows")
                }
            }
            match downloads.purge_expired_tokens().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired download tokens removed"),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "could not remove expired download tokens")
                }
            }
            match downloads.prune_quota_counts().await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "counts of ended quota periods removed"),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "could not remove ended quota counts")
                }
            }
        }
    });
}

/// Aborts abandoned uploads and deletes their bytes, for as long as the runtime runs:
/// every tenth of the TTL (at least every second, at most every ten minutes), up to
/// 10 000 uploads a sweep. Every instance sweeps; a live upload is ended by exactly
/// one of them (see `ArtifactService::sweep_abandoned_uploads`).
fn spawn_upload_sweeper(artifacts: ArtifactService, ttl_seconds: i64) {
    let period = Duration::from_secs(u64::try_from(ttl_seconds / 10).unwrap_or(1).clamp(1, 600));
    tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        // A long sweep is not followed by a burst of the ones it overran.
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match artifacts.sweep_abandoned_uploads().await {
                Ok(report) if report.swept == 0 && report.failed == 0 => {}
                Ok(report) if report.failed == 0 => tracing::info!(
                    swept = report.swept,
                    "abandoned uploads aborted and their bytes deleted"
                ),
                Ok(report) => tracing::warn!(
                    swept = report.swept,
                    failed = report.failed,
                    first_failure = report.first_failure.as_deref().unwrap_or_default(),
                    "abandoned uploads could not all be aborted; they are tried again next sweep"
                ),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "could not sweep abandoned uploads")
                }
            }
        }
    });
}

/// Verifies, on every instance, the artifacts registered `pending` (too large to read
/// while registration waited): each is claimed by one instance, read through SHA-256,
/// and set `verified` or `failed`. Looking is one indexed query, so the default period
/// (2 s) lets pipelines waiting for `verified` learn it within seconds.
fn spawn_artifact_verifier(artifacts: ArtifactService, period: Duration) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            loop {
                match artifacts.verify_next_pending().await {
                    Ok(None) => break,
                    Ok(Some(report)) => log_verification(&report),
                    Err(err) => {
                        // Tried again a minute later when the store was unavailable,
                        // else when the claim's lease lapses.
                        tracing::warn!(error = %ErrorChain(&err), "could not verify an artifact");
                        break;
                    }
                }
            }
        }
    });
}

fn log_verification(report: &VerificationReport) {
    let artifact = &report.artifact;
    match report.outcome {
        VerifyOutcome::Matches => tracing::info!(
            artifact_id = %artifact.id,
            object_key = artifact.object_key.as_str(),
            "artifact verified"
        ),
        outcome => tracing::warn!(
            artifact_id = %artifact.id,
            object_key = artifact.object_key.as_str(),
            ?outcome,
            "artifact failed verification: its bytes are not what was registered, and were deleted"
        ),
    }
}

/// Starts the server: migrations run before the listener binds.
///
/// # Errors
/// [`StartupError`] when the database, the admin key or the listener fail.
pub async fn start(settings: Settings) -> Result<RunningServer, StartupError> {
    start_listening(settings, None, Arc::new(SystemClock)).await
}

/// Starts the server on a listener bound by the caller (tests bind port 0 first, to
/// know the public URL before the server starts); connections wait in the listener's
/// backlog until migrations have run.
///
/// # Errors
/// [`StartupError`] when the database, the admin key or the listener fail.
pub async fn start_on(
    settings: Settings,
    listener: TcpListener,
) -> Result<RunningServer, StartupError> {
    start_listening(settings, Some(listener), Arc::new(SystemClock)).await
}

/// [`start_on`] with the server's notion of now taken from `clock`: for tests of rules
/// that turn on the calendar (a download quota's period resetting at midnight UTC),
/// which cannot wait for the real one.
///
/// # Errors
/// [`StartupError`] when the database, the admin key or the listener fail.
pub async fn start_on_with_clock(
    settings: Settings,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, StartupError> {
    start_listening(settings, Some(listener), clock).await
}

/// Argon2id under the pepper, and under the previous one while a rotation's grace lasts.
fn key_hasher(settings: &Settings, pepper: Option<Vec<u8>>) -> Result<Argon2Hasher, StartupError> {
    let hasher = Argon2Hasher::new(pepper)?;
    Ok(match &settings.api_key_pepper_previous {
        Some(previous) => {
            tracing::info!(
                "pepper rotation: keys and download tokens made under the previous pepper are still accepted"
            );
            hasher.with_previous_pepper(Some(previous.clone().into_bytes()))?
        }
        None => hasher,
    })
}

/// The operator JWT verifier, when `RELEASY_OPERATOR_JWKS_URL` is set. Its keys are
/// loaded in the background, so that startup never waits on the identity provider.
fn operator_tokens(
    settings: &Settings,
) -> Result<Option<Arc<dyn OperatorTokenVerifier>>, StartupError> {
    let Some(operator) = &settings.operator else {
        return Ok(None);
    };
    let verifier = Arc::new(JwtOperatorVerifier::new(JwtConfig {
        jwks_url: operator.jwks_url.clone(),
        issuer: operator.issuer.clone(),
        audience: operator.audience.clone(),
        resource: operator.resource.clone(),
        leeway_seconds: operator.leeway_seconds,
        cache: CachePolicy::with_ttl(Duration::from_secs(operator.jwks_ttl_seconds)),
    })?);
    tracing::info!(
        issuer = operator.issuer.as_deref().unwrap_or("(any)"),
        audience = operator.audience.as_deref().unwrap_or("(any)"),
        resource = operator.resource.as_deref().unwrap_or("(none)"),
        "operator JWT sign-in enabled"
    );
    let warm = verifier.clone();
    tokio::spawn(async move { warm.warm_up().await });
    Ok(Some(verifier))
}

async fn start_listening(
    settings: Settings,
    listener: Option<TcpListener>,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, StartupError> {
    if settings.otlp_endpoint.is_some() {
        // Before the pools open: each connection takes the instrumentation it is made with.
        releasy_store_diesel::trace_queries()?;
    }
    tracing::info!(database = %settings.database_url.redacted(), "opening database");
    let database = Database::open(&settings.database_url, settings.database_max_connections)?;
    let migrated = database.migrate().await?;
    tracing::info!(
        applied = migrated.applied.len(),
        "database migrations applied"
    );
    match &database {
        Database::Sqlite(store) => store
            .checkpoint_in_background(Duration::from_millis(250))
            .map_err(StartupError::Checkpointer)?,
        Database::Postgres(_) => spawn_release_order_fill(database.clone()),
    }

    let admin_key = match (&settings.admin_api_key, &settings.operator) {
        (Some(key), _) => AdminKey::new(key.clone())
            .map(|key| key.with_previous(settings.admin_api_key_previous.clone())),
        (None, Some(_)) => None,
        (None, None) => {
            let (key, path) = generated_admin_key(&settings.data_dir)?;
            tracing::warn!(
                path = %path.display(),
                "no RELEASY_ADMIN_API_KEY or RELEASY_OPERATOR_JWKS_URL configured: using the generated admin key stored in this file"
            );
            AdminKey::new(key)
        }
    };
    let operator_tokens = operator_tokens(&settings)?;

    let storage = ArtifactStorage::from_settings(&settings, clock.clone())?;
    let stack = wrap_for_production(
        database.repositories(),
        throughput_settings(&database, &settings),
    );
    let cache_feed = feed_cache(&database, stack.invalidator.clone());
    let pepper = settings.api_key_pepper.clone().map(String::into_bytes);
    let mut repositories = stack.repositories.clone();
    repositories.idempotency = Arc::new(SealedIdempotency::new(
        repositories.idempotency,
        pepper.as_deref(),
    ));
    let mut objects = storage.store.clone();
    if settings.otlp_endpoint.is_some() {
        objects = Arc::new(ObservedObjectStore::new(
            objects,
            SpanPerCall::new(storage.kind()),
        ));
    }
    let metrics = if settings.metrics_enabled() {
        let metrics = metrics::sampling(&database, &stack);
        repositories.download_ledger =
            metrics.count_downloads(repositories.download_ledger.clone());
        objects = metrics.time_object_store(objects);
        Some(Arc::new(metrics))
    } else {
        None
    };
    let ports = Ports {
        repositories,
        objects,
        clock,
        secrets: Arc::new(OsSecrets::new()),
        hasher: Arc::new(key_hasher(&settings, pepper)?),
        rate_limiter: Arc::new(LocalRateLimiter::new(RateLimitConfig {
            auth_failures_per_minute: settings.auth_failure_limit,
            budgets: settings.rate_limits,
        })),
    };
    let limits = Limits {
        download_token_max_ttl_seconds: settings.download_token_ttl_seconds,
        presign_expires_seconds: settings.presign_expires_seconds,
        download_url_ttl_seconds: settings.download_url_ttl_seconds,
        artifact_part_size_bytes: settings.artifact_part_size_bytes,
        artifact_upload_ttl_seconds: settings.artifact_upload_ttl_seconds,
        artifact_inline_verify_max_bytes: settings.artifact_inline_verify_max_bytes,
        immutable_releases: settings.immutable_releases,
    };
    let state = web::Data::new(AppState {
        services: Services::with_limits(ports, limits),
        admin_key,
        operator_tokens,
        public_base_url: settings.public_base_url.clone(),
        release_json: Arc::default(),
        trusted_proxies: settings.trusted_proxies.clone(),
        request_limits: RequestLimits {
            max_header_bytes: settings.max_header_bytes,
            body_idle: Duration::from_secs(settings.body_idle_timeout_seconds),
        },
        metrics: metrics.clone(),
    });
    spawn_refusal_reports(state.services.authenticator.clone());
    spawn_idempotency_purge(state.services.idempotency.clone());
    let links_after_commit = !database.links_audit_events_inline();
    if links_after_commit {
        spawn_audit_linker(state.services.audit.clone());
    }
    spawn_retention(
        state.services.audit.clone(),
        state.services.downloads.clone(),
        state.services.delivery.clone(),
        Retention {
            audit: settings.audit_retention,
            download_log: settings.download_log_retention,
        },
        state.services.clock.clone(),
    );
    spawn_upload_sweeper(
        state.services.artifacts.clone(),
        settings.artifact_upload_ttl_seconds,
    );
    spawn_artifact_verifier(
        state.services.artifacts.clone(),
        Duration::from_secs(settings.artifact_verify_interval_seconds),
    );
    storage.spawn_abandoned_upload_cleanup();
    let storage = Arc::new(storage);
    let authenticator = state.services.authenticator.clone();
    let audit_chain = links_after_commit.then(|| state.services.audit.clone());

    let listener = match listener {
        Some(listener) => listener,
        None => TcpListener::bind(settings.bind_addr).map_err(|source| StartupError::Bind {
            addr: settings.bind_addr,
            source,
        })?,
    };
    let addr = listener.local_addr().map_err(|source| StartupError::Bind {
        addr: settings.bind_addr,
        source,
    })?;
    // actix counts connections per worker; the instance's limit is spread over them.
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let metrics_server = match (&metrics, settings.metrics_bind_addr) {
        (Some(metrics), Some(addr)) => {
            let (listener, bound) = MetricsListener::start(addr, metrics.clone())
                .map_err(|source| StartupError::Bind { addr, source })?;
            tracing::info!(addr = %bound, "metrics listening on GET /metrics");
            Some(listener)
        }
        _ => None,
    };
    let public_metrics = metrics.filter(|_| settings.metrics_public);
    let server = HttpServer::new(move || {
        let storage_routes = storage.routes();
        let metrics_routes = public_metrics
            .clone()
            .map(releasy_http::routes::metrics::metrics_routes);
        releasy_http::app(state.clone(), move |config| {
            storage_routes(config);
            if let Some(metrics_routes) = metrics_routes {
                metrics_routes(config);
            }
        })
    })
    .workers(workers)
    .max_connections(settings.max_connections.div_ceil(workers))
    .client_request_timeout(Duration::from_millis(settings.request_head_timeout_ms))
    .listen(listener)
    .map_err(|source| StartupError::Bind { addr, source })?
    .shutdown_timeout(settings.shutdown_grace_seconds)
    // Signals are handled by `RunningServer::run`: actix-web stops at once on Ctrl-C.
    .disable_signals()
    .run();
    tracing::info!(%addr, "releasy-server listening");
    Ok(RunningServer {
        addr,
        handle: server.handle(),
        server,
        audit: stack.audit,
        ledger: stack.ledger,
        metrics_server,
        cache_feed,
        authenticator,
        audit_chain,
    })
}
