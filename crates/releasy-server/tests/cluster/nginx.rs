//! nginx (Debian's package) as the reverse proxy in front of the instances, configured
//! as docs/deployment.md advises: every instance an upstream, and a request the proxy
//! may safely send again (one that failed to connect, or an idempotent one whose
//! instance went away) sent to the next instance.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::signal;

/// Where nginx is looked for when `RELEASY_TEST_NGINX` does not say.
const NGINX_CANDIDATES: [&str; 2] = ["/usr/sbin/nginx", "/usr/bin/nginx"];

/// A running nginx; stopped when dropped.
pub struct Nginx {
    pub base_url: String,
    child: Child,
    dir: PathBuf,
    port: u16,
    upstreams: Vec<u16>,
}

fn nginx_binary() -> PathBuf {
    if let Ok(path) = std::env::var("RELEASY_TEST_NGINX") {
        return PathBuf::from(path);
    }
    NGINX_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the multi-instance tests need nginx as their reverse proxy: install it \
                 (Debian: apt-get install nginx; .ci/run does) or set RELEASY_TEST_NGINX \
                 to its path"
            )
        })
}

/// Whether this process runs as root, where nginx's workers would otherwise switch to
/// `nobody` and lose access to the test's directory.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// The configuration that sends requests to every port in `upstreams` but `out`, which
/// stays listed as `down` (taken out of rotation).
fn config(dir: &Path, port: u16, upstreams: &[u16], out: Option<u16>) -> String {
    let dir = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|&upstream| {
            let down = if Some(upstream) == out { " down" } else { "" };
            format!("    server 127.0.0.1:{upstream} max_fails=1 fail_timeout=1s{down};\n")
        })
        .collect();
    let user = if running_as_root() { "user root;" } else { "" };
    format!(
        r#"{user}
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream releasy {{
{servers}  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location / {{
      proxy_pass http://releasy;
      # A request that never reached an instance, or an idempotent one whose instance
      # failed before answering, goes to the next instance. POSTs that reached one are
      # not sent twice: the client retries them with their Idempotency-Key.
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 1s;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"#
    )
}

impl Nginx {
    /// Starts nginx on `port` in front of the instances on `upstreams`; returns once it
    /// accepts connections.
    pub async fn start(dir: &Path, port: u16, upstreams: &[u16]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(dir, port, upstreams, None)).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut nginx = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
            dir: dir.to_owned(),
            port,
            upstreams: upstreams.to_vec(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited with {status}: {}", nginx.error_log());
            }
            assert!(Instant::now() < deadline, "nginx did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nginx
    }

    /// Takes the instance on `upstream` out of rotation (`down`), as an operator does
    /// before stopping it; returns once no nginx worker can send it a request.
    pub async fn route_around(&self, upstream: u16) {
        self.reload(Some(upstream)).await;
    }

    /// Sends requests to every instance again.
    pub async fn route_to_all(&self) {
        self.reload(None).await;
    }

    /// Rewrites the configuration and reloads it (SIGHUP). nginx starts workers on the
    /// new configuration and lets the old ones finish the requests they hold: the
    /// reload is complete once every old worker has exited.
    async fn reload(&self, out: Option<u16>) {
        let old_workers = self.workers();
        assert!(!old_workers.is_empty(), "nginx runs no worker");
        std::fs::write(
            self.dir.join("nginx.conf"),
            config(&self.dir, self.port, &self.upstreams, out),
        )
        .unwrap();
        signal(&self.child, "HUP");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let workers = self.workers();
            if !workers.is_empty() && workers.iter().all(|pid| !old_workers.contains(pid)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not reload within 10 s; old workers still holding connections:\n{}\nits error log:\n{}\nthe last requests it logged:\n{}",
                connections_of(workers.iter().filter(|pid| old_workers.contains(pid))),
                self.error_log(),
                self.access_log_tail(20)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process ids of nginx's workers (the master's children).
    fn workers(&self) -> Vec<u32> {
        let master = self.child.id();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| parent_of(pid) == Some(master))
            .collect()
    }

    /// The last `lines` requests nginx logged (shown when a reload times out).
    fn access_log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(lines).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// What nginx logged about failed upstreams (shown when a test fails).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

/// The parent process id in `/proc/{pid}/stat` (the field after the parenthesised
/// command name, which may itself hold spaces or parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TCP connections `pids` hold, as `ss` shows them (empty when `ss` is missing):
/// what keeps an old worker from exiting after a reload.
fn connections_of<'a>(pids: impl Iterator<Item = &'a u32>) -> String {
    let pids: Vec<String> = pids.map(|pid| format!("pid={pid},")).collect();
    let listing = std::process::Command::new("ss")
        .args(["-tnpi"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    listing
        .lines()
        .filter(|line| pids.iter().any(|pid| line.contains(pid.as_str())))
        .collect::<Vec<_>>()
        .join("\n")
}
