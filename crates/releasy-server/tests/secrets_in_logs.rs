//! No secret reaches the logs, even at `trace` in JSON: the server runs the whole flow
//! on PostgreSQL (whose driver prints bind values at `debug`, as byte lists) and the
//! embedded store, and its output is searched for every secret it handled, in every
//! form a log line could hold it. (Run with `RELEASY_LOG=trace`, which lets the driver
//! speak, this test finds the stored download link in a bind value.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod process;

use std::fs::File;
use std::process::{Child, Stdio};

use process::{Api, ok_json};

use releasy_testkit::TestPostgres;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ADMIN_KEY: &str = "admin-key-that-must-never-be-logged-0123456789";
const PEPPER: &str = "pepper-that-must-never-be-logged-0123456789";
const SIGNING_SECRET: &str = "signing-secret-that-must-never-be-logged-0123";

/// The server's output goes to a file: at `trace` it is far more than a pipe holds.
fn spawn(cwd: &std::path::Path, log: &std::path::Path, vars: &[(&str, String)]) -> Child {
    let out = File::create(log).unwrap();
    process::server_command(cwd, &[], vars)
        .env_remove("RUST_LOG")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap()
}

/// The query values of a presigned URL long enough to be a signature.
fn signatures(url: &str) -> Vec<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(_, value)| value.into_owned())
        .filter(|value| value.len() >= 20)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_at_trace_logs_no_secret() {
    let postgres = TestPostgres::create().await;
    let cwd = tempfile::tempdir().unwrap();
    let log = cwd.path().join("server.log");
    let port = process::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(
        cwd.path(),
        &log,
        &[
            ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
            ("RELEASY_PUBLIC_BASE_URL", base.clone()),
            ("RELEASY_DATABASE_URL", postgres.url().to_owned()),
            ("RELEASY_ADMIN_API_KEY", ADMIN_KEY.to_owned()),
            ("RELEASY_API_KEY_PEPPER", PEPPER.to_owned()),
            ("RELEASY_STORAGE_SIGNING_SECRET", SIGNING_SECRET.to_owned()),
            ("RELEASY_LOG_LEVEL", "trace".to_owned()),
            ("RELEASY_LOG_FORMAT", "json".to_owned()),
        ],
    );
    let api = Api::new(base.clone(), ADMIN_KEY);
    process::wait_until_live(&base, &mut child).await;

    let mut secrets: Vec<String> = vec![ADMIN_KEY.into(), PEPPER.into(), SIGNING_SECRET.into()];
    let customer = ok_json(
        api.admin(Method::POST, "/v1/admin/customers")
            .json(&json!({"name": "Acme"})),
    )
    .await;
    let customer_id = customer["id"].as_str().unwrap();
    let key = ok_json(
        api.admin(Method::POST, "/v1/admin/keys")
            .json(&json!({"customer_id": customer_id})),
    )
    .await;
    let api_key = key["api_key"].as_str().unwrap().to_owned();
    secrets.push(api_key.clone());
    ok_json(
        api.admin(
            Method::POST,
            &format!("/v1/admin/customers/{customer_id}/entitlements"),
        )
        .json(&json!({"product": "app", "starts_at": 0})),
    )
    .await;
    let release = ok_json(
        api.admin(Method::POST, "/v1/releases")
            .json(&json!({"product": "app", "version": "1.0.0"})),
    )
    .await;
    let release_id = release["id"].as_str().unwrap();
    let presigned = ok_json(
        api.admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts/presign"),
        )
        .json(&json!({"filename": "app.tgz", "platform": "linux"})),
    )
    .await;
    let upload_url = presigned["upload_url"].as_str().unwrap();
    secrets.extend(signatures(upload_url));
    let bytes = b"the bytes a customer gets".repeat(100);
    let uploaded = api
        .http
        .put(upload_url)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(uploaded.status().is_success(), "{}", uploaded.status());
    ok_json(
        api.admin(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts"),
        )
        .json(&json!({
            "artifact_id": presigned["artifact_id"],
            "object_key": presigned["object_key"],
            "checksum": hex::encode(Sha256::digest(&bytes)),
            "size": bytes.len(),
            "platform": "linux",
        })),
    )
    .await;
    ok_json(api.admin(Method::POST, &format!("/v1/releases/{release_id}/publish"))).await;

    // Twice with one Idempotency-Key: the stored answer holds the download link.
    let mut download_url = String::new();
    for _ in 0..2 {
        let token = ok_json(
            api.customer(Method::POST, "/v1/downloads/token", &api_key)
                .header("idempotency-key", "token-once")
                .json(&json!({"artifact_id": presigned["artifact_id"]})),
        )
        .await;
        download_url = token["download_url"].as_str().unwrap().to_owned();
    }
    let token = download_url.rsplit('/').next().unwrap().to_owned();
    secrets.push(token);
    let resolved = api.http.get(&download_url).send().await.unwrap();
    assert_eq!(resolved.status(), StatusCode::FOUND);
    let location = resolved.headers()["location"].to_str().unwrap().to_owned();
    secrets.extend(signatures(&location));
    let downloaded = api.http.get(&location).send().await.unwrap();
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Refusals too: a wrong key, a wrong admin key.
    let wrong = api.customer(
        Method::POST,
        "/v1/auth/introspect",
        "releasy_wrong-key-never-logged",
    );
    assert_eq!(wrong.send().await.unwrap().status(), 401);
    secrets.push("releasy_wrong-key-never-logged".into());

    let (stopped, _) = process::terminate(&mut child);
    assert!(stopped.success());
    let output = std::fs::read_to_string(&log).unwrap();
    let traced = output
        .lines()
        .filter(|line| line.contains("\"level\":\"TRACE\""))
        .count();
    assert!(traced > 50, "trace logging was on: {traced} trace lines");
    for line in output.lines().take(50) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("a JSON line: {line}"));
    }
    for secret in &secrets {
        for form in encodings(secret) {
            assert_absent(&output, &form, secret.len());
        }
    }
}

/// The forms a secret can take in a log line: as it is, as the byte list a driver
/// prints for a bind value (`[114, 101, ...]`), and as hex.
fn encodings(secret: &str) -> [String; 3] {
    let bytes = format!("{:?}", secret.as_bytes());
    [
        secret.to_owned(),
        bytes.trim_matches(['[', ']']).to_owned(),
        hex::encode(secret),
    ]
}

/// Fails with the log line that holds `form`, if any.
fn assert_absent(output: &str, form: &str, secret_len: usize) {
    if let Some(at) = output.find(form) {
        let from = output[..at].rfind('\n').map_or(0, |n| n + 1);
        let to = output[at..].find('\n').map_or(output.len(), |n| at + n);
        panic!(
            "a secret ({secret_len} characters) is in the log:\n{}",
            &output[from..to]
        );
    }
}
