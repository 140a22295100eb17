//! `releasy-server demo` prints commands to paste: they are run here as printed, with
//! curl and this crate's `releasy`, against the seeded server.

use std::collections::HashMap;
use std::path::Path;

use releasy_server::demo::{self, DemoOptions};
use releasy_server::settings::Settings;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_commands_work_against_the_seeded_demo() {
    let work = tempfile::tempdir().expect("work dir");
    let data_dir = work.path().join("demo-data");
    let settings = Settings::load(None, Some(HashMap::new())).expect("default settings");
    let demo = demo::start(
        settings,
        DemoOptions {
            data_dir: Some(data_dir.clone()),
            port: 0,
        },
    )
    .await
    .expect("the demo starts");
    let text = demo.instructions();
    assert!(
        text.contains(&format!("data in {}", data_dir.display())),
        "{text}"
    );
    let script = &text[text.find(demo::PASTE_FROM).expect("a part to paste")..];

    // The releasy binary this test runs is the one the commands call.
    let cli_dir = Path::new(env!("CARGO_BIN_EXE_releasy"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        cli_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(work.path())
        .env("PATH", path)
        .env_remove("RELEASY_ADMIN_API_KEY")
        .env_remove("RELEASY_API_KEY")
        .env_remove("RELEASY_CONFIG")
        .env("HOME", work.path())
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );

    // latest (curl): the newest stable release; upgrade on beta: the beta.
    assert!(stdout.contains("\"version\":\"1.1.0\""), "{stdout}");
    assert!(
        stdout.contains("\"current\":\"1.0.0\",\"release\":{"),
        "{stdout}"
    );
    assert!(stdout.contains("\"version\":\"2.0.0-beta.1\""), "{stdout}");
    assert!(
        stdout.contains("\"download_url\":\"http://127.0.0.1:"),
        "{stdout}"
    );
    // The downloaded file was checked by the CLI and runs.
    assert!(stdout.contains("acme-agent 1.1.0\n"), "{stdout}");
    let downloaded = work
        .path()
        .join("demo-downloads/acme-agent-1.1.0-linux-x86_64.sh");
    assert_eq!(
        std::fs::read_to_string(downloaded).expect("downloaded"),
        "#!/bin/sh\necho \"acme-agent 1.1.0\"\n"
    );
    assert!(stdout.contains("Acme Corp"), "{stdout}");

    demo.handle.stop(true).await;
    demo.run().await.expect("stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_refuses_a_data_directory_in_use() {
    let work = tempfile::tempdir().expect("work dir");
    std::fs::write(work.path().join("releasy.db"), b"someone's data").expect("write");
    let settings = Settings::load(None, Some(HashMap::new())).expect("default settings");
    let err = demo::start(
        settings,
        DemoOptions {
            data_dir: Some(work.path().to_owned()),
            port: 0,
        },
    )
    .await
    .expect_err("not fresh");
    assert!(err.to_string().contains("is not empty"), "{err}");
    assert_eq!(
        std::fs::read(work.path().join("releasy.db")).expect("untouched"),
        b"someone's data"
    );
}

/// The demo keeps nothing of the host's deployment: a metrics listener configured on
/// a port already taken (the production server's) does not stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_ignores_the_configured_metrics_listener() {
    let work = tempfile::tempdir().expect("work dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let metrics_addr = taken.local_addr().expect("its address").to_string();
    let settings = Settings::load(
        None,
        Some(HashMap::from([(
            "RELEASY_METRICS_BIND_ADDR".to_owned(),
            metrics_addr,
        )])),
    )
    .expect("settings with a metrics listener");
    let demo = demo::start(
        settings,
        DemoOptions {
            data_dir: Some(work.path().join("demo-data")),
            port: 0,
        },
    )
    .await
    .expect("the demo starts though the metrics port is taken");
    demo.handle.stop(true).await;
    demo.run().await.expect("stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_that_cannot_start_leaves_no_data_directory() {
    let work = tempfile::tempdir().expect("work dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("its address").port();
    let data_dir = work.path().join("demo-data");
    let settings = Settings::load(None, Some(HashMap::new())).expect("default settings");
    let err = demo::start(
        settings,
        DemoOptions {
            data_dir: Some(data_dir.clone()),
            port,
        },
    )
    .await
    .expect_err("the port is taken");
    assert!(
        err.to_string()
            .contains(&format!("listening on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(!data_dir.exists(), "nothing left behind");
}
