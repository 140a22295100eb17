//! moto's S3 server, an implementation independent of s3s, as a child process.
//!
//! `moto_server` is taken from `RELEASY_TEST_MOTO_SERVER` when set, else from the
//! virtual environment `target/test-tools/moto` (created on first use with
//! `python3 -m venv` and `pip install moto[server]==MOTO_VERSION`, under a file lock so
//! that parallel tests install it once). So `cargo test` needs only Python 3 and PyPI
//! on a fresh machine, and `.ci/run` installs it beforehand.
#![allow(
    clippy::expect_used,
    reason = "test support: a server that cannot start fails the test"
)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::create_bucket;
use crate::S3Config;

/// The moto release the tests run against.
const MOTO_VERSION: &str = "5.2.5";

/// The bucket's region. Not `us-east-1`: rust-s3 sends a custom region's name as the
/// bucket's location constraint, which moto (like AWS) refuses for `us-east-1`.
pub const MOTO_REGION: &str = "eu-west-1";

/// How long moto may take to answer after it is started.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// A `moto_server` process on `127.0.0.1` with one bucket; killed when dropped.
#[derive(Debug)]
pub struct MotoS3Server {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// A bucket that exists on the server.
    pub bucket: String,
    process: Child,
}

impl MotoS3Server {
    /// Starts a server (installing moto first when needed) and creates a bucket.
    ///
    /// # Panics
    /// When moto cannot be installed or started, with the reason: this is a test
    /// fixture, and a test that needs it must fail rather than pass without it.
    pub async fn start() -> Self {
        let (process, address) = tokio::task::spawn_blocking(|| {
            let program = moto_server();
            let address = free_loopback_address();
            let process = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &address.port().to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("moto: cannot run {}: {e}", program.display()));
            wait_until_listening(address);
            (process, address)
        })
        .await
        .expect("moto: start task");
        let server = Self {
            endpoint: format!("http://{address}"),
            bucket: "releasy-artifacts".to_owned(),
            process,
        };
        create_bucket(&server.config()).await;
        server
    }

    /// Settings for an [`S3ObjectStore`](crate::S3ObjectStore) on this server's bucket
    /// (path style, region [`MOTO_REGION`]; moto takes any credentials).
    pub fn config(&self) -> S3Config {
        S3Config {
            bucket: self.bucket.clone(),
            region: MOTO_REGION.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            access_key: "moto-access-key".to_owned(),
            secret_key: "moto-secret-key".to_owned(),
            path_style: true,
        }
    }
}

impl Drop for MotoS3Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The `moto_server` program: `RELEASY_TEST_MOTO_SERVER`, or the one in the tools'
/// virtual environment, installed there if missing.
fn moto_server() -> PathBuf {
    if let Some(program) = std::env::var_os("RELEASY_TEST_MOTO_SERVER") {
        return PathBuf::from(program);
    }
    let venv = tools_dir().join("moto");
    let program = venv.join("bin").join("moto_server");
    if program.exists() {
        return program;
    }
    std::fs::create_dir_all(tools_dir()).expect("moto: create target/test-tools");
    let lock = std::fs::File::create(tools_dir().join("moto.lock")).expect("moto: lock file");
    lock.lock().expect("moto: take the install lock");
    if !program.exists() {
        install(&venv);
    }
    program
}

/// `target/test-tools` of this workspace.
fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools")
}

fn install(venv: &Path) {
    let _ = std::fs::remove_dir_all(venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(venv));
    run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("moto[server]=={MOTO_VERSION}"),
    ]));
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("moto: cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "moto: {command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A loopback port nobody listens on now (moto is told the port to use).
fn free_loopback_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("moto: find a free port")
}

fn wait_until_listening(address: SocketAddr) {
    let started = Instant::now();
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(
            started.elapsed() < STARTUP_DEADLINE,
            "moto: nothing listening on {address} after {STARTUP_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
