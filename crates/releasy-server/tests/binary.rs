//! The `releasy-server` binary as operators run it: configured only by `RELEASY_*`
//! variables (or nothing at all), stopped by SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod process;

use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use releasy_testkit::{TestCa, TestPostgres, TlsPostgres};
use serde_json::{Value, json};

use process::{
    customers_named, free_port, signal, spawn, spawn_command, terminate, wait_until_live,
};

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

/// A managed database that takes only TLS: the server migrates, serves and listens
/// for changes over it (`sslmode=verify-full` with the database's root certificate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_verify_full_url_it_serves_from_postgres_over_tls() {
    let db = TestPostgres::create().await;
    let ca = TestCa::new("Releasy test database CA");
    let front = TlsPostgres::start(db.server_addr().await, &ca.server(&["localhost"]), None).await;
    let cwd = tempfile::tempdir().unwrap();
    let roots = cwd.path().join("db-ca.pem");
    std::fs::write(&roots, ca.pem()).unwrap();
    // `localhost` names the certificate's host.
    let url = db.url_through_as(
        front.addr(),
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", roots.display()),
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(
        cwd.path(),
        &[
            ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
            ("RELEASY_DATABASE_URL", url),
            ("RELEASY_ADMIN_API_KEY", "ops-key".to_owned()),
        ],
    );
    wait_until_live(&base, &mut child).await;
    assert_eq!(create_customer(&base, "ops-key").await.status(), 200);
    let ready = reqwest::get(format!("{base}/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let (exit, output) = terminate(&mut child);
    assert!(exit.success(), "{output}");
    // The migrations' connection and the pool's at least (the front takes nothing
    // but TLS, so every connection the server made used it).
    assert!(front.counts().negotiated() >= 2, "{:?}", front.counts());
    assert_eq!(front.counts().plaintext_refused(), 0);
}

/// A root certificate file that cannot be read stops the command at once, naming it.
#[test]
fn migrate_names_a_root_certificate_it_cannot_read() {
    let cwd = tempfile::tempdir().unwrap();
    let (code, out, err) = run_command(
        cwd.path(),
        &["migrate"],
        &[(
            "RELEASY_DATABASE_URL",
            "postgres://postgres@localhost:5432/releasy?sslmode=verify-full&sslrootcert=/nowhere/ca.pem"
                .to_owned(),
        )],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.starts_with("releasy-server migrate: database: cannot set up TLS to PostgreSQL: cannot read root certificates from /nowhere/ca.pem: "),
        "{err}"
    );
    says_each_cause_once(&err);
}

/// An error line names each cause once (an error whose message repeated its source's
/// showed it twice once its causes were added).
fn says_each_cause_once(line: &str) {
    let causes: Vec<&str> = line.trim_end().split(": ").collect();
    assert!(causes.windows(2).all(|pair| pair[0] != pair[1]), "{line}");
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
        (
            vec![
                ("RELEASY_ARTIFACT_BUCKET", "b"),
                ("RELEASY_ARTIFACT_REGION", "auto"),
                ("RELEASY_ARTIFACT_ACCESS_KEY", "a"),
                ("RELEASY_ARTIFACT_SECRET_KEY", "s"),
            ],
            vec!["RELEASY_ARTIFACT_REGION"],
        ),
        (
            vec![
                ("RELEASY_ARTIFACT_BUCKET", "b"),
                ("RELEASY_ARTIFACT_REGION", "us-east-1"),
                ("RELEASY_ARTIFACT_ACCESS_KEY", "a"),
                ("RELEASY_ARTIFACT_SECRET_KEY", "s"),
                ("RELEASY_ARTIFACT_ENDPOINT", "http://minio:9000/s3"),
            ],
            vec!["RELEASY_ARTIFACT_ENDPOINT"],
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

/// Runs a command of the binary to its end: exit code, stdout, stderr.
fn run_command(
    cwd: &Path,
    args: &[&str],
    vars: &[(&str, String)],
) -> (Option<i32>, String, String) {
    let output = spawn_command(cwd, args, vars).wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn migration_count() -> usize {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    std::fs::read_dir(folder).unwrap().count()
}

#[test]
fn migrate_applies_the_migrations_once_and_exits() {
    let cwd = tempfile::tempdir().unwrap();
    let (code, out, err) = run_command(cwd.path(), &["migrate"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let applied: Vec<&str> = out.lines().filter(|l| l.starts_with("applied ")).collect();
    assert_eq!(applied.len(), migration_count(), "{out}");
    assert_eq!(applied[0], "applied 20261122000001", "oldest first: {out}");
    assert!(
        out.ends_with(&format!(
            "{} migrations applied, up to date\n",
            migration_count()
        )),
        "{out}"
    );
    assert!(cwd.path().join("releasy-data/releasy.db").is_file());
    assert!(
        !cwd.path().join("releasy-data/admin-api-key").exists(),
        "migrate provisions nothing but the schema"
    );

    let (code, out, _) = run_command(cwd.path(), &["migrate"], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "sqlite://releasy-data/releasy.db is up to date\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_runs_started_together_apply_each_postgres_migration_once() {
    let db = TestPostgres::create().await;
    let cwd = tempfile::tempdir().unwrap();
    let vars = [("RELEASY_DATABASE_URL", db.url().to_owned())];
    let runs: Vec<Child> = (0..3)
        .map(|_| spawn_command(cwd.path(), &["migrate"], &vars))
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        let output = run.wait_with_output().unwrap();
        let out = String::from_utf8(output.stdout).unwrap();
        assert!(
            output.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        applied.extend(
            out.lines()
                .filter(|l| l.starts_with("applied "))
                .map(str::to_owned),
        );
    }
    applied.sort();
    let before = applied.len();
    applied.dedup();
    assert_eq!(
        before,
        applied.len(),
        "a migration applied twice: {applied:?}"
    );
    assert_eq!(applied.len(), migration_count());

    // The migrated database serves at once.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = spawn(
        cwd.path(),
        &[
            ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
            ("RELEASY_DATABASE_URL", db.url().to_owned()),
            (
                "RELEASY_ADMIN_API_KEY",
                "an-operator-chosen-admin-key-of-40-chars".to_owned(),
            ),
        ],
    );
    wait_until_live(&base, &mut server).await;
    assert_eq!(
        create_customer(&base, "an-operator-chosen-admin-key-of-40-chars")
            .await
            .status(),
        200
    );
    let (exit, output) = terminate(&mut server);
    assert!(exit.success());
    assert!(
        output.contains("\"applied\":0") || output.contains("applied=0"),
        "{output}"
    );
}

#[test]
fn migrate_fails_when_the_database_is_unreachable() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let (code, out, err) = run_command(
        cwd.path(),
        &["migrate"],
        &[(
            "RELEASY_DATABASE_URL",
            format!("postgres://postgres:not-shown@127.0.0.1:{port}/releasy"),
        )],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.starts_with("releasy-server migrate: database: database migration failed: error connecting to server: "),
        "{err}"
    );
    // Why, not only that it failed.
    assert!(err.contains("Connection refused"), "{err}");
    says_each_cause_once(&err);
    assert!(!out.contains("applied"), "{out}");
    assert!(
        !err.contains("not-shown") && !out.contains("not-shown"),
        "{err}"
    );
}

#[test]
fn check_config_prints_the_effective_configuration_with_secrets_masked() {
    let cwd = tempfile::tempdir().unwrap();
    let (code, out, err) = run_command(
        cwd.path(),
        &["check-config"],
        &[
            (
                "RELEASY_ADMIN_API_KEY",
                "admin-secret-of-more-than-32-characters".to_owned(),
            ),
            (
                "RELEASY_DATABASE_URL",
                "postgres://releasy:db-secret@db/releasy".to_owned(),
            ),
            ("RELEASY_BIND_ADDR", "127.0.0.1:9000".to_owned()),
            // Links built for where the server listens (left unset, the default
            // URL's port is another: a finding of its own).
            (
                "RELEASY_PUBLIC_BASE_URL",
                "http://127.0.0.1:9000".to_owned(),
            ),
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(err, "");
    let value = |name: &str| {
        out.lines()
            .find_map(|line| line.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
            .unwrap_or_else(|| panic!("{name} not in {out}"))
            .trim()
            .to_owned()
    };
    assert_eq!(value("RELEASY_BIND_ADDR"), "127.0.0.1:9000");
    assert_eq!(
        value("RELEASY_DATABASE_URL"),
        "postgres://releasy:***@db/releasy"
    );
    assert_eq!(
        value("RELEASY_ADMIN_API_KEY"),
        "(set, 39 characters, hidden)"
    );
    assert_eq!(value("RELEASY_DOWNLOAD_TOKEN_TTL_SECONDS"), "600");
    assert!(
        !out.contains("admin-secret") && !out.contains("db-secret"),
        "{out}"
    );
    assert!(
        !cwd.path().join("releasy-data").exists(),
        "check-config writes nothing"
    );
}

#[test]
fn check_config_fails_on_a_weak_admin_key_or_an_invalid_setting() {
    let cwd = tempfile::tempdir().unwrap();
    let (code, out, err) = run_command(
        cwd.path(),
        &["check-config"],
        &[("RELEASY_ADMIN_API_KEY", "changeme".to_owned())],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("RELEASY_ADMIN_API_KEY"),
        "the listing is still printed: {out}"
    );
    assert!(
        err.starts_with("releasy-server check-config: RELEASY_ADMIN_API_KEY: is 8 characters long"),
        "{err}"
    );

    let (code, _, err) = run_command(
        cwd.path(),
        &["check-config"],
        &[("RELEASY_DOWNLOAD_TOKEN_TTL_SECONDS", "ten".to_owned())],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("RELEASY_DOWNLOAD_TOKEN_TTL_SECONDS"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_warns_at_startup_about_a_short_admin_key() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(
        cwd.path(),
        &[
            ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
            ("RELEASY_ADMIN_API_KEY", "short-key".to_owned()),
        ],
    );
    wait_until_live(&base, &mut child).await;
    assert_eq!(
        create_customer(&base, "short-key").await.status(),
        200,
        "it still serves"
    );
    let (exit, output) = terminate(&mut child);
    assert!(exit.success());
    assert!(output.contains("WARN"), "{output}");
    assert!(
        output.contains("RELEASY_ADMIN_API_KEY") && output.contains("is 9 characters long"),
        "{output}"
    );
    assert!(
        !output.contains("short-key"),
        "the key itself is never logged: {output}"
    );
}

/// A streamed body of `chunks` chunks of 64 KiB, each sent after `pause`.
fn slow_body(chunks: usize, pause: Duration) -> reqwest::Body {
    let stream = futures_util::stream::unfold(0_usize, move |sent| async move {
        if sent == chunks {
            return None;
        }
        tokio::time::sleep(pause).await;
        Some((Ok::<_, std::io::Error>(vec![b'r'; 64 * 1024]), sent + 1))
    });
    reqwest::Body::wrap_stream(stream)
}

/// A server on SQLite and the embedded store, with a fresh draft release and an upload
/// URL for one of its artifacts.
struct UploadServer {
    server: Child,
    /// The server's variables, to start it again on the same port and data.
    vars: Vec<(&'static str, String)>,
    base: String,
    release_id: String,
    artifact_id: String,
    upload_url: String,
    object_key: String,
    cwd: tempfile::TempDir,
}

const UPLOAD_ADMIN_KEY: &str = "an-operator-chosen-admin-key-of-40-chars";

/// Starts an [`UploadServer`] with `grace` seconds to drain.
async fn server_with_an_upload_url(grace: &str) -> UploadServer {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let vars = vec![
        ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
        ("RELEASY_PUBLIC_BASE_URL", base.clone()),
        ("RELEASY_ADMIN_API_KEY", UPLOAD_ADMIN_KEY.to_owned()),
        ("RELEASY_SHUTDOWN_GRACE_SECONDS", grace.to_owned()),
    ];
    let mut server = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut server).await;
    let client = reqwest::Client::new();
    let release: Value = client
        .post(format!("{base}/v1/releases"))
        .header("x-releasy-admin-key", UPLOAD_ADMIN_KEY)
        .json(&json!({"product": "agent", "version": "1.0.0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let release_id = release["id"].as_str().unwrap().to_owned();
    let presign: Value = client
        .post(format!("{base}/v1/releases/{release_id}/artifacts/presign"))
        .header("x-releasy-admin-key", UPLOAD_ADMIN_KEY)
        .json(&json!({"filename": "agent.tar.gz", "platform": "linux-x86_64"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    UploadServer {
        server,
        vars,
        base,
        release_id,
        artifact_id: presign["artifact_id"].as_str().unwrap().to_owned(),
        upload_url: presign["upload_url"].as_str().unwrap().to_owned(),
        object_key: presign["object_key"].as_str().unwrap().to_owned(),
        cwd,
    }
}

impl UploadServer {
    /// Registers the uploaded artifact as `bytes` of `b'r'`.
    async fn register(&self, bytes: usize) -> reqwest::Response {
        use sha2::Digest as _;
        let checksum = hex::encode(sha2::Sha256::digest(vec![b'r'; bytes]));
        reqwest::Client::new()
            .post(format!(
                "{}/v1/releases/{}/artifacts",
                self.base, self.release_id
            ))
            .header("x-releasy-admin-key", UPLOAD_ADMIN_KEY)
            .json(&json!({
                "artifact_id": self.artifact_id,
                "object_key": self.object_key,
                "checksum": checksum,
                "size": bytes,
                "platform": "linux-x86_64",
            }))
            .send()
            .await
            .unwrap()
    }

    fn object_path(&self) -> std::path::PathBuf {
        self.cwd
            .path()
            .join("releasy-data/objects")
            .join(&self.object_key)
    }
}

/// The embedded store's uploads in progress under `cwd`'s data directory.
fn uploads_in_progress(cwd: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(cwd.join("releasy-data/objects/.uploads"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// Starts a slow upload of `chunks` chunks to `upload_url`, waits until the server is
/// receiving it (its temporary file exists), then sends SIGTERM. Returns the upload and
/// when the signal was sent.
async fn upload_then_terminate(
    server: &Child,
    cwd: &Path,
    upload_url: String,
    chunks: usize,
) -> (
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
    Instant,
) {
    upload_then_signal(server, cwd, upload_url, chunks, "TERM").await
}

/// [`upload_then_terminate`] with another signal (`INT`: Ctrl-C).
async fn upload_then_signal(
    server: &Child,
    cwd: &Path,
    upload_url: String,
    chunks: usize,
    stop_signal: &str,
) -> (
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
    Instant,
) {
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(upload_url)
            .body(slow_body(chunks, Duration::from_millis(100)))
            .send(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while uploads_in_progress(cwd).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the upload never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stop = Instant::now();
    signal(server, stop_signal);
    (upload, stop)
}

/// A second Ctrl-C while the server drains stops it at once (the queued rows are still
/// written): nobody has to reach for `kill -9` during a long transfer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_stops_at_once() {
    let mut up = server_with_an_upload_url("30").await;
    // 100 chunks, one every 100 ms: 10 s, within the 30 s grace.
    let (upload, _) =
        upload_then_signal(&up.server, up.cwd.path(), up.upload_url.clone(), 100, "INT").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = Instant::now();
    signal(&up.server, "INT");
    let exit = up.server.wait().unwrap();
    assert!(exit.success(), "{exit}");
    let stopped_after = second.elapsed();
    assert!(
        stopped_after < Duration::from_secs(4),
        "exited {stopped_after:?} after the second Ctrl-C"
    );
    let cut = upload.await.unwrap();
    assert!(
        !cut.as_ref().is_ok_and(|r| r.status().is_success()),
        "the upload was cut off: {cut:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_lets_an_upload_in_flight_finish() {
    an_upload_in_flight_finishes_after("TERM").await;
}

/// Ctrl-C drains like SIGTERM (actix-web's own handling would stop at once on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_lets_an_upload_in_flight_finish() {
    an_upload_in_flight_finishes_after("INT").await;
}

/// Sends `stop_signal` during an upload of about 2 s: the upload finishes whole, and the
/// server exits once drained, not at the end of its 10 s grace.
async fn an_upload_in_flight_finishes_after(stop_signal: &str) {
    let mut up = server_with_an_upload_url("10").await;
    // 20 chunks, one every 100 ms: the upload is still sending for about 2 s after
    // the server is told to stop.
    let (upload, stop) = upload_then_signal(
        &up.server,
        up.cwd.path(),
        up.upload_url.clone(),
        20,
        stop_signal,
    )
    .await;
    let response = upload
        .await
        .unwrap()
        .expect("the upload's connection stays open");
    assert_eq!(response.status(), 200, "the upload in flight finished");
    let exit = up.server.wait().unwrap();
    assert!(exit.success(), "{exit}");
    let stopped_after = stop.elapsed();
    assert!(
        stopped_after < Duration::from_secs(8),
        "it stopped once drained, not at the end of the 10 s grace: {stopped_after:?}"
    );
    assert_eq!(
        std::fs::metadata(up.object_path()).unwrap().len(),
        20 * 64 * 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outlasting_the_grace_is_cut_off_and_the_server_still_exits() {
    let mut up = server_with_an_upload_url("1").await;
    // 60 chunks, one every 100 ms: 6 s, far past the 1 s grace.
    let (upload, stop) =
        upload_then_terminate(&up.server, up.cwd.path(), up.upload_url.clone(), 60).await;
    let exit = up.server.wait().unwrap();
    assert!(exit.success(), "{exit}");
    let stopped_after = stop.elapsed();
    assert!(
        stopped_after < Duration::from_secs(4),
        "exited {stopped_after:?} after SIGTERM, with a 1 s grace"
    );
    let cut = upload.await.unwrap();
    assert!(
        !cut.as_ref().is_ok_and(|r| r.status().is_success()),
        "the upload did not complete: {cut:?}"
    );
    assert!(
        !up.object_path().exists(),
        "a cut-off upload leaves no object"
    );
    assert_eq!(
        uploads_in_progress(up.cwd.path()),
        Vec::<std::path::PathBuf>::new(),
        "nor a temporary file"
    );
}

/// kill -9 in the middle of an upload to the embedded store: no object appears (its
/// registration is refused), the restarted server removes the temporary file the dead
/// process left, and the retried upload and its registration work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_an_upload_leaves_no_object_and_the_retry_is_stored() {
    let mut up = server_with_an_upload_url("10").await;
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(up.upload_url.clone())
            .body(slow_body(60, Duration::from_millis(100)))
            .send(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let partial = loop {
        let written = uploads_in_progress(up.cwd.path())
            .into_iter()
            .find(|path| std::fs::metadata(path).is_ok_and(|md| md.len() >= 1024 * 1024));
        if let Some(path) = written {
            break path;
        }
        assert!(Instant::now() < deadline, "the upload never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    up.server.kill().unwrap();
    up.server.wait().unwrap();
    let cut = upload.await.unwrap();
    assert!(
        !cut.as_ref().is_ok_and(|r| r.status().is_success()),
        "the upload did not complete: {cut:?}"
    );
    assert!(!up.object_path().exists(), "no partial object");
    assert!(partial.exists(), "the dead process left its temporary file");

    // An unlocked temporary file is left alone for 15 s (its writer may not hold the
    // lock yet); age it rather than wait.
    std::fs::File::options()
        .write(true)
        .open(&partial)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    up.server = spawn(up.cwd.path(), &up.vars);
    wait_until_live(&up.base, &mut up.server).await;
    assert_eq!(
        uploads_in_progress(up.cwd.path()),
        Vec::<std::path::PathBuf>::new(),
        "removed at start"
    );
    let refused = up.register(60 * 64 * 1024).await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("object not found"),
        "{error}"
    );

    let retried = reqwest::Client::new()
        .put(up.upload_url.clone())
        .body(vec![b'r'; 60 * 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200, "the same upload URL works again");
    let registered = up.register(60 * 64 * 1024).await;
    assert_eq!(registered.status(), 200, "{:?}", registered.text().await);
    assert_eq!(
        std::fs::metadata(up.object_path()).unwrap().len(),
        60 * 64 * 1024
    );
    let (exit, output) = terminate(&mut up.server);
    assert!(exit.success(), "{output}");
}

/// `verify-artifacts` works on the database as it is: one that does not exist is
/// refused (2), not created and reported on as holding nothing to check; one no server
/// has migrated is refused (2), not migrated under a server that may be running.
#[test]
fn verify_artifacts_refuses_a_missing_or_unmigrated_database() {
    use diesel::Connection;

    let cwd = tempfile::tempdir().unwrap();
    let vars = [(
        "RELEASY_ADMIN_API_KEY",
        "ops-key-ops-key-ops-key-ops-key".to_owned(),
    )];
    std::fs::create_dir(cwd.path().join("releasy-data")).unwrap();
    let (code, out, err) = run_command(cwd.path(), &["verify-artifacts"], &vars);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("no database at"), "{err}");
    assert_eq!(out, "", "no report on an empty database");
    assert_eq!(
        std::fs::read_dir(cwd.path().join("releasy-data"))
            .unwrap()
            .count(),
        0,
        "nothing created"
    );
    let path = cwd.path().join("releasy-data/releasy.db");
    diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    let (code, out, err) = run_command(cwd.path(), &["verify-artifacts", "--all"], &vars);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("migrations not applied yet"),
        "a database not migrated is refused: {err}"
    );
    let tables: i64 = {
        use diesel::RunQueryDsl;
        let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM sqlite_master WHERE type = 'table')",
        ))
        .get_result(&mut conn)
        .unwrap()
    };
    assert_eq!(
        tables, 0,
        "not migrated, not even diesel's bookkeeping table"
    );
}

/// `audit verify` walks the chain the server wrote: 0 and the head while it is intact,
/// 1 naming the event once a row is edited behind the server's back; it only reads, so
/// a missing database is refused (2), not created, and one no server has migrated is
/// refused (2), not migrated.
#[tokio::test]
async fn audit_verify_passes_an_intact_chain_and_names_an_altered_event() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;

    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let vars = [
        ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
        (
            "RELEASY_ADMIN_API_KEY",
            "ops-key-ops-key-ops-key-ops-key".to_owned(),
        ),
    ];
    std::fs::create_dir(cwd.path().join("releasy-data")).unwrap();
    let (code, out, err) = run_command(cwd.path(), &["audit", "verify"], &vars);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("no database at"), "{err}");
    assert_eq!(
        std::fs::read_dir(cwd.path().join("releasy-data"))
            .unwrap()
            .count(),
        0,
        "nothing created"
    );
    diesel::SqliteConnection::establish(
        &cwd.path().join("releasy-data/releasy.db").to_string_lossy(),
    )
    .unwrap();
    let (code, out, err) = run_command(cwd.path(), &["audit", "verify"], &vars);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("migrations not applied yet"),
        "a database not migrated is refused: {err}"
    );

    let mut child = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut child).await;
    for _ in 0..3 {
        let created = create_customer(&base, "ops-key-ops-key-ops-key-ops-key").await;
        assert_eq!(created.status(), 200);
    }
    let (exit, output) = terminate(&mut child);
    assert!(exit.success(), "{output}");

    let (code, out, err) = run_command(cwd.path(), &["audit", "verify"], &vars);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("audit chain intact: 3 events checked (positions 1 to 3); head 3 ")
            && out.trim_end().ends_with("; no events await their link"),
        "the server linked its events before it stopped: {out}"
    );

    let mut db = diesel::SqliteConnection::establish(
        &cwd.path().join("releasy-data/releasy.db").to_string_lossy(),
    )
    .unwrap();
    db.batch_execute(
        "UPDATE audit_events SET payload = replace(payload, 'Acme', 'Evil') \
         WHERE chain_position = 2",
    )
    .unwrap();
    let (code, out, err) = run_command(cwd.path(), &["audit", "verify"], &vars);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with("audit chain broken: audit event ")
            && out.contains("at position 2 was altered"),
        "{out}"
    );

    // Put back, then a row slipped in without a link: SQLite's writes link their own
    // events, so no linker would ever take it in, and the walk names it.
    db.batch_execute(
        "UPDATE audit_events SET payload = replace(payload, 'Evil', 'Acme') \
         WHERE chain_position = 2; \
         INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at) \
         VALUES ('0191f0a0-0000-7000-8000-000000000001', NULL, 'admin_key', \
         'customer.deleted', '{}', 1735312100)",
    )
    .unwrap();
    let (code, out, err) = run_command(cwd.path(), &["audit", "verify"], &vars);
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(
        out.trim_end(),
        "audit chain broken: audit event 0191f0a0-0000-7000-8000-000000000001 was inserted: it carries no chain link, and this database's writes link their own events"
    );
}

/// One worker of the burst: creates the customers `burst-{i}` for its share of `keys`,
/// noting each key before sending it and each answer once received, until the server
/// goes away.
async fn create_burst(
    base: String,
    keys: std::ops::Range<usize>,
    step: usize,
    sent: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
    answered: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<usize, Value>>>,
) {
    let client = reqwest::Client::new();
    for i in keys.step_by(step) {
        sent.lock().unwrap().push(i);
        let Ok(response) = burst_create(&client, &base, i).await else {
            return; // the server was killed
        };
        let Ok(body) = response.json::<Value>().await else {
            return;
        };
        answered.lock().unwrap().insert(i, body);
    }
}

async fn burst_create(
    client: &reqwest::Client,
    base: &str,
    i: usize,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{base}/v1/admin/customers"))
        .header("x-releasy-admin-key", "ops-key-ops-key-ops-key-ops-key")
        .header("Idempotency-Key", format!("burst-{i}"))
        .json(&json!({"name": format!("Burst {i}")}))
        .send()
        .await
}

/// Every customer named `Burst ...`.
async fn burst_customers(client: &reqwest::Client, base: &str) -> Vec<Value> {
    customers_named(client, base, "ops-key-ops-key-ops-key-ops-key", "Burst").await
}

/// kill -9 in the middle of a burst of idempotent creates (eight at a time). After a
/// restart every key answered before the kill replays its answer; every key sent is
/// retryable within the documented bound (a claim left by the killed server holds its
/// key for 10 s); and each key ends with exactly one customer, including those whose
/// create committed but whose answer the kill cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_idempotent_creates_loses_no_answer_and_creates_nothing_twice() {
    use std::collections::{HashMap, HashSet};

    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let vars = [
        ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
        (
            "RELEASY_ADMIN_API_KEY",
            "ops-key-ops-key-ops-key-ops-key".to_owned(),
        ),
    ];
    let mut child = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut child).await;

    let sent = Arc::new(Mutex::new(Vec::new()));
    let answered = Arc::new(Mutex::new(HashMap::new()));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            tokio::spawn(create_burst(
                base.clone(),
                w..2_000,
                8,
                sent.clone(),
                answered.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "the burst did not get going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let sent: Vec<usize> = sent.lock().unwrap().clone();
    let answered: HashMap<usize, Value> = answered.lock().unwrap().clone();
    let cut_off: Vec<usize> = sent
        .iter()
        .copied()
        .filter(|i| !answered.contains_key(i))
        .collect();
    assert!(!cut_off.is_empty(), "the kill cut requests off");

    let mut child = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut child).await;
    let client = reqwest::Client::new();
    let restarted = Instant::now();
    // What the killed server had committed: every answered create, and some cut off.
    let committed = burst_customers(&client, &base).await.len();
    assert!(committed >= answered.len() && committed <= sent.len());
    let mut ids = HashSet::new();
    for &i in &sent {
        let body = loop {
            let response = burst_create(&client, &base, i).await.unwrap();
            if response.status() == 409 {
                let error: Value = response.json().await.unwrap();
                assert_eq!(error["error"]["code"], "idempotency_in_progress");
                assert!(
                    restarted.elapsed() < Duration::from_secs(15),
                    "key burst-{i} still held 15 s after the restart"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            assert_eq!(response.status(), 200, "burst-{i}");
            break response.json::<Value>().await.unwrap();
        };
        if let Some(first) = answered.get(&i) {
            assert_eq!(&body, first, "burst-{i} answers as it did before the kill");
        }
        assert_eq!(body["name"], format!("Burst {i}"));
        ids.insert(body["id"].as_str().unwrap().to_owned());
    }

    let stored = burst_customers(&client, &base).await;
    let stored_ids: HashSet<String> = stored
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored.len(), sent.len(), "one customer per key sent");
    assert_eq!(stored_ids, ids, "each the one its key answers with");
    // The figures docs/security.md quotes (shown with --nocapture).
    eprintln!(
        "kill -9 burst: {} sent, {} answered, {} cut off, of which {} had committed",
        sent.len(),
        answered.len(),
        cut_off.len(),
        committed - answered.len()
    );
    let (exit, output) = terminate(&mut child);
    assert!(exit.success(), "{output}");
}

/// Sends refused authentications from `worker`'s own forwarded addresses until the
/// server stops answering; records each refused address and when it was answered.
async fn refusals_from(base: String, worker: u8, answered: Arc<Mutex<Vec<(String, Instant)>>>) {
    let client = reqwest::Client::new();
    for n in 0_u32.. {
        let address = format!("10.{worker}.{}.{}", n / 256, n % 256);
        let refused = client
            .get(format!("{base}/v1/releases"))
            .header("x-releasy-api-key", "releasy_not-a-key")
            .header("x-forwarded-for", &address)
            .send()
            .await;
        match refused {
            Ok(response) if response.status() == 401 => {
                answered.lock().unwrap().push((address, Instant::now()));
            }
            Ok(response) => panic!("{address}: answered {}", response.status()),
            Err(_) => return, // killed
        }
    }
}

/// The `client_address` of every `api_key.auth` event stored.
async fn refused_addresses(base: &str, admin_key: &str) -> std::collections::HashSet<String> {
    let client = reqwest::Client::new();
    let mut stored = std::collections::HashSet::new();
    for offset in (0..).step_by(200) {
        let page: Value = client
            .get(format!(
                "{base}/v1/admin/audit-events?event=api_key.auth&limit=200&offset={offset}"
            ))
            .header("x-releasy-admin-key", admin_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        stored.extend(
            events
                .iter()
                .map(|e| e["payload"]["client_address"].as_str().unwrap().to_owned()),
        );
        if events.len() < 200 {
            return stored;
        }
    }
    unreachable!("the pages end")
}

/// The bound docs/security.md states for a kill -9: the authentication events lost are
/// those of the last flush interval (50 ms) and the batch being written. Asserted with
/// slack for a loaded two-core machine; the measured figure is printed.
const WRITE_BEHIND_LOSS_BOUND: Duration = Duration::from_millis(250);

/// kill -9 while refused authentications stream through the audit write-behind: after
/// a restart every refusal answered longer than [`WRITE_BEHIND_LOSS_BOUND`] before the
/// kill is stored. Each request comes from its own forwarded address, so each event is
/// told apart (and no address reaches the failure limit).
async fn a_kill_loses_only_the_last_flush_of_audit_events(database: Option<&TestPostgres>) {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let admin_key = "ops-key-ops-key-ops-key-ops-key";
    let mut vars = vec![
        ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
        ("RELEASY_ADMIN_API_KEY", admin_key.to_owned()),
        ("RELEASY_TRUSTED_PROXIES", "127.0.0.1/32".to_owned()),
        // A log line per request would fill the unread output pipe and stall the server.
        ("RELEASY_LOG_LEVEL", "warn".to_owned()),
    ];
    if let Some(db) = database {
        vars.push(("RELEASY_DATABASE_URL", db.url().to_owned()));
    }
    let mut child = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut child).await;
    let answered = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(refusals_from(base.clone(), w, answered.clone())))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.lock().unwrap().len() < 1_500 {
        assert!(Instant::now() < deadline, "the refusals did not get going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed_at = Instant::now();
    child.kill().unwrap();
    child.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();

    let mut child = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut child).await;
    let stored = refused_addresses(&base, admin_key).await;
    let lost: Vec<Duration> = answered
        .iter()
        .filter(|(address, _)| !stored.contains(address))
        .map(|(_, at)| killed_at.saturating_duration_since(*at))
        .collect();
    let oldest_lost = lost.iter().max().copied().unwrap_or_default();
    eprintln!(
        "kill -9 with queued audit events ({}): {} refusals answered, {} lost, the oldest answered {oldest_lost:?} before the kill",
        if database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        answered.len(),
        lost.len(),
    );
    assert!(
        oldest_lost <= WRITE_BEHIND_LOSS_BOUND,
        "{} refusals lost, one answered {oldest_lost:?} before the kill",
        lost.len()
    );
    let (exit, output) = terminate(&mut child);
    assert!(exit.success(), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_loses_only_the_last_flush_of_audit_events_on_sqlite() {
    a_kill_loses_only_the_last_flush_of_audit_events(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_loses_only_the_last_flush_of_audit_events_on_postgres() {
    let db = TestPostgres::create().await;
    a_kill_loses_only_the_last_flush_of_audit_events(Some(&db)).await;
}
