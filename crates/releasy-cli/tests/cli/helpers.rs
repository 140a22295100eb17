//! The harness: a server on a random port, a temporary working directory, and a
//! builder that runs the `releasy` binary with a clean environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::proxy::{Disturbance, LoopbackProxy};
use releasy_server::server;
use releasy_server::settings::Settings;
use releasy_storage_s3::testing::{TEST_REGION, TestS3Server};
use releasy_testkit::{TestPostgres, TestSqlite};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The admin key every test server is configured with.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// Where a test server keeps artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// The embedded filesystem store in the data directory.
    Embedded,
    /// An S3-compatible server (s3s-fs) on a loopback port.
    S3,
}

/// Which database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[allow(dead_code, reason = "held only for their Drop")]
enum DatabaseGuard {
    Sqlite(TestSqlite),
    Postgres(TestPostgres),
}

/// A running server, and a working directory for the CLI (also its `$HOME`).
pub struct TestServer {
    pub base_url: String,
    pub work: tempfile::TempDir,
    stop: Option<Box<dyn FnOnce() + Send>>,
    data_dir: tempfile::TempDir,
    s3: Option<TestS3Server>,
    proxy: Option<LoopbackProxy>,
    _database: DatabaseGuard,
}

impl TestServer {
    /// A server on SQLite keeping artifacts in `storage`.
    pub async fn start(storage: Storage) -> Self {
        Self::start_on(Backend::Sqlite, storage).await
    }

    /// A server on `backend` keeping artifacts in `storage`.
    pub async fn start_on(backend: Backend, storage: Storage) -> Self {
        Self::start_with(backend, storage, None, &[]).await
    }

    /// A server on SQLite keeping artifacts in `storage`, with `settings` added.
    pub async fn start_with_settings(storage: Storage, settings: &[(&str, &str)]) -> Self {
        Self::start_with(Backend::Sqlite, storage, None, settings).await
    }

    /// A server on SQLite keeping artifacts in `storage`, with `settings` added,
    /// reached (by the CLI and by every link it hands out) through a [`LoopbackProxy`]
    /// that disturbs transfers as `disturbance` says.
    pub async fn start_behind_proxy(
        storage: Storage,
        disturbance: Disturbance,
        settings: &[(&str, &str)],
    ) -> Self {
        Self::start_with(Backend::Sqlite, storage, Some(disturbance), settings).await
    }

