//! The `releasy-server` binary as operators run it: configured only by `RELEASY_*`
//! variables (or nothing at all), stopped by SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use releasy_testkit::TestPostgres;
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_releasy-server");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary in `cwd` with exactly `vars` as its `RELEASY_*` environment.
fn spawn(cwd: &Path, vars: &[(&str, String)]) -> Child {
    let mut command = Command::new(BINARY);
    command
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("RELEASY_")) {
        command.env_remove(name);
    }
    command.env("NO_COLOR", "1");
    for (name, value) in vars {
        command.env(name, value);
    }
    command.spawn().unwrap()
}

async fn wait_until_live(base: &str, child: &mut Child) {
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

fn output_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut text).unwrap();
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut text).unwrap();
    }
    text
}

/// SIGTERM, then the exit status and everything the server printed.
fn terminate(child: &mut Child) -> (std::process::ExitStatus, String) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    (exit, output_of(child))
}

async fn create_customer(base: &str, admin_key: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/admin/customers"))
        .header("x-releasy-admin-key", admin_key)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_configuration_it_runs_on_sqlite_and_generates_an_admin_key() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(
        cwd.path(),
        &[("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}"))],
    );
    wait_until_live(&base, &mut child).await;

    let key_file = cwd.path().join("releasy-data/admin-api-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(cwd.path().join("releasy-data/releasy.db").is_file());
    let admin_key = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(create_customer(&base, &admin_key).await.status(), 200);
    assert_eq!(
        reqwest::get(format!("{base}/ready"))
            .await
            .unwrap()
            .status(),
        200
    );

    let (exit, output) = terminate(&mut child);
    assert!(exit.success(), "graceful shutdown exits 0: {output}");
    assert!(
        output.contains("admin-api-key"),
        "the key file's path is logged: {output}"
    );
    assert!(
        !output.contains(&admin_key),
        "the key itself is never logged"
    );

    // A restart keeps the data and the generated key.
    let mut again = spawn(
        cwd.path(),
        &[("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}"))],
    );
    wait_until_live(&base, &mut again).await;
    let listed: Value = reqwest::Client::new()
        .get(format!("{base}/v1/admin/customers"))
        .header("x-releasy-admin-key", &admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["customers"].as_array().unwrap().len(), 1);
    terminate(&mut again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_variables_it_serves_from_postgres_without_generating_a_key() {
    let db = TestPostgres::create().await;
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(
        cwd.path(),
        &[
            ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
            ("RELEASY_DATABASE_URL", db.url().to_owned()),
            ("RELEASY_ADMIN_API_KEY", "ops-key".to_owned()),
            ("RELEASY_LOG_FORMAT", "json".to_owned()),
        ],
    );
    wait_until_live(&base, &mut child).await;
    assert_eq!(create_customer(&base, "ops-key").await.status(), 200);
    assert!(!cwd.path().join("releasy-data/admin-api-key").exists());
    assert!(!cwd.path().join("releasy-data/releasy.db").exists());
    let (exit, output) = terminate(&mut child);
    assert!(exit.success());
    let request_line = output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["span"]["route"] == "/v1/admin/customers")
        .expect("a JSON log line for the request");
    assert_eq!(request_line["status"], 200);
    assert_eq!(request_line["span"]["method"], "POST");
    assert!(request_line["span"]["request_id"].is_string());
    assert!(request_line["latency_ms"].is_number());
    assert!(!output.contains("ops-key"), "secrets are never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_migrate_one_postgres_safely() {
    let db = TestPostgres::create().await;
    let cwd = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    for _ in 0..3 {
        let port = free_port();
        let child = spawn(
            cwd.path(),
            &[
                ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
                ("RELEASY_DATABASE_URL", db.url().to_owned()),
                ("RELEASY_ADMIN_API_KEY", "ops-key".to_owned()),
            ],
        );
        servers.push((format!("http://127.0.0.1:{port}"), child));
    }
    for (base, child) in &mut servers {
        wait_until_live(base, child).await;
        assert_eq!(
            reqwest::get(format!("{base}/ready"))
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(create_customer(base, "ops-key").await.status(), 200);
    }
    for (_, child) in &mut servers {
        let (exit, _) = terminate(child);
        assert!(exit.success());
    }
}

#[test]
fn invalid_configuration_stops_startup_naming_the_variable() {
    let cwd = tempfile::tempdir().unwrap();
    for (vars, expected) in [
        (
            vec![("RELEASY_LOG_LEVEL", "loud")],
            vec!["RELEASY_LOG_LEVEL"],
        ),
        (
            vec![("RELEASY_DATABASE_URL", "mysql://db")],
            vec!["RELEASY_DATABASE_URL"],
        ),
        (
            vec![("RELEASY_PUBLIC_BASE_URL", "::nope")],
            vec!["RELEASY_PUBLIC_BASE_URL"],
        ),
        (
            vec![
                ("RELEASY_ARTIFACT_BUCKET", "b"),
                ("RELEASY_ARTIFACT_REGION", "r"),
            ],
            vec!["RELEASY_ARTIFACT_ACCESS_KEY", "RELEASY_ARTIFACT_SECRET_KEY"],
        ),
    ] {
        let vars: Vec<(&str, String)> = vars.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        let output = spawn(cwd.path(), &vars).wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{vars:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for name in expected {
            assert!(stderr.contains(name), "{vars:?}: {stderr}");
        }
    }
    assert!(
        !cwd.path().join("releasy-data").exists(),
        "nothing is written before the configuration is valid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_writes_every_queued_audit_event() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let vars = [
        ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
        ("RELEASY_ADMIN_API_KEY", "ops-key".to_owned()),
        // Nothing is written before the shutdown unless the shutdown writes it.
        ("RELEASY_AUDIT_FLUSH_INTERVAL_MS", "60000".to_owned()),
    ];
    let mut child = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut child).await;
    let client = reqwest::Client::new();
    let customer: Value = create_customer(&base, "ops-key")
        .await
        .json()
        .await
        .unwrap();
    let key: Value = client
        .post(format!("{base}/v1/admin/keys"))
        .header("x-releasy-admin-key", "ops-key")
        .json(&json!({"customer_id": customer["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for _ in 0..25 {
        let response = client
            .post(format!("{base}/v1/auth/introspect"))
            .header("x-releasy-api-key", key["api_key"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let (exit, output) = terminate(&mut child);
    assert!(exit.success(), "{output}");

    let mut again = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut again).await;
    let events: Value = client
        .get(format!(
            "{base}/v1/admin/audit-events?event=api_key.auth&limit=200"
        ))
        .header("x-releasy-admin-key", "ops-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        25,
        "every accept survived the restart"
    );
    terminate(&mut again);
}
