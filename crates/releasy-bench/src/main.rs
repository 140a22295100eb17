//! # releasy-bench
//!
//! The benchmark harness behind `just bench`: starts the release build of
//! `releasy-server` on loopback against SQLite and PostgreSQL, seeds a small data set
//! through the public API (and, for the large size, bulk-seeds 100 000 customers, 10 000
//! releases, 1 000 000 audit events, 200 000 download tokens and 1 000 000 download
//! ledger rows underneath first),
//! drives each scenario with `oha`, moves a large artifact through the embedded store,
//! and writes `docs/benchmarks.md`. Needs `oha`, `curl`, `dd` and a reachable
//! PostgreSQL (as for the tests).

mod api;
mod bulk;
mod disk_pressure;
mod fail;
mod ledger_export;
mod oha;
mod paired;
mod parts_upload;
mod report;
mod scenarios;
mod server;
mod settle;
mod transfer;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use releasy_store_diesel::{Database, DatabaseUrl};
use sha2::{Digest, Sha256};

use crate::api::{Api, SmallSet};
use crate::bulk::{BulkPlan, TokenHasher};
use crate::disk_pressure::DiskPressure;
use crate::fail::{Context, Result, bail};
use crate::oha::{Body, Load};
use crate::parts_upload::PartsStore;
use crate::report::{BulkInfo, RunInfo, RunResult, ScenarioResult};
use crate::scenarios::{Db, Kind, Size};
use crate::server::{RssSampler, Server, ServerConfig};
use crate::transfer::BigFile;

/// Benchmarks the release server and writes the results as Markdown.
#[derive(Debug, Parser)]
#[command(name = "releasy-bench", version)]
struct Args {
    /// The server binary (a release build).
    #[arg(long, default_value = "target/release/releasy-server")]
    server: PathBuf,
    /// Seconds each scenario is measured.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Unmeasured seconds of the same load before each scenario.
    #[arg(long, default_value_t = 1)]
    warmup_seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Databases to run on.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    databases: Vec<Db>,
    /// Data sizes to run with.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "small,large")]
    sizes: Vec<Size>,
    /// Size of the uploaded and downloaded artifact in MiB (0 skips the transfer). It
    /// runs once per database, in the small-data run.
    #[arg(long, default_value_t = 2048)]
    transfer_mib: u64,
    /// Size of the file uploaded in parts through the CLI, to each store, in MiB (0
    /// skips it). Runs once, after the databases.
    #[arg(long, default_value_t = 6144)]
    parts_mib: u64,
    /// The CLI binary (a release build), for the upload in parts.
    #[arg(long, default_value = "target/release/releasy")]
    cli: PathBuf,
    /// Where the Markdown goes.
    #[arg(long, default_value = "docs/benchmarks.md")]
    output: PathBuf,
    /// Hand-written notes (profiles of missed targets) included at the end, when the
    /// file exists.
    #[arg(long, default_value = "docs/benchmark-notes.md")]
    notes: PathBuf,
    /// The load generator.
    #[arg(long, default_value = "oha")]
    oha: PathBuf,
    /// Folder for data directories and the transfer file (its disk is the one `dd`
    /// measures); a temporary folder inside it is removed at the end.
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("releasy-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn progress(message: impl AsRef<str>) {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "releasy-bench: {}", message.as_ref());
}

async fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    if !args.server.is_file() {
        bail!(
            "no server binary at {} (build it with `cargo build --release -p releasy-server`)",
            args.server.display()
        );
    }
    let server_bin = std::fs::canonicalize(&args.server).ctx("resolving the server path")?;
    let oha_version = oha::version(&args.oha)?;
    let base_dir = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir(),
    };
    let work = tempfile::Builder::new()
        .prefix("releasy-bench-")
        .tempdir_in(&base_dir)
        .ctx(format!("creating a folder in {}", base_dir.display()))?;

    let mut info = machine_info();
    info.load = load_average();
    let busy: f64 = info
        .load
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0.0);
    if busy > 0.5 {
        progress(format!(
            "warning: the machine is busy (load average {}); the figures will be noisy",
            info.load
        ));
    }
    info.oha = oha_version;
    info.seconds = args.seconds;
    info.warmup_seconds = args.warmup_seconds;
    info.connections = args.connections;
    info.transfer_mib = args.transfer_mib;
    info.sqlite = sqlite_version();

    let big_file = if args.transfer_mib > 0 {
        progress(format!("generating a {} MiB artifact", args.transfer_mib));
        Some(transfer::generate(work.path(), args.transfer_mib)?)
    } else {
        None
    };

    let mut runs = Vec::new();
    for db in &args.databases {
        for size in &args.sizes {
            progress(format!("{db}, {size} data"));
            let transfer_file = big_file
                .as_ref()
                .filter(|_| *size == Size::Small || !args.sizes.contains(&Size::Small));
            let result = run_one(&args, &server_bin, work.path(), *db, *size, transfer_file)
                .await
                .ctx(format!("{db}, {size} data"))?;
            if *db == Db::Postgres && info.postgres.is_none() {
                info.postgres = postgres_version().await;
            }
            runs.push(result);
        }
    }
    if let Some(file) = &big_file {
        let _ = std::fs::remove_file(&file.path);
    }
    if args.parts_mib > 0 {
        info.parts_uploads = upload_in_parts(&args, &server_bin, work.path()).await?;
    }

    info.total_seconds = started.elapsed().as_secs_f64();
    if args.notes.is_file() {
        let notes = std::fs::read_to_string(&args.notes).ctx("reading the notes")?;
        info.notes = Some((args.notes.display().to_string(), notes));
    }
    let markdown = report::render(&info, &runs);
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).ctx("creating the output folder")?;
    }
    std::fs::write(&args.output, &markdown).ctx(format!("writing {}", args.output.display()))?;
    progress(format!(
        "wrote {} in {:.1} min",
        args.output.display(),
        info.total_seconds / 60.0
    ));
    Ok(())
}

