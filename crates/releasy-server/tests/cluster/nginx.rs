//! nginx (Debian's package) as the reverse proxy in front of the instances, configured
//! as docs/deployment.md advises: every instance an upstream, and a request the proxy
//! may safely send again (one that failed to connect, or an idempotent one whose
//! instance went away) sent to the next instance.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where nginx is looked for when `RELEASY_TEST_NGINX` does not say.
const NGINX_CANDIDATES: [&str; 2] = ["/usr/sbin/nginx", "/usr/bin/nginx"];

/// A running nginx; stopped when dropped.
pub struct Nginx {
    pub base_url: String,
    child: Child,
    dir: PathBuf,
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

fn config(dir: &Path, port: u16, upstreams: &[u16]) -> String {
    let dir = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|port| format!("    server 127.0.0.1:{port} max_fails=1 fail_timeout=1s;\n"))
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
        std::fs::write(&conf, config(dir, port, upstreams)).unwrap();
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

    /// What nginx logged about failed upstreams (shown when a test fails).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
