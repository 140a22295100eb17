//! Exit codes and error output: usage, auth, not found, conflict, server or network.

use crate::helpers::{Storage, TestServer};

const UNKNOWN_ID: &str = "0b7c1a52-3f7e-4a8e-9a51-1f2d3c4b5a69";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_server_errors() {
    let server = TestServer::start(Storage::Embedded).await;

    // 4: not found, with the server's code and message.
    let missing = server
        .admin()
        .args(["customer", "get", UNKNOWN_ID])
        .run()
        .await
        .fails_with(4);
    assert!(
        missing.stderr.contains("not_found: customer not found"),
        "{missing:#?}"
    );
    let missing = server
        .admin()
        .args(["customer", "get", UNKNOWN_ID, "--json"])
        .run()
        .await
        .fails_with(4);
    let error = missing.error_json();
    assert_eq!(error["error"]["code"], "not_found");
    assert_eq!(error["error"]["status"], 404);
    assert_eq!(error["exit_code"], 4);
    server
        .admin()
        .args(["release", "publish", "nothing@1.0"])
        .run()
        .await
        .fails_with(4);

    // 3: auth.
    let denied = server
        .cli()
        .env("RELEASY_ADMIN_API_KEY", "wrong-key")
        .args(["customer", "list"])
        .run()
        .await
        .fails_with(3);
    assert!(denied.stderr.contains("unauthorized"), "{denied:#?}");
    let unset = server
        .cli()
        .args(["customer", "list", "--json"])
        .run()
        .await
        .fails_with(3);
    assert_eq!(unset.error_json()["error"]["code"], "missing_credentials");
    server
        .cli()
        .args(["download", "acme-agent"])
        .run()
        .await
        .fails_with(3);

    // 4 for a customer: nothing visible.
    let (_, api_key) = server.entitled_customer("acme-agent").await;
    let nothing = server
        .customer(&api_key)
        .args(["download", "acme-agent"])
        .run()
        .await
        .fails_with(4);
    assert!(
        nothing.stderr.contains("no published release"),
        "{nothing:#?}"
    );

    // 5: conflict.
    let create = ["release", "create", "--product", "p", "--version", "1"];
    server.admin().args(create).run().await.ok();
    let conflict = server.admin().args(create).run().await.fails_with(5);
    assert!(
        conflict.stderr.contains("conflict: release already exists"),
        "{conflict:#?}"
    );

    // 2: usage, locally and from the server (400).
    server
        .admin()
        .args(["no-such-command"])
        .run()
        .await
        .fails_with(2);
    server
        .admin()
        .args([
            "publish",
            "--product",
            "p",
            "--version",
            "2",
            "file-without-platform",
        ])
        .run()
        .await
        .fails_with(2);
    // Arguments clap refuses answer in JSON too when `--json` is among them.
    let refused = server
        .admin()
        .args(["--json", "customer", "list", "--limit", "500"])
        .run()
        .await
        .fails_with(2);
    let error = refused.error_json();
    assert_eq!(error["error"]["code"], "usage", "{refused:#?}");
    assert_eq!(error["error"]["status"], serde_json::Value::Null);
    assert_eq!(error["exit_code"], 2);
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--limit") && !m.starts_with("error:")),
        "{refused:#?}"
    );
    let plain = server
        .admin()
        .args(["customer", "list", "--limit", "500"])
        .run()
        .await
        .fails_with(2);
    assert!(plain.stderr.starts_with("error:"), "{plain:#?}");
    assert!(!plain.stderr.contains("exit_code"), "{plain:#?}");
    server.cli().args(["--json", "--help"]).run().await.ok();
    let invalid = server
        .admin()
        .args(["customer", "create", "--name", " "])
        .run()
        .await
        .fails_with(2);
    assert!(invalid.stderr.contains("bad_request"), "{invalid:#?}");

    // 1: a local file that does not exist.
    server
        .admin()
        .args([
            "publish",
            "--product",
            "p",
            "--version",
            "3",
            "missing.tgz:linux",
        ])
        .run()
        .await
        .fails_with(1);

    // 6: nothing listening.
    let unreachable = server
        .admin()
        .args(["--url", "http://127.0.0.1:9", "customer", "list"])
        .run()
        .await
        .fails_with(6);
    assert!(
        unreachable.stderr.contains("network_error"),
        "{unreachable:#?}"
    );

    // Help lists the exit codes.
    let help = server.cli().arg("--help").run().await.ok();
    assert!(help.stdout.contains("7  checksum mismatch"), "{help:#?}");
}