/// The file of `--parts-mib` uploaded in parts through the CLI to each store.
async fn upload_in_parts(
    args: &Args,
    server_bin: &Path,
    work: &Path,
) -> Result<Vec<parts_upload::PartsUpload>> {
    if !args.cli.is_file() {
        bail!(
            "no CLI binary at {} (build it with `cargo build --release -p releasy-cli`)",
            args.cli.display()
        );
    }
    let cli = std::fs::canonicalize(&args.cli).ctx("resolving the CLI path")?;
    progress(format!(
        "generating a {} MiB file to upload in parts",
        args.parts_mib
    ));
    let file = transfer::generate(work, args.parts_mib)?;
    let mut uploads = Vec::new();
    for store in [PartsStore::Embedded, PartsStore::S3] {
        progress(format!("{} MiB in parts to the {store}", args.parts_mib));
        let upload = parts_upload::run(server_bin, &cli, work, &file, store)
            .await
            .ctx(format!("the upload in parts to the {store}"))?;
        progress(format!(
            "  {:.0} MiB/s, dd {:.0} MiB/s, server RSS growth {:.1} MiB, CLI RSS {:.1} MiB",
            upload.mib_s(),
            upload.dd_mib_s,
            upload.server_rss_growth_kib as f64 / 1024.0,
            upload.cli_rss_max_kib as f64 / 1024.0
        ));
        uploads.push(upload);
    }
    let _ = std::fs::remove_file(&file.path);
    Ok(uploads)
}

