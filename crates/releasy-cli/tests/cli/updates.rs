//! The release model from the CLI: channels, notes and metadata at creation, the
//! version order, `latest`, `upgrade`, yank and unyank, and `download` taking the
//! newest release the key may have.

use crate::helpers::{Storage, TestServer, file_sha256, write_file};

/// Publishes `tool` at each version with one linux file; returns each file's sha256.
async fn publish(server: &TestServer, versions: &[&str]) -> Vec<String> {
    let mut digests = Vec::new();
    for (seed, version) in versions.iter().enumerate() {
        let dir = server.path(version);
        std::fs::create_dir_all(&dir).expect("dir");
        digests.push(write_file(&dir.join("tool.tgz"), 4096, seed as u8));
        server
            .admin()
            .args(["publish", "--product", "tool", "--version", version])
            .arg(format!("{version}/tool.tgz:linux-x86_64"))
            .run()
            .await
            .ok();
    }
    digests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_takes_a_channel_notes_and_metadata() {
    let server = TestServer::start(Storage::Embedded).await;
    std::fs::write(server.path("NOTES.md"), "## 2.1\n\n- faster\n").expect("notes");
    let created = server
        .admin()
        .args([
            "release",
            "create",
            "--product",
            "tool",
            "--version",
            "2.1.0",
        ])
        .args(["--channel", "beta", "--notes-file"])
        .arg(server.path("NOTES.md"))
        .args(["--metadata", r#"{"min_os":"13"}"#, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(created["channel"], "beta");
    assert_eq!(created["notes"], "## 2.1\n\n- faster\n");
    assert_eq!(created["metadata"]["min_os"], "13");
    let derived = server
        .admin()
        .args([
            "release",
            "create",
            "--product",
            "tool",
            "--version",
            "3.0.0-rc.2",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(derived["channel"], "rc");
    let refused = server
        .admin()
        .args([
            "release",
            "create",
            "--product",
            "tool",
            "--version",
            "4.0.0",
        ])
        .args(["--metadata", "[1]"])
        .run()
        .await
        .fails_with(2);
    assert!(
        refused.stderr.contains("must be a JSON object"),
        "{refused:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_upgrade_yank_and_download_follow_the_version_order() {
    let server = TestServer::start(Storage::Embedded).await;
    let digests = publish(&server, &["1.9.0", "1.10.0", "2.0.0-rc.1"]).await;
    let (_, api_key) = server.entitled_customer("tool").await;

    let listed = server
        .admin()
        .args([
            "release",
            "list",
            "--product",
            "tool",
            "--sort",
            "version",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    let versions: Vec<&str> = listed["releases"]
        .as_array()
        .expect("releases")
        .iter()
        .map(|r| r["version"].as_str().expect("version"))
        .collect();
    assert_eq!(versions, ["2.0.0-rc.1", "1.10.0", "1.9.0"]);

    let latest = server
        .customer(&api_key)
        .args(["latest", "tool", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(latest["version"], "1.10.0");
    let rc = server
        .customer(&api_key)
        .args(["latest", "tool", "--channel", "rc", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(rc["version"], "2.0.0-rc.1");

    let upgrade = server
        .customer(&api_key)
        .args(["upgrade", "tool", "--current", "1.9.0", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(upgrade["release"]["version"], "1.10.0");
    let newest = server
        .customer(&api_key)
        .args(["upgrade", "tool", "--current", "1.10.0"])
        .run()
        .await
        .ok();
    assert!(
        newest
            .stdout
            .contains("1.10.0 is the newest version available"),
        "{newest:#?}"
    );
    let bad = server
        .customer(&api_key)
        .args(["upgrade", "tool", "--current", "one"])
        .run()
        .await
        .fails_with(2);
    assert!(
        bad.stderr.contains("current is not a semver version"),
        "{bad:#?}"
    );

    // Yanking 1.10.0 makes 1.9.0 the newest, for latest and for download.
    let yanked = server
        .admin()
        .args([
            "release",
            "yank",
            "tool@1.10.0",
            "--reason",
            "crashes",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(yanked["yank_reason"], "crashes");
    let report = server
        .customer(&api_key)
        .args(["download", "tool", "--platform", "linux-x86_64", "--json"])
        .arg("--output")
        .arg(server.path("out/"))
        .run()
        .await
        .ok()
        .json();
    assert_eq!(report["version"], "1.9.0", "{report}");
    assert_eq!(file_sha256(&server.path("out/tool.tgz")), digests[0]);
    // Asked for by name, the yanked release is still fetched (a lockfile pins it).
    let pinned = server
        .customer(&api_key)
        .args([
            "download",
            "tool",
            "--version",
            "1.10.0",
            "--platform",
            "linux-x86_64",
        ])
        .args(["--output"])
        .arg(server.path("pinned/"))
        .run()
        .await
        .ok();
    assert!(
        pinned
            .stderr
            .contains("warning: tool 1.10.0 is yanked: crashes"),
        "{pinned:#?}"
    );
    assert_eq!(file_sha256(&server.path("pinned/tool.tgz")), digests[1]);
    let report = server
        .customer(&api_key)
        .args([
            "download",
            "tool",
            "--version",
            "1.10.0",
            "--platform",
            "linux-x86_64",
        ])
        .args(["--json", "--output"])
        .arg(server.path("pinned/"))
        .run()
        .await
        .ok()
        .json();
    assert!(report["yanked_at"].is_i64(), "{report}");
    assert_eq!(report["status"], "already_present", "{report}");

    server
        .admin()
        .args(["release", "unyank", "tool@1.10.0"])
        .run()
        .await
        .ok();
    let latest = server
        .customer(&api_key)
        .args(["latest", "tool", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(latest["version"], "1.10.0");
    let missing = server
        .customer(&api_key)
        .args(["latest", "other"])
        .run()
        .await
        .fails_with(4);
    assert!(
        missing.stderr.contains("no release of other"),
        "{missing:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entitlements_narrowed_by_channel_and_version_and_explained() {
    let server = TestServer::start(Storage::Embedded).await;
    publish(&server, &["1.9.0", "2.0.0", "2.1.0-beta.1", "3.0.0"]).await;
    let customer = server
        .admin()
        .args(["customer", "create", "--name", "Acme", "--json"])
        .run()
        .await
        .ok()
        .json();
    let customer_id = customer["id"].as_str().expect("id").to_owned();
    let key = server
        .admin()
        .args(["key", "create", "--customer", &customer_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    let api_key = key["api_key"].as_str().expect("api_key").to_owned();
    let granted = server
        .admin()
        .args(["entitlement", "grant", "--customer", &customer_id])
        .args(["--product", "tool", "--channels", "stable,beta"])
        .args(["--versions", ">=2.0, <3", "--perpetual-fallback", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(granted["channels"], serde_json::json!(["stable", "beta"]));
    assert_eq!(granted["versions"], ">=2.0, <3");
    assert_eq!(granted["perpetual_fallback"], true);
    let entitlement_id = granted["id"].as_str().expect("id").to_owned();
    let table = server
        .admin()
        .args(["entitlement", "list", "--customer", &customer_id])
        .run()
        .await
        .ok();
    assert!(
        table
            .stdout
            .contains("stable,beta; >=2.0, <3; perpetual fallback"),
        "{}",
        table.stdout
    );

    let latest = server
        .customer(&api_key)
        .args(["latest", "tool", "--channel", "beta", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(latest["version"], "2.1.0-beta.1");

    let refused = server
        .admin()
        .args(["entitlement", "access", "--customer", &customer_id])
        .args(["--product", "tool", "--version", "3.0.0", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(refused["allowed"], false);
    assert_eq!(refused["reasons"][0]["code"], "version_not_granted");
    let explained = server
        .admin()
        .args(["entitlement", "access", "--customer", &customer_id])
        .args(["--product", "tool", "--version", "2.0.0"])
        .run()
        .await
        .ok();
    assert!(
        explained
            .stdout
            .starts_with("tool 2.0.0 (stable, published): allowed"),
        "{}",
        explained.stdout
    );
    assert!(explained.stdout.contains(&entitlement_id));

    let widened = server
        .admin()
        .args(["entitlement", "update", "--customer", &customer_id])
        .arg(&entitlement_id)
        .args(["--all-channels", "--all-versions"])
        .args(["--perpetual-fallback", "false", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(widened["channels"].is_null() && widened["versions"].is_null());
    assert_eq!(widened["perpetual_fallback"], false);
    let latest = server
        .customer(&api_key)
        .args(["latest", "tool", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(latest["version"], "3.0.0");

    let unknown = server
        .admin()
        .args(["entitlement", "access", "--customer", &customer_id])
        .args(["--product", "tool", "--version", "9.0.0"])
        .run()
        .await
        .fails_with(4);
    assert!(unknown.stderr.contains("release not found"), "{unknown:#?}");
    let bad = server
        .admin()
        .args(["entitlement", "grant", "--customer", &customer_id])
        .args(["--product", "tool", "--channels", "lts"])
        .run()
        .await
        .fails_with(2);
    assert!(bad.stderr.contains("channels"), "{bad:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_and_their_immutable_release_policy() {
    let server = TestServer::start(Storage::Embedded).await;
    let set = server
        .admin()
        .args(["product", "policy", "tool", "--immutable-releases", "true"])
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    assert_eq!(set["immutable_releases"], true);
    assert_eq!(set["effective_immutable_releases"], true);
    let shown = server
        .admin()
        .args(["product", "policy", "tool"])
        .run()
        .await
        .ok();
    assert!(
        shown
            .stdout
            .contains("tool: immutable releases on (product: on, server: off)"),
        "{}",
        shown.stdout
    );

    publish(&server, &["1.0.0"]).await;
    let released = server.release("tool", "1.0.0").await.expect("published");
    assert!(released["sealed_at"].as_i64().is_some(), "{released}");
    let refused = server
        .admin()
        .args(["release", "delete", "tool@1.0.0"])
        .run()
        .await
        .fails_with(5);
    assert!(
        refused.stderr.contains("release is immutable"),
        "{refused:#?}"
    );

    let listed = server
        .admin()
        .args(["product", "list", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(listed["products"][0]["product"], "tool");
    assert_eq!(listed["products"][0]["latest_version"], "1.0.0");
    let table = server.admin().args(["product", "list"]).run().await.ok();
    assert!(table.stdout.contains("tool"), "{}", table.stdout);
    server
        .admin()
        .args(["product", "policy", "tool", "--immutable-releases", "maybe"])
        .run()
        .await
        .fails_with(2);
}
