//! The upload in parts through the `releasy` CLI: a file larger than S3's 5 GiB limit
//! for one `PUT` (6 GiB by default) uploaded with `releasy artifact upload --parallel 4`
//! to the embedded store and to an in-process S3 server (s3s-fs), against `dd` of the
//! same size to the same disk, with the server's and the CLI's memory sampled.

use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use releasy_storage_s3::testing::{TEST_REGION, TestS3Server};
use serde_json::{Value, json};

use crate::api::Api;
use crate::fail::{Context, Result, bail};
use crate::server::{RssSampler, Server, ServerConfig};
use crate::transfer::{BigFile, dd_baseline};

const MIB: u64 = 1024 * 1024;

/// Parts sent at once, as the target states.
const PARALLEL: &str = "4";

/// Where the parts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartsStore {
    /// The embedded store in the server's data directory.
    Embedded,
    /// s3s-fs in the benchmark's process, on a temporary folder of the same disk.
    S3,
}

impl fmt::Display for PartsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Embedded => "embedded store",
            Self::S3 => "S3 (s3s-fs)",
        })
    }
}

/// The figures of one upload in parts.
#[derive(Debug, Clone)]
pub struct PartsUpload {
    /// The store.
    pub store: PartsStore,
    /// The file's size.
    pub bytes: u64,
    /// `dd` to the same disk just before, MiB/s.
    pub dd_mib_s: f64,
    /// The CLI's wall time: hashing the file, presign, the parts, registration (which
    /// joins them, and verifies them unless it leaves that to the background).
    pub cli_seconds: f64,
    /// When registration answered `pending`: how long after the CLI finished the
    /// server's background verifier set the artifact `verified`.
    pub verified_after_seconds: Option<f64>,
    /// The server's `VmRSS` growth during the upload, KiB.
    pub server_rss_growth_kib: u64,
    /// The CLI's largest `VmRSS`, KiB.
    pub cli_rss_max_kib: u64,
}

impl PartsUpload {
    /// The CLI's throughput, MiB/s.
    pub fn mib_s(&self) -> f64 {
        self.bytes as f64 / MIB as f64 / self.cli_seconds.max(f64::EPSILON)
    }
}

/// Uploads `file` in parts through `cli_bin` to a fresh server (`server_bin`, SQLite in
/// `work`) on `store`; the server's data is removed afterwards.
pub async fn run(
    server_bin: &Path,
    cli_bin: &Path,
    work: &Path,
    file: &BigFile,
    store: PartsStore,
) -> Result<PartsUpload> {
    let data_dir = work.join(match store {
        PartsStore::Embedded => "parts-embedded",
        PartsStore::S3 => "parts-s3",
    });
    let s3 = match store {
        PartsStore::Embedded => None,
        PartsStore::S3 => Some(TestS3Server::start().await),
    };
    let storage_env: Vec<(&str, String)> = s3
        .as_ref()
        .map(|s3| {
            vec![
                ("RELEASY_ARTIFACT_BUCKET", s3.bucket.clone()),
                ("RELEASY_ARTIFACT_REGION", TEST_REGION.to_owned()),
                ("RELEASY_ARTIFACT_ENDPOINT", s3.endpoint.clone()),
                ("RELEASY_ARTIFACT_ACCESS_KEY", s3.access_key.clone()),
                ("RELEASY_ARTIFACT_SECRET_KEY", s3.secret_key.clone()),
                ("RELEASY_ARTIFACT_PATH_STYLE", "true".to_owned()),
            ]
        })
        .unwrap_or_default();
    let admin_key = format!("bench-admin-{}", uuid::Uuid::new_v4().simple());
    let database_url = format!("sqlite://{}", data_dir.join("releasy.db").display());
    let server = Server::start(&ServerConfig {
        bin: server_bin,
        data_dir: &data_dir,
        database_url: &database_url,
        admin_key: &admin_key,
        extra_env: &storage_env,
    })
    .await?;
    let api = Api::new(&server.base, &admin_key)?;
    api.admin_post(
        "/v1/releases",
        json!({"product": "bench-parts", "version": "1.0.0"}),
    )
    .await?;

    let mib = file.bytes / MIB;
    let dd_dir = data_dir.clone();
    let dd_mib_s = tokio::task::spawn_blocking(move || dd_baseline(&dd_dir, mib))
        .await
        .ctx("running dd")??;

    let server_rss = RssSampler::start(server.pid());
    let before = server_rss.begin_window();
    let started = Instant::now();
    let mut command = Command::new(cli_bin);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("RELEASY_") {
            command.env_remove(name);
        }
    }
    let child = command
        .args(["artifact", "upload", "bench-parts@1.0.0"])
        .arg(&file.path)
        .args(["--platform", "linux-x86_64", "--parallel", PARALLEL])
        .args(["--quiet", "--json"])
        .env("RELEASY_URL", &server.base)
        .env("RELEASY_ADMIN_API_KEY", &admin_key)
        .env("HOME", &data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ctx(format!("starting {}", cli_bin.display()))?;
    let cli_rss = RssSampler::start(child.id());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .ctx("waiting for the CLI")?
        .ctx("running the CLI")?;
    let cli_seconds = started.elapsed().as_secs_f64();
    let cli_rss_max_kib = cli_rss.max_kib();
    if !output.status.success() {
        bail!(
            "the CLI failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let report: Value = serde_json::from_slice(&output.stdout).ctx("reading the CLI's JSON")?;
    let artifact = &report["artifacts"][0];
    if artifact["sent_bytes"].as_u64() != Some(file.bytes)
        || artifact["sha256"].as_str() != Some(file.sha256.as_str())
    {
        bail!("the CLI reported another upload: {report}");
    }
    let verified_after_seconds = match artifact["verification"].as_str() {
        Some("verified") => None,
        Some("pending") => Some(wait_until_verified(&api, started, cli_seconds).await?),
        _ => bail!("the CLI reported no verification: {report}"),
    };
    // The window covers the background verifier's read too.
    let server_max = server_rss.end_window();
    server.stop().await?;
    drop(s3);
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(PartsUpload {
        store,
        bytes: file.bytes,
        dd_mib_s,
        cli_seconds,
        verified_after_seconds,
        server_rss_growth_kib: server_max.saturating_sub(before),
        cli_rss_max_kib,
    })
}

/// Waits for the background verifier to settle the benchmark's artifact; the seconds it
/// took after the CLI finished (`cli_seconds` after `started`).
async fn wait_until_verified(api: &Api, started: Instant, cli_seconds: f64) -> Result<f64> {
    loop {
        let listing = api
            .admin_get("/v1/releases?product=bench-parts&include_artifacts=true")
            .await?;
        let state = listing["releases"][0]["artifacts"][0]["verification"].clone();
        match state.as_str() {
            Some("pending") => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            Some("verified") => return Ok(started.elapsed().as_secs_f64() - cli_seconds),
            _ => bail!("the background verifier did not verify the upload: {listing}"),
        }
    }
}