/// A fresh database of `db`, kept alive (PostgreSQL: dropped) by the returned guard.
async fn fresh_database(
    db: Db,
    data_dir: &Path,
) -> Result<(String, Option<releasy_testkit::TestPostgres>)> {
    match db {
        Db::Sqlite => Ok((
            format!("sqlite://{}", data_dir.join("releasy.db").display()),
            None,
        )),
        Db::Postgres => {
            // TestPostgres panics with directions when PostgreSQL is unreachable.
            let created = tokio::spawn(releasy_testkit::TestPostgres::create())
                .await
                .ctx("creating a PostgreSQL database")?;
            Ok((created.url().to_owned(), Some(created)))
        }
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The server's download-token rule: lower-case hex SHA-256 of the raw token (no
/// pepper is configured).
fn token_hasher() -> TokenHasher {
    Arc::new(|raw: &str| api::hex(&Sha256::digest(raw.as_bytes())))
}

async fn run_one(
    args: &Args,
    server_bin: &Path,
    work: &Path,
    db: Db,
    size: Size,
    big_file: Option<&BigFile>,
) -> Result<RunResult> {
    let data_dir = work.join(format!("{db}-{size}").to_lowercase());
    std::fs::create_dir_all(&data_dir).ctx("creating the data directory")?;
    let (database_url, pg_guard) = fresh_database(db, &data_dir).await?;
    let url = DatabaseUrl::parse(&database_url).ctx("parsing the database URL")?;

    let mut bulk = None;
    let mut resolvable = Vec::new();
    if size == Size::Large {
        let database = Database::open(&url, 1).ctx("opening the database")?;
        database.migrate().await.ctx("migrating")?;
        drop(database);
        progress("  bulk seeding the large set");
        let seeded = Instant::now();
        let report = bulk::seed(&url, &BulkPlan::large(now_unix()), token_hasher())
            .await
            .ctx("bulk seeding")?;
        progress(format!(
            "  seeded {} rows in {:.0} s",
            report.total_rows(),
            seeded.elapsed().as_secs_f64()
        ));
        resolvable = report.resolvable_tokens.clone();
        bulk = Some(BulkInfo {
            rows: report.rows,
            seconds: seeded.elapsed().as_secs_f64(),
            token_check: String::new(),
        });
    }

    let admin_key = format!(
        "bench-admin-{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let server = Server::start(&ServerConfig {
        bin: server_bin,
        data_dir: &data_dir,
        database_url: &database_url,
        admin_key: &admin_key,
        extra_env: &[],
    })
    .await?;
    let rss = RssSampler::start(server.pid());
    let api = Api::new(&server.base, &admin_key)?;

    let outcome = measure(
        args,
        &api,
        &server,
        &rss,
        (db, size),
        &url,
        bulk,
        big_file,
        &resolvable,
        work,
    )
    .await;
    let peak_rss_kib = server.status_kib("VmHWM").unwrap_or(0).max(rss.max_kib());
    drop(rss);
    if outcome.is_err() {
        eprintln!("server log (tail):\n{}", server.log_tail());
    }
    server.stop().await?;
    let (mut result, target) = outcome?;

    // The resolve once more, on a server that keeps no ledger: what the ledger costs.
    let unrecorded = ServerConfig {
        bin: server_bin,
        data_dir: &data_dir,
        database_url: &database_url,
        admin_key: &admin_key,
        extra_env: &[("RELEASY_DOWNLOAD_LOG", "false".to_owned())],
    };
    let server = Server::start(&unrecorded).await?;
    let api = Api::new(&server.base, &admin_key)?;
    let measured = resolve_scenario(args, &api, &target, None, Kind::ResolveUnrecorded).await;
    if measured.is_err() {
        eprintln!("server log (tail):\n{}", server.log_tail());
    }
    server.stop().await?;
    result.scenarios.push(measured?);

    // What the metrics cost: the customer listing on two servers started for each round
    // on a settled database, one with metrics and one without, up at once and loaded in
    // turn (see `paired`), so that a fresh start and the machine's drift weigh on both.
    let plain = ServerConfig {
        bin: server_bin,
        data_dir: &data_dir,
        database_url: &database_url,
        admin_key: &admin_key,
        extra_env: &[],
    };
    let kinds = [
        Kind::CustomerReleasesUnmetered,
        Kind::CustomerReleasesMetered,
    ];
    let paired = paired::summed_rounds(kinds, async |round| {
        settle::settle(&url).await.ctx("settling the database")?;
        metrics_round(args, &plain, &target.api_key, kinds, round).await
    })
    .await?;
    result.scenarios.extend(paired);
    drop(pg_guard);
    let _ = std::fs::remove_dir_all(&data_dir);

    result.peak_rss_kib = peak_rss_kib;
    Ok(result)
}

/// One round of the metrics' cost: a server for each of `kinds` (with metrics for
/// [`Kind::CustomerReleasesMetered`]), started from `plain` one after the other (which
/// first alternates by round, as does which is loaded first), then loaded in turn, then
/// stopped.
async fn metrics_round(
    args: &Args,
    plain: &ServerConfig<'_>,
    api_key: &str,
    kinds: [Kind; 2],
    round: usize,
) -> Result<[Vec<oha::Measured>; 2]> {
    let order = paired::in_turn(round);
    let mut servers = Vec::with_capacity(2);
    for which in order {
        let metrics = kinds[which] == Kind::CustomerReleasesMetered;
        let env = [("RELEASY_METRICS", metrics.to_string())];
        let config = ServerConfig {
            extra_env: &env,
            ..*plain
        };
        match Server::start(&config).await {
            Ok(server) => servers.push((kinds[which].short(), server)),
            Err(e) => {
                // The failed start's error carries its log, and is the one to report;
                // the other server still stops cleanly.
                if let Err(stop) = server::stop_all(servers, false).await {
                    eprintln!("warning: {stop}");
                }
                return Err(e);
            }
        }
    }
    // Back in the order of `kinds`.
    if order[0] == 1 {
        servers.reverse();
    }
    let loads =
        [&servers[0].1, &servers[1].1].map(|server| customer_listing(&server.base, api_key));
    let measured = paired::alternating_slices(args, &loads, round).await;
    let stopped = server::stop_all(servers, measured.is_err()).await;
    let measured = measured?;
    stopped?;
    Ok(measured)
}

/// The customer listing with `api_key` on the server at `base`.
fn customer_listing(base: &str, api_key: &str) -> Load {
    Load {
        method: "GET",
        url: format!(
            "{base}/v1/releases?product={}&include_artifacts=true",
            api::PRODUCT
        ),
        headers: vec![format!("x-releasy-api-key: {api_key}")],
        body: Body::None,
    }
}

/// What the resolve scenarios download: the measured customer's key and an artifact.
struct ResolveTarget {
    api_key: String,
    artifact_id: String,
}

/// Runs a resolve scenario (`kind`) on a fresh token of `target`, limited to
/// `max_uses` when given.
async fn resolve_scenario(
    args: &Args,
    api: &Api,
    target: &ResolveTarget,
    max_uses: Option<u32>,
    kind: Kind,
) -> Result<ScenarioResult> {
    // A fresh token (the longest lifetime), so it outlives the scenario; a limited one
    // allows the most uses, more than any run resolves.
    let url = api
        .download_url_limited(&target.api_key, &target.artifact_id, max_uses)
        .await?;
    let (status, _) = api.get_status(&url).await?;
    if status.as_u16() != 302 {
        bail!("a fresh download token resolved with {status}, expected 302");
    }
    let load = Load {
        method: "GET",
        url,
        headers: vec![],
        body: Body::None,
    };
    if args.warmup_seconds > 0 {
        oha::run(&args.oha, &load, args.warmup_seconds, args.connections).await?;
    }
    let measured = oha::run(&args.oha, &load, args.seconds, args.connections).await?;
    report_progress(kind, &measured);
    Ok(ScenarioResult { kind, measured })
}

fn report_progress(kind: Kind, m: &oha::Measured) {
    progress(format!(
        "  {:<22} {:>9.1} req/s  p50 {:>8.2} ms  p99 {:>8.2} ms  statuses {:?}{}",
        kind.short(),
        m.rps,
        m.p50_ms,
        m.p99_ms,
        m.statuses,
        if m.failures.is_empty() {
            String::new()
        } else {
            format!("  failures {:?}", m.failures)
        }
    ));
}

#[allow(clippy::too_many_arguments, reason = "one call site, all plain inputs")]
async fn measure(
    args: &Args,
    api: &Api,
    server: &Server,
    rss: &RssSampler,
    (db, size): (Db, Size),
    database: &DatabaseUrl,
    mut bulk: Option<BulkInfo>,
    big_file: Option<&BigFile>,
    resolvable: &[String],
    work: &Path,
) -> Result<(RunResult, ResolveTarget)> {
    let base = &server.base;
    if let Some(bulk) = bulk.as_mut() {
        bulk.token_check = match resolvable.first() {
            Some(token) => {
                let url = format!("{base}/v1/downloads/{token}");
                api.get_status(&url).await?.0.as_u16().to_string()
            }
            None => "nothing (no resolvable token was seeded)".into(),
        };
    }

    progress(format!(
        "  seeding {} releases of {}",
        api::DEEP_RELEASES,
        api::DEEP_PRODUCT
    ));
    let deep_rows = api.seed_deep_product().await?;
    progress("  seeding the small set through the API");
    let small: SmallSet = api.seed_small().await?;
    api.entitle_to_deep_product(&small.customer_id).await?;
    let narrowed_key_header = format!("x-releasy-api-key: {}", api.narrowed_customer_key().await?);
    progress("  walking the customer cursor");
    let (deep_cursor, deep_pages) = api.deep_customer_cursor(1000).await?;

    let key_header = format!("x-releasy-api-key: {}", small.api_key);
    let budgeted_key = api.budgeted_key(&small.customer_id).await?;
    let admin_header = api.admin_header();
    let latest_url = format!("{base}/v1/releases/latest?product={}", api::PRODUCT);
    let latest_etag = api.etag(&small.api_key, &latest_url).await?;
    let lines = (args.seconds as usize * 300_000).clamp(300_000, 3_000_000);
    let target = ResolveTarget {
        api_key: small.api_key.clone(),
        artifact_id: small.artifact_ids[0].clone(),
    };
    let mut scenarios = Vec::new();
    for kind in Kind::ALL {
        let load = |kind: Kind, phase: &str| -> Result<Load> {
            Ok(match kind {
                Kind::Live => Load {
                    method: "GET",
                    url: format!("{base}/live"),
                    headers: vec![],
                    body: Body::None,
                },
                Kind::CustomerReleases
                | Kind::CustomerReleasesUnbudgeted
                | Kind::CustomerReleasesDiskBusy => customer_listing(base, &small.api_key),
                Kind::CustomerReleasesBudgeted => customer_listing(base, &budgeted_key),
                Kind::UnknownKey => Load {
                    method: "POST",
                    url: format!("{base}/v1/auth/introspect"),
                    headers: vec![format!("x-releasy-api-key: releasy_{}", "0".repeat(43))],
                    body: Body::None,
                },
                Kind::CustomerReleasesNarrowed => Load {
                    method: "GET",
                    url: format!("{base}/v1/releases?product={}&limit=50", api::DEEP_PRODUCT),
                    headers: vec![narrowed_key_header.clone()],
                    body: Body::None,
                },
                Kind::Latest => Load {
                    method: "GET",
                    url: latest_url.clone(),
                    headers: vec![key_header.clone()],
                    body: Body::None,
                },
                Kind::LatestNotModified => Load {
                    method: "GET",
                    url: latest_url.clone(),
                    headers: vec![key_header.clone(), format!("if-none-match: {latest_etag}")],
                    body: Body::None,
                },
                Kind::Upgrade => Load {
                    method: "GET",
                    url: format!(
                        "{base}/v1/releases/upgrade?product={}&current=2.0.0",
                        api::PRODUCT
                    ),
                    headers: vec![key_header.clone()],
                    body: Body::None,
                },
                Kind::LatestDeep => Load {
                    method: "GET",
                    url: format!("{base}/v1/releases/latest?product={}", api::DEEP_PRODUCT),
                    headers: vec![key_header.clone()],
                    body: Body::None,
                },
                Kind::Introspect | Kind::IntrospectDiskBusy => Load {
                    method: "POST",
                    url: format!("{base}/v1/auth/introspect"),
                    headers: vec![key_header.clone()],
                    body: Body::None,
                },
                Kind::Resolve
                | Kind::ResolveLimited
                | Kind::ResolveMetered
                | Kind::ResolveUnrecorded => {
                    unreachable!("built below with a fresh token")
                }
                Kind::CustomerReleasesMetered | Kind::CustomerReleasesUnmetered => {
                    unreachable!("measured on a server of its own")
                }
                Kind::DownloadStats => Load {
                    method: "GET",
                    url: format!(
                        "{base}/v1/admin/downloads/stats?group_by=day&product={}",
                        match size {
                            Size::Small => api::PRODUCT,
                            Size::Large => "bulk-product-007",
                        }
                    ),
                    headers: vec![admin_header.clone()],
                    body: Body::None,
                },
                Kind::AdminCustomersFirst => Load {
                    method: "GET",
                    url: format!("{base}/v1/admin/customers?limit={}", api::CUSTOMER_PAGE),
                    headers: vec![admin_header.clone()],
                    body: Body::None,
                },
                Kind::AdminCustomersDeep => Load {
                    method: "GET",
                    url: format!(
                        "{base}/v1/admin/customers?limit={}&cursor={}",
                        api::CUSTOMER_PAGE,
                        api::url_encode(&deep_cursor)
                    ),
                    headers: vec![admin_header.clone()],
                    body: Body::None,
                },
                Kind::AdminReleases => Load {
                    method: "GET",
                    url: format!("{base}/v1/releases?include_artifacts=true"),
                    headers: vec![admin_header.clone()],
                    body: Body::None,
                },
                Kind::DownloadToken => Load {
                    method: "POST",
                    url: format!("{base}/v1/downloads/token"),
                    headers: vec![key_header.clone()],
                    body: Body::Json(
                        serde_json::json!({
                            "artifact_id": small.artifact_ids[0],
                            "expires_in_seconds": 300,
                        })
                        .to_string(),
                    ),
                },
                Kind::CreateRelease => {
                    let path = work.join(format!("create-release-{phase}.jsonl"));
                    write_release_bodies(&path, &format!("bench-create-{phase}"), lines)?;
                    Load {
                        method: "POST",
                        url: format!("{base}/v1/releases"),
                        headers: vec![admin_header.clone()],
                        body: Body::JsonLines(path),
                    }
                }
            })
        };
        if matches!(kind, Kind::Resolve | Kind::ResolveLimited) {
            let max_uses = (kind == Kind::ResolveLimited).then_some(1_000_000);
            scenarios.push(resolve_scenario(args, api, &target, max_uses, kind).await?);
            continue;
        }
        if kind == Kind::ResolveMetered {
            let metered = ResolveTarget {
                api_key: api.metered_customer_key().await?,
                artifact_id: target.artifact_id.clone(),
            };
            scenarios.push(resolve_scenario(args, api, &metered, None, kind).await?);
            continue;
        }
        if kind == Kind::CustomerReleasesBudgeted {
            // The two keys on this server in turn, each round on a settled database, as
            // for the metrics' cost.
            let kinds = [kind, Kind::CustomerReleasesUnbudgeted];
            let loads = [load(kinds[0], "measured")?, load(kinds[1], "measured")?];
            let paired = paired::summed_rounds(kinds, async |round| {
                settle::settle(database)
                    .await
                    .ctx("settling the database")?;
                paired::alternating_slices(args, &loads, round).await
            })
            .await?;
            scenarios.extend(paired);
            continue;
        }
        if kind == Kind::CustomerReleasesUnbudgeted {
            // Measured in turn with the budgeted key.
            continue;
        }
        let (warmup, measured) = (load(kind, "warmup")?, load(kind, "measured")?);
        let pressure = kind.disk_busy().then(|| DiskPressure::start(work));
        if args.warmup_seconds > 0 {
            oha::run(&args.oha, &warmup, args.warmup_seconds, args.connections).await?;
        }
        let m = oha::run(&args.oha, &measured, args.seconds, args.connections).await?;
        if let Some(pressure) = pressure {
            let rounds = pressure.stop().await?;
            progress(format!("  (dd synced {rounds} x 64 MiB meanwhile)"));
        }
        report_progress(kind, &m);
        scenarios.push(ScenarioResult { kind, measured: m });
        for phase in ["warmup", "measured"] {
            let _ = std::fs::remove_file(work.join(format!("create-release-{phase}.jsonl")));
        }
    }

    progress("  CSV export of the whole download ledger");
    let export = ledger_export::run(api, rss).await?;
    progress(format!(
        "  exported {} rows in {:.1} s ({:.0} rows/s), RSS growth {:.1} MiB",
        export.rows,
        export.seconds,
        export.rows_per_second(),
        export.rss_growth_kib() as f64 / 1024.0
    ));

    let transfer = match big_file {
        Some(file) => {
            progress(format!(
                "  {} MiB upload and download",
                file.bytes / (1024 * 1024)
            ));
            let t = transfer::run(
                api,
                &small.customer_id,
                &small.api_key,
                file,
                work,
                rss,
                server.log_path(),
            )
            .await?;
            progress(format!(
                "  upload {:.0} MiB/s, download {:.0} MiB/s, dd {:.0} MiB/s, RSS growth {:.1} MiB",
                t.upload_mib_s,
                t.download_mib_s,
                t.dd_mib_s,
                t.rss_growth_kib() as f64 / 1024.0
            ));
            Some(t)
        }
        None => None,
    };

    let result = RunResult {
        db,
        size,
        api_rows: small.rows + deep_rows,
        bulk,
        deep_pages,
        scenarios,
        peak_rss_kib: 0,
        transfer,
        create_release_lines: lines,
        ledger_export: Some(export),
    };
    Ok((result, target))
}

/// `lines` distinct `POST /v1/releases` bodies of `product`, one a line.
fn write_release_bodies(path: &Path, product: &str, lines: usize) -> Result<()> {
    let file = std::fs::File::create(path).ctx("creating the release bodies")?;
    let mut out = std::io::BufWriter::new(file);
    for i in 0..lines {
        writeln!(
            out,
            r#"{{"product":"{product}","version":"{}.{}.{}"}}"#,
            i / 1_000_000,
            (i / 1_000) % 1_000,
            i % 1_000
        )
        .ctx("writing the release bodies")?;
    }
    out.flush().ctx("writing the release bodies")
}

fn machine_info() -> RunInfo {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let memory_gib = server::proc_meminfo_kib("MemTotal").unwrap_or(0) as f64 / 1024.0 / 1024.0;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"])
        .map(|c| {
            let dirty =
                command_output("git", &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c} (with uncommitted changes)")
            } else {
                c
            }
        })
        .unwrap_or_else(|| "unknown".into());
    RunInfo {
        date,
        commit,
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_gib,
        kernel,
        ..RunInfo::default()
    }
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn sqlite_version() -> String {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    SqliteConnection::establish(":memory:")
        .ok()
        .and_then(|mut conn| {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                "sqlite_version()",
            ))
            .get_result::<String>(&mut conn)
            .ok()
        })
        .map(|v| format!("{v} (bundled with libsqlite3-sys)"))
        .unwrap_or_else(|| "unknown".into())
}

async fn postgres_version() -> Option<String> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(&releasy_testkit::admin_url())
        .await
        .ok()?;
    let version: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_setting('server_version')",
    ))
    .get_result(&mut conn)
    .await
    .ok()?;
    Some(version)
}