    async fn start_with(
        backend: Backend,
        storage: Storage,
        disturbance: Option<Disturbance>,
        settings: &[(&str, &str)],
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (database_url, database) = match backend {
            Backend::Sqlite => {
                let db = TestSqlite::create();
                (
                    format!("sqlite://{}", db.path().display()),
                    DatabaseGuard::Sqlite(db),
                )
            }
            Backend::Postgres => {
                let db = TestPostgres::create().await;
                (db.url().to_owned(), DatabaseGuard::Postgres(db))
            }
        };
        // Bound first, so the public URL (which the embedded store's links use) is known.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut proxy = None;
        let base_url = match disturbance {
            None => format!("http://{}", listener.local_addr().expect("address")),
            Some(disturbance) => {
                let front = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                let server = listener.local_addr().expect("address");
                let started = LoopbackProxy::start(front, server, disturbance).await;
                let url = format!("http://{}", started.address);
                proxy = Some(started);
                url
            }
        };
        let mut env: HashMap<String, String> = HashMap::from([
            ("RELEASY_DATABASE_URL".into(), database_url),
            ("RELEASY_ADMIN_API_KEY".into(), ADMIN_KEY.into()),
            (
                "RELEASY_DATA_DIR".into(),
                data_dir.path().display().to_string(),
            ),
            ("RELEASY_PUBLIC_BASE_URL".into(), base_url.clone()),
        ]);
        let s3 = match storage {
            Storage::Embedded => None,
            Storage::S3 => {
                let s3 = TestS3Server::start().await;
                env.insert("RELEASY_ARTIFACT_BUCKET".into(), s3.bucket.clone());
                env.insert("RELEASY_ARTIFACT_REGION".into(), TEST_REGION.into());
                env.insert("RELEASY_ARTIFACT_ENDPOINT".into(), s3.endpoint.clone());
                env.insert("RELEASY_ARTIFACT_ACCESS_KEY".into(), s3.access_key.clone());
                env.insert("RELEASY_ARTIFACT_SECRET_KEY".into(), s3.secret_key.clone());
                env.insert("RELEASY_ARTIFACT_PATH_STYLE".into(), "true".into());
                Some(s3)
            }
        };
        env.extend(
            settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let settings = Settings::load(None, Some(env)).expect("test settings");
        let running = server::start_on(settings, listener)
            .await
            .expect("server starts");
        let handle = running.handle.clone();
        // `run` keeps the audit queue and the cache's change feed for the server's life.
        tokio::spawn(running.run());
        let stop = Box::new(move || {
            // Stop on a runtime of its own: Drop may run on the test's runtime thread.
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(handle.stop(false));
            })
            .join()
            .expect("server stopped");
        });
        Self {
            base_url,
            work: tempfile::tempdir().expect("work dir"),
            stop: Some(stop),
            data_dir,
            s3,
            proxy,
            _database: database,
        }
    }

    /// Whether the proxy in front (see [`Self::start_behind_proxy`]) broke a transfer.
    pub fn proxy_has_cut(&self) -> bool {
        self.proxy.as_ref().is_some_and(LoopbackProxy::has_cut)
    }

    /// Where the embedded store keeps `object_key`, or `None` on S3.
    pub fn embedded_object_path(&self, object_key: &str) -> Option<PathBuf> {
        self.s3
            .is_none()
            .then(|| self.data_dir.path().join("objects").join(object_key))
    }

    /// Where the embedded store keeps uploads in progress, or `None` on S3.
    pub fn embedded_uploads_dir(&self) -> Option<PathBuf> {
        self.s3
            .is_none()
            .then(|| self.data_dir.path().join("objects").join(".uploads"))
    }

    /// A path in the CLI's working directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// The CLI with no settings at all (only the working directory and `$HOME`).
    pub fn bare(&self) -> Cli {
        Cli::new(self.work.path())
    }

    /// The CLI, pointed at this server, with no credentials yet.
    pub fn cli(&self) -> Cli {
        Cli::new(self.work.path()).env("RELEASY_URL", &self.base_url)
    }

    /// The CLI with the admin key.
    pub fn admin(&self) -> Cli {
        self.cli().env("RELEASY_ADMIN_API_KEY", ADMIN_KEY)
    }

    /// The CLI with a customer API key.
    pub fn customer(&self, api_key: &str) -> Cli {
        self.cli().env("RELEASY_API_KEY", api_key)
    }

    /// `GET /v1/releases?product=..&version=..&include_artifacts=true` as the admin.
    pub async fn release(&self, product: &str, version: &str) -> Option<Value> {
        let body: Value = reqwest::Client::new()
            .get(format!("{}/v1/releases", self.base_url))
            .query(&[
                ("product", product),
                ("version", version),
                ("include_artifacts", "true"),
            ])
            .header("x-releasy-admin-key", ADMIN_KEY)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        body["releases"].as_array().and_then(|r| r.first().cloned())
    }

    /// A customer entitled to `product` and an API key for it, made with the CLI.
    pub async fn entitled_customer(&self, product: &str) -> (String, String) {
        self.entitled_customer_granted(product, &[]).await
    }

    /// As [`Self::entitled_customer`], the grant made with `grant_args` added (a
    /// quota, say).
    pub async fn entitled_customer_granted(
        &self,
        product: &str,
        grant_args: &[&str],
    ) -> (String, String) {
        let customer = self
            .admin()
            .args(["customer", "create", "--name", "Acme", "--json"])
            .run()
            .await
            .ok()
            .json();
        let customer_id = customer["id"].as_str().expect("id").to_owned();
        let key = self
            .admin()
            .args(["key", "create", "--customer", &customer_id, "--type", "ci"])
            .arg("--json")
            .run()
            .await
            .ok()
            .json();
        self.admin()
            .args(["entitlement", "grant", "--customer", &customer_id])
            .args(["--product", product])
            .args(grant_args)
            .run()
            .await
            .ok();
        (
            customer_id,
            key["api_key"].as_str().expect("api_key").to_owned(),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// A `releasy` invocation being put together.
pub struct Cli {
    command: tokio::process::Command,
}

impl Cli {
    /// `releasy` run in `work`, which is also its `$HOME`, with no `RELEASY_*` variable.
    pub fn new(work: &Path) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_releasy"));
        // Nothing from the developer's environment or profile file leaks in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("RELEASY_") {
                command.env_remove(name);
            }
        }
        command
            .current_dir(work)
            .env("HOME", work)
            .env("XDG_CONFIG_HOME", work.join(".config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Self { command }
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(name, value);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Runs to completion.
    pub async fn run(mut self) -> Outcome {
        let output = self.command.output().await.expect("run releasy");
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts it without waiting.
    pub fn spawn(mut self) -> tokio::process::Child {
        self.command.stdout(Stdio::null()).stderr(Stdio::null());
        self.command.spawn().expect("spawn releasy")
    }

    /// Starts it without waiting, its standard error piped (to follow its progress).
    pub fn spawn_reading_stderr(mut self) -> tokio::process::Child {
        self.command.stdout(Stdio::null()).stderr(Stdio::piped());
        self.command.spawn().expect("spawn releasy")
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Asserts exit code 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "releasy failed: {self:#?}");
        self
    }

    /// Asserts exit code `code`.
    #[track_caller]
    pub fn fails_with(self, code: i32) -> Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        self
    }

    /// Standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// The last line of standard error as JSON (`--json` errors; progress lines may
    /// come before it).
    #[track_caller]
    pub fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim().lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {self:#?}"))
    }
}

/// Writes `len` bytes (a pattern seeded by `seed`) to `path`, returning their sha256.
pub fn write_file(path: &Path, len: usize, seed: u8) -> String {
    let mut data = Vec::with_capacity(len);
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, &data).expect("write test file");
    sha256_hex(&data)
}

/// The sha256 of `path`.
pub fn file_sha256(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).expect("read file"))
}

pub fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}
