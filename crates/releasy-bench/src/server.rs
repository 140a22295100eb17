//! The server under test: the release binary as a subprocess on a loopback port, and a
//! sampler of its resident memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::fail::{Context, Result, bail};

/// The request budget of integration keys: a billion a second (the most a budget may
/// allow) is never spent.
pub const BENCH_BUDGET: &str = "1000000000/s";

/// How many servers this process started: each one's log is named by its number.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// A running `releasy-server`. Killed on drop if [`Server::stop`] was not called.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

/// How to start the server.
#[derive(Debug)]
pub struct ServerConfig<'a> {
    /// The binary.
    pub bin: &'a Path,
    /// `RELEASY_DATA_DIR`, also its working directory and where its log goes.
    pub data_dir: &'a Path,
    /// `RELEASY_DATABASE_URL`.
    pub database_url: &'a str,
    /// `RELEASY_ADMIN_API_KEY`.
    pub admin_key: &'a str,
    /// Further settings (the S3 storage variables, say).
    pub extra_env: &'a [(&'a str, String)],
}

impl Server {
    /// Starts the server on a free loopback port and waits until `GET /ready` answers
    /// 200. Every inherited `RELEASY_*` variable is removed first, so only the settings
    /// given here (and the defaults) apply.
    pub async fn start(config: &ServerConfig<'_>) -> Result<Server> {
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        std::fs::create_dir_all(config.data_dir)
            .ctx(format!("creating {}", config.data_dir.display()))?;
        // Numbered: the metrics' cost runs two servers in one directory at once, and a
        // later server may get an earlier one's port.
        let number = STARTED.fetch_add(1, Ordering::Relaxed);
        let log = config.data_dir.join(format!("server-{number}.log"));
        let log_file = std::fs::File::create(&log).ctx("creating the server log")?;
        let mut command = Command::new(config.bin);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("RELEASY_") {
                command.env_remove(name);
            }
        }
        command
            .current_dir(config.data_dir)
            .env("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("RELEASY_PUBLIC_BASE_URL", &base)
            .env("RELEASY_DATA_DIR", config.data_dir)
            .env("RELEASY_DATABASE_URL", config.database_url)
            .env("RELEASY_ADMIN_API_KEY", config.admin_key)
            .env("RELEASY_LOG_LEVEL", "warn")
            // The embedded store's one line per upload, which says how long the upload
            // waited for its SHA-256 (read by the transfer).
            .env("RELEASY_LOG", "warn,releasy_storage_fs::upload=info")
            // Integration keys carry a budget no scenario spends: what checking it and
            // writing its headers costs shows in the budgeted scenario.
            .env("RELEASY_RATE_LIMIT_INTEGRATION", BENCH_BUDGET)
            .envs(config.extra_env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().ctx("cloning the log handle")?)
            .stderr(log_file);
        let child = command
            .spawn()
            .ctx(format!("starting {}", config.bin.display()))?;
        let mut server = Server { child, base, log };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .ctx("building an HTTP client")?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().ctx("checking the server")? {
                bail!(
                    "releasy-server exited during startup ({status}); its log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(resp) = http.get(format!("{}/ready", self.base)).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "releasy-server was not ready after 120 s; its log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's log (its standard output and error).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        proc_status_kib(self.pid(), field)
    }

    /// Stops the server with SIGTERM (a graceful shutdown) and waits up to 40 s, then
    /// kills it.
    pub async fn stop(mut self) -> Result<()> {
        let pid = self.pid().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().ctx("waiting for the server")? {
                if !status.success() {
                    eprintln!(
                        "warning: releasy-server exited with {status}; its log:\n{}",
                        self.log_tail()
                    );
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                eprintln!(
                    "warning: releasy-server ignored SIGTERM for 40 s; killing it. Its log:\n{}",
                    self.log_tail()
                );
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Stops every one of `servers` (each gracefully, whatever the others did), printing
/// each one's log tail, under its name, first when `show_logs`; the first error, if any.
pub async fn stop_all(servers: Vec<(&str, Server)>, show_logs: bool) -> Result<()> {
    let mut first_error = None;
    for (name, server) in servers {
        if show_logs {
            eprintln!("{name} server log (tail):\n{}", server.log_tail());
        }
        if let Err(e) = server.stop().await {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ctx("finding a free port")?;
    Ok(listener.local_addr().ctx("reading the port")?.port())
}

/// A `/proc/<pid>/status` field (`VmRSS:   12345 kB`) in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// A `/proc/meminfo` field in KiB.
pub fn proc_meminfo_kib(field: &str) -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Samples a process's `VmRSS` every 20 ms on a thread of its own, keeping the maximum
/// overall and within an optional window.
#[derive(Debug)]
pub struct RssSampler {
    pid: u32,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<RssState>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct RssState {
    max_kib: u64,
    window_max_kib: Option<u64>,
}

impl RssSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(RssState::default()));
        let thread = {
            let stop = Arc::clone(&stop);
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = proc_status_kib(pid, "VmRSS")
                        && let Ok(mut s) = state.lock()
                    {
                        s.max_kib = s.max_kib.max(rss);
                        if let Some(w) = s.window_max_kib.as_mut() {
                            *w = (*w).max(rss);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            pid,
            stop,
            state,
            thread: Some(thread),
        }
    }

    /// Opens a window; returns the `VmRSS` at its start (KiB).
    pub fn begin_window(&self) -> u64 {
        let now = proc_status_kib(self.pid, "VmRSS").unwrap_or(0);
        if let Ok(mut s) = self.state.lock() {
            s.window_max_kib = Some(now);
        }
        now
    }

    /// Closes the window; returns the largest `VmRSS` seen in it (KiB).
    pub fn end_window(&self) -> u64 {
        let now = proc_status_kib(self.pid, "VmRSS").unwrap_or(0);
        self.state
            .lock()
            .ok()
            .and_then(|mut s| s.window_max_kib.take())
            .unwrap_or(0)
            .max(now)
    }

    /// The largest `VmRSS` sampled so far (KiB).
    pub fn max_kib(&self) -> u64 {
        self.state.lock().map(|s| s.max_kib).unwrap_or(0)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
