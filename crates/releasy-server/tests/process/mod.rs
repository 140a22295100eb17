//! The `releasy-server` binary as a child process, configured only by the `RELEASY_*`
//! variables a test gives it: shared by the test binaries that run it as operators do.

#![allow(dead_code, reason = "each test binary uses a part of it")]

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_releasy-server");

/// A loopback port nothing listens on (as far as this process knows).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary in `cwd` with `args` and exactly `vars` as its `RELEASY_*` environment
/// (the test's own `RELEASY_*` variables removed), output not yet directed.
pub fn server_command(cwd: &Path, args: &[&str], vars: &[(&str, String)]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args).current_dir(cwd);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("RELEASY_")) {
        command.env_remove(name);
    }
    command.env("NO_COLOR", "1");
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

/// Starts the binary in `cwd` with exactly `vars` as its `RELEASY_*` environment; its
/// output is piped for [`output_of`].
pub fn spawn(cwd: &Path, vars: &[(&str, String)]) -> Child {
    spawn_command(cwd, &[], vars)
}

/// As [`spawn`], with command-line arguments.
pub fn spawn_command(cwd: &Path, args: &[&str], vars: &[(&str, String)]) -> Child {
    server_command(cwd, args, vars)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `base` answers `GET /live`; fails at once when the server exits.
pub async fn wait_until_live(base: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("{base}/live")).await
            && response.status() == 200
        {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server exited early with {status}: {}", output_of(child));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not become live");
}

/// Everything a piped child printed (empty for output sent elsewhere).
pub fn output_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut text).unwrap();
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut text).unwrap();
    }
    text
}

/// Every customer whose name contains `name` (all with `""`), as the server at `base`
/// lists them to `admin_key`, over as many pages as it takes.
pub async fn customers_named(
    client: &reqwest::Client,
    base: &str,
    admin_key: &str,
    name: &str,
) -> Vec<serde_json::Value> {
    let mut stored = Vec::new();
    for offset in (0..).step_by(200) {
        let page: serde_json::Value = client
            .get(format!("{base}/v1/admin/customers"))
            .query(&[("name", name)])
            .query(&[("limit", 200), ("offset", offset)])
            .header("x-releasy-admin-key", admin_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let customers = page["customers"].as_array().unwrap().clone();
        let last = customers.len() < 200;
        stored.extend(customers);
        if last {
            return stored;
        }
    }
    unreachable!("the pages end")
}

/// Sends `signal` (`TERM`, `KILL`, ...) to the child.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {}", child.id());
}

/// SIGTERM, then the exit status and everything the server printed.
pub fn terminate(child: &mut Child) -> (std::process::ExitStatus, String) {
    signal(child, "TERM");
    let exit = child.wait().unwrap();
    (exit, output_of(child))
}

/// A client of the server at `base`, as its admin (`admin_key`) or a customer; it does
/// not follow redirects, so a download's 302 can be looked at.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub admin_key: String,
}

impl Api {
    pub fn new(base: String, admin_key: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            http,
            admin_key: admin_key.to_owned(),
        }
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("x-releasy-admin-key", &self.admin_key)
    }

    pub fn customer(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("x-releasy-api-key", key)
    }
}

/// Sends `request` and returns its JSON body, failing unless it succeeded.
pub async fn ok_json(request: reqwest::RequestBuilder) -> serde_json::Value {
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).unwrap()
}
