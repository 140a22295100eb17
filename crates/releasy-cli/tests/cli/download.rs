//! Customer downloads: newest version, checksum verification, resuming, and a
//! corrupted stored object.

use std::path::Path;

use crate::helpers::{Outcome, Storage, TestServer, file_sha256, write_file};
use crate::proxy::{Disturbance, LoopbackProxy, Request};

/// Publishes `acme-agent` 1.0.0 and 1.1.0 (two platforms each); returns the sha256 of
/// 1.1.0's linux file.
async fn publish_two_versions(server: &TestServer) -> String {
    let mut newest = String::new();
    for (version, seed) in [("1.0.0", 1), ("1.1.0", 2)] {
        let dir = server.path(version);
        std::fs::create_dir_all(&dir).expect("dir");
        let linux = write_file(&dir.join("agent.tar.gz"), 2 * 1024 * 1024 + 123, seed);
        write_file(&dir.join("agent.zip"), 5000, seed + 10);
        server
            .admin()
            .args(["publish", "--product", "acme-agent", "--version", version])
            .arg(format!("{version}/agent.tar.gz:linux-x86_64"))
            .arg(format!("{version}/agent.zip:darwin-arm64"))
            .run()
            .await
            .ok();
        newest = linux;
    }
    newest
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

async fn download_flow(storage: Storage) {
    let server = TestServer::start(storage).await;
    let newest = publish_two_versions(&server).await;
    let (_, api_key) = server.entitled_customer("acme-agent").await;

    let visible = server
        .customer(&api_key)
        .args(["releases", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(visible["releases"].as_array().expect("releases").len(), 2);

    // No version: the newest; one platform chosen; verified.
    let report = server
        .customer(&api_key)
        .args([
            "download",
            "acme-agent",
            "--platform",
            "linux-x86_64",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(report["version"], "1.1.0");
    assert_eq!(report["status"], "downloaded");
    assert_eq!(report["resumed_from"], 0);
    assert_eq!(report["sha256"], newest.as_str());
    let target = server.path("agent.tar.gz");
    assert_eq!(file_sha256(&target), newest);
    assert!(!exists(&server.path("agent.tar.gz.part")));

    // Again: already there, nothing fetched.
    let again = server
        .customer(&api_key)
        .args([
            "download",
            "acme-agent",
            "--platform",
            "linux-x86_64",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(again["status"], "already_present");

    // An older version into a new directory.
    let old = server
        .customer(&api_key)
        .args(["download", "acme-agent", "--version", "1.0.0"])
        .args(["--platform", "darwin-arm64", "-o", "old/"])
        .run()
        .await
        .ok();
    assert!(old.stdout.contains("sha256"), "{old:#?}");
    assert_eq!(
        file_sha256(&server.path("old/agent.zip")),
        file_sha256(&server.path("1.0.0/agent.zip"))
    );

    // Single-use links: the download works, and the link it asked for was limited.
    let single = server
        .customer(&api_key)
        .args(["download", "acme-agent", "--platform", "darwin-arm64"])
        .args(["--max-uses", "1", "-o", "single/", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(single["status"], "downloaded");
    let issued = server
        .admin()
        .args([
            "audit",
            "list",
            "--event",
            "download_token.issued",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(issued["events"][0]["payload"]["after"]["max_uses"], 1);
    assert!(issued["events"][1]["payload"]["after"]["max_uses"].is_null());
    server
        .customer(&api_key)
        .args(["download", "acme-agent", "--platform", "darwin-arm64"])
        .args(["--max-uses", "0"])
        .run()
        .await
        .fails_with(2);

    // Two platforms and no --platform: a usage error.
    server
        .customer(&api_key)
        .args(["download", "acme-agent"])
        .run()
        .await
        .fails_with(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_download_verifies_the_checksum_embedded() {
    download_flow(Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_download_verifies_the_checksum_s3() {
    download_flow(Storage::S3).await;
}

/// How many downloads of `customer_id` the ledger lists as `redirected`, once it
/// lists at least `at_least` (rows are written behind).
async fn redirected(server: &TestServer, customer_id: &str, at_least: usize) -> usize {
    ledger_rows(server, customer_id, "redirected", at_least).await
}

/// How many rows of `customer_id` with `outcome` the ledger lists, once it lists at
/// least `at_least` (rows are written behind).
async fn ledger_rows(
    server: &TestServer,
    customer_id: &str,
    outcome: &str,
    at_least: usize,
) -> usize {
    let mut count = 0;
    for _ in 0..50 {
        let list = server
            .admin()
            .args(["downloads", "list", "--customer", customer_id])
            .args(["--outcome", outcome, "--json"])
            .run()
            .await
            .ok()
            .json();
        count = list["downloads"].as_array().expect("downloads").len();
        if count >= at_least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    count
}

async fn resume_flow(storage: Storage) {
    let server = TestServer::start(storage).await;
    let newest = publish_two_versions(&server).await;
    let (customer_id, api_key) = server.entitled_customer("acme-agent").await;
    let download = || {
        server
            .customer(&api_key)
            .args(["download", "acme-agent", "--platform", "linux-x86_64"])
    };
    download().run().await.ok();
    let target = server.path("agent.tar.gz");
    let full = std::fs::read(&target).expect("read");
    let (part, claim) = (
        server.path("agent.tar.gz.part"),
        server.path("agent.tar.gz.part.sha256"),
    );

    // A shorter file at the target is not taken for the start of the artifact (it is
    // likely the version before): it is replaced whole, never appended to.
    let keep = full.len() / 3;
    std::fs::write(&target, &full[..keep]).expect("truncate");
    let report = download().arg("--json").run().await.ok().json();
    assert_eq!(report["resumed_from"], 0, "{report}");
    assert_eq!(report["status"], "downloaded");
    assert_eq!(file_sha256(&target), newest);

    // What an interrupted run leaves: the part file, and its claim naming the
    // artifact. Only the rest is fetched (the server answered 206), in human mode.
    std::fs::remove_file(&target).expect("remove");
    std::fs::write(&part, &full[..full.len() - 1000]).expect("part");
    std::fs::write(&claim, format!("{newest}\n")).expect("claim");
    let human = download().run().await.ok();
    assert!(human.stderr.contains("resuming"), "{human:#?}");
    assert!(human.stdout.contains("resumed from byte"), "{human:#?}");
    assert_eq!(file_sha256(&target), newest);
    assert!(!exists(&part) && !exists(&claim));

    // A part file claimed for this artifact whose bytes are not its start (changed
    // since): detected, downloaded again.
    std::fs::remove_file(&target).expect("remove");
    std::fs::write(&part, vec![0_u8; 4096]).expect("part");
    std::fs::write(&claim, format!("{newest}\n")).expect("claim");
    let report = download().arg("--json").run().await.ok().json();
    assert_eq!(report["resumed_from"], 0, "{report}");
    assert_eq!(file_sha256(&target), newest);

    // The whole file in the part file (a run stopped before renaming it): verified
    // and renamed, without a download.
    let before = redirected(&server, &customer_id, 5).await;
    assert_eq!(
        before, 5,
        "one download each run, two for the one whose kept bytes were wrong"
    );
    std::fs::remove_file(&target).expect("remove");
    std::fs::write(&part, &full).expect("part");
    std::fs::write(&claim, format!("{newest}\n")).expect("claim");
    let report = download().arg("--json").run().await.ok().json();
    assert_eq!(report["resumed_from"], full.len() as u64, "{report}");
    assert_eq!(report["status"], "downloaded");
    assert_eq!(file_sha256(&target), newest);
    assert!(!exists(&part) && !exists(&claim));
    assert_eq!(redirected(&server, &customer_id, before + 1).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_download_from_a_truncated_file_embedded() {
    resume_flow(Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_download_from_a_truncated_file_s3() {
    resume_flow(Storage::S3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_broken_midway_continues_on_a_fresh_link() {
    // Every answer goes through a proxy that breaks the first one past 512 KiB: the
    // 2 MiB download of the newest linux file.
    let cut = Disturbance::CutAnswerAfter(512 * 1024);
    let server = TestServer::start_behind_proxy(Storage::Embedded, cut, &[]).await;
    let newest = publish_two_versions(&server).await;
    assert!(
        !server.proxy_has_cut(),
        "publishing sends, it receives nothing large"
    );
    let (_, api_key) = server.entitled_customer("acme-agent").await;
    let run = server
        .customer(&api_key)
        .args(["download", "acme-agent", "--platform", "linux-x86_64"])
        .run()
        .await
        .ok();
    assert!(server.proxy_has_cut(), "the proxy broke the transfer");
    assert!(
        run.stderr.contains("continuing with a fresh link"),
        "{run:#?}"
    );
    // The fresh link asked only for the bytes that were missing.
    assert!(run.stdout.contains("resumed from byte"), "{run:#?}");
    assert_eq!(file_sha256(&server.path("agent.tar.gz")), newest);
    assert!(!exists(&server.path("agent.tar.gz.part")));
}

/// What [`download_through`] leaves: the server, the newest file's SHA-256, the
/// downloading customer's id and the run (which succeeded).
struct DisturbedDownload {
    server: TestServer,
    newest: String,
    customer_id: String,
    run: Outcome,
}

/// The newest `acme-agent` for linux, downloaded by a freshly entitled customer
/// through a proxy that makes `disturbance`.
async fn download_through(disturbance: Disturbance) -> DisturbedDownload {
    let server = TestServer::start_behind_proxy(Storage::Embedded, disturbance, &[]).await;
    let newest = publish_two_versions(&server).await;
    let (customer_id, api_key) = server.entitled_customer("acme-agent").await;
    let run = server
        .customer(&api_key)
        .args(["download", "acme-agent", "--platform", "linux-x86_64"])
        .run()
        .await
        .ok();
    DisturbedDownload {
        server,
        newest,
        customer_id,
        run,
    }
}

/// A download link answered with a server error (a store shedding load, a server
/// restarting behind its proxy) is tried again on a fresh link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_tried_again_on_a_fresh_link() {
    let DisturbedDownload {
        server,
        newest,
        run,
        ..
    } = download_through(Disturbance::FailFirstResolve).await;
    assert!(server.proxy_has_cut(), "the first link was answered 503");
    assert!(
        run.stderr
            .contains("the download answered 503; trying again with a fresh link"),
        "{run:#?}"
    );
    assert_eq!(file_sha256(&server.path("agent.tar.gz")), newest);
}

/// A token request whose answer is lost (the server restarting behind its proxy) is
/// asked for again, not the end of the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_request_answered_by_a_restarting_server_is_made_again() {
    let DisturbedDownload {
        server,
        newest,
        run,
        ..
    } = download_through(Disturbance::FailFirstTokenRequest).await;
    assert!(
        server.proxy_has_cut(),
        "the first token request was answered 503"
    );
    assert!(
        run.stderr
            .contains("asking for a download link failed (http_503: service unavailable (HTTP 503)); asking again"),
        "{run:#?}"
    );
    assert_eq!(file_sha256(&server.path("agent.tar.gz")), newest);
}

/// A token request that reached the server but whose answer was lost is asked for
/// again under the same `Idempotency-Key`: the token is replayed, not issued (and
/// recorded) a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_answer_was_lost_is_replayed_not_issued_again() {
    let lost = Disturbance::LoseFirstAnswerTo(Request::DownloadToken);
    let DisturbedDownload {
        server,
        newest,
        customer_id,
        run,
    } = download_through(lost).await;
    assert!(server.proxy_has_cut(), "the first token's answer was lost");
    assert!(
        run.stderr
            .contains("asking for a download link failed (network error talking to"),
        "{run:#?}"
    );
    assert_eq!(file_sha256(&server.path("agent.tar.gz")), newest);
    // The token's row is queued before its resolve's: once the resolve is listed, so
    // is every token issued for it.
    assert_eq!(redirected(&server, &customer_id, 1).await, 1);
    assert_eq!(
        ledger_rows(&server, &customer_id, "issued", 1).await,
        1,
        "one token issued for the one download"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_stored_object_is_detected_and_the_file_deleted() {
    let server = TestServer::start(Storage::Embedded).await;
    publish_two_versions(&server).await;
    let (_, api_key) = server.entitled_customer("acme-agent").await;
    let release = server
        .release("acme-agent", "1.1.0")
        .await
        .expect("release");
    let artifact = release["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .find(|a| a["platform"] == "linux-x86_64")
        .expect("linux artifact")
        .clone();
    let object = server
        .embedded_object_path(artifact["object_key"].as_str().expect("key"))
        .expect("embedded store");
    let len = std::fs::metadata(&object).expect("object").len() as usize;
    // Same length, different bytes.
    write_file(&object, len, 200);

    let outcome = server
        .customer(&api_key)
        .args(["download", "acme-agent", "--version", "1.1.0"])
        .args(["--platform", "linux-x86_64"])
        .run()
        .await
        .fails_with(7);
    assert!(outcome.stderr.contains("checksum_mismatch"), "{outcome:#?}");
    assert!(!exists(&server.path("agent.tar.gz")));
    assert!(!exists(&server.path("agent.tar.gz.part")));

    let outcome = server
        .customer(&api_key)
        .args([
            "download",
            "acme-agent",
            "--platform",
            "linux-x86_64",
            "--json",
        ])
        .run()
        .await
        .fails_with(7);
    let error = outcome.error_json();
    assert_eq!(error["error"]["code"], "checksum_mismatch");
    assert_eq!(error["exit_code"], 7);
    assert!(!exists(&server.path("agent.tar.gz")));
}

/// `releasy downloads list|stats|export`: the ledger of what the customer downloaded,
/// counted and exported as CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_lists_counts_and_exports_downloads() {
    let server = TestServer::start(Storage::Embedded).await;
    publish_two_versions(&server).await;
    let (customer_id, api_key) = server.entitled_customer("acme-agent").await;
    for (version, platform) in [("1.1.0", "linux-x86_64"), ("1.0.0", "darwin-arm64")] {
        server
            .customer(&api_key)
            .args(["download", "acme-agent", "--version", version])
            .args(["--platform", platform, "-o", &format!("{version}-out/")])
            .run()
            .await
            .ok();
    }

    let list = server
        .admin()
        .args(["downloads", "list", "--customer", &customer_id])
        .args(["--outcome", "redirected", "--json"])
        .run()
        .await
        .ok()
        .json();
    let rows = list["downloads"].as_array().expect("downloads");
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!(rows[0]["version"], "1.0.0", "newest first");
    assert_eq!(rows[1]["platform"], "linux-x86_64");
    assert!(
        rows[0]["user_agent"]
            .as_str()
            .expect("agent")
            .starts_with("releasy-cli/")
    );
    let table = server
        .admin()
        .args(["downloads", "list", "--limit", "1"])
        .run()
        .await
        .ok();
    assert!(table.stdout.contains("more: --cursor "), "{table:#?}");

    let stats = server
        .admin()
        .args(["downloads", "stats", "--group-by", "version", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(stats["group_by"], "version");
    let groups = stats["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2, "{stats}");
    assert!(
        groups
            .iter()
            .all(|g| g["downloads"] == 1 && g["customers"] == 1)
    );
    let bytes: u64 = groups
        .iter()
        .map(|g| g["bytes"].as_u64().expect("bytes"))
        .sum();
    assert_eq!(bytes, 2 * 1024 * 1024 + 123 + 5000);

    server
        .admin()
        .args(["downloads", "export", "--csv", "--product", "acme-agent"])
        .args(["--output", "ledger.csv"])
        .run()
        .await
        .ok();
    let mut reader = csv::Reader::from_path(server.path("ledger.csv")).expect("csv file");
    let header = reader.headers().expect("header").clone();
    let outcome = header
        .iter()
        .position(|h| h == "outcome")
        .expect("outcome column");
    let outcomes: Vec<String> = reader
        .records()
        .map(|record| record.expect("record")[outcome].to_owned())
        .collect();
    assert_eq!(outcomes, ["redirected", "issued", "redirected", "issued"]);
    let to_stdout = server
        .admin()
        .args(["downloads", "export", "--csv", "--outcome", "issued"])
        .run()
        .await
        .ok();
    assert_eq!(to_stdout.stdout.lines().count(), 3, "{to_stdout:#?}");

    // No format, or a filter the server refuses: errors, nothing written.
    server
        .admin()
        .args(["downloads", "export"])
        .run()
        .await
        .fails_with(2);
    server
        .admin()
        .args(["downloads", "export", "--csv", "--outcome", "downloaded"])
        .run()
        .await
        .fails_with(2);
}

/// The files an export left beside `ledger.csv` while it ran.
fn partial_files(server: &TestServer) -> Vec<String> {
    std::fs::read_dir(server.work.path())
        .expect("work dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("ledger.csv.part"))
        .collect()
}

/// An export cut off midway (the server ends a failing export early on purpose, and a
/// network can too) leaves no file that looks complete: the earlier export at the path
/// stays, and no partial file is left beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_cut_off_midway_leaves_the_earlier_file() {
    let server = TestServer::start(Storage::Embedded).await;
    publish_two_versions(&server).await;
    let (_, api_key) = server.entitled_customer("acme-agent").await;
    for run in 0..8 {
        server
            .customer(&api_key)
            .args(["download", "acme-agent", "--version", "1.0.0"])
            .args(["--platform", "darwin-arm64", "-o", &format!("small-{run}/")])
            .run()
            .await
            .ok();
    }
    let whole = server
        .admin()
        .args(["downloads", "export", "--csv"])
        .run()
        .await
        .ok();
    assert!(whole.stdout.len() > 3000, "16 rows: {whole:#?}");

    let earlier = server.path("ledger.csv");
    std::fs::write(&earlier, "the earlier export\n").expect("write");
    // The export's only connection breaks 2 000 bytes into its answer: past the
    // headers, before the end of the rows.
    let front = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let upstream = server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let proxy = LoopbackProxy::start(front, upstream, Disturbance::CutAnswerAfter(2000)).await;
    let cut = server
        .admin()
        .args(["--url", &format!("http://{}", proxy.address)])
        .args([
            "downloads",
            "export",
            "--csv",
            "--output",
            "ledger.csv",
            "--json",
        ])
        .run()
        .await
        .fails_with(6);
    assert!(proxy.has_cut(), "{cut:#?}");
    assert_eq!(cut.error_json()["error"]["code"], "network_error");
    assert_eq!(
        std::fs::read_to_string(&earlier).expect("read"),
        "the earlier export\n"
    );
    assert_eq!(partial_files(&server), Vec::<String>::new());

    // Whole, it replaces the earlier file.
    server
        .admin()
        .args(["downloads", "export", "--csv", "--output", "ledger.csv"])
        .run()
        .await
        .ok();
    assert_eq!(
        std::fs::read_to_string(&earlier).expect("read"),
        whole.stdout
    );
    assert_eq!(partial_files(&server), Vec::<String>::new());

    // A device path is written directly, whether standard output is a pipe (here) or
    // a file.
    let piped = server
        .admin()
        .args(["downloads", "export", "--csv", "--output", "/dev/stdout"])
        .run()
        .await
        .ok();
    assert_eq!(piped.stdout, whole.stdout);
    let redirected = server.path("redirected.csv");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec \"$0\" downloads export --csv --output /dev/stdout > '{}'",
            redirected.display()
        ))
        .arg(env!("CARGO_BIN_EXE_releasy"))
        .env("RELEASY_URL", &server.base_url)
        .env("RELEASY_ADMIN_API_KEY", crate::helpers::ADMIN_KEY)
        .env("HOME", server.work.path())
        .status()
        .expect("run releasy");
    assert!(status.success(), "{status}");
    assert_eq!(
        std::fs::read_to_string(&redirected).expect("read"),
        whole.stdout
    );
}

/// A run that fails (here: the quota refuses the token) leaves the file at the target
/// as it was, so an updater whose download is refused keeps the file it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_download_leaves_the_file_it_would_have_replaced() {
    let server = TestServer::start(Storage::Embedded).await;
    publish_two_versions(&server).await;
    let quota = ["--quota-downloads", "1", "--quota-period", "day"];
    let (_, api_key) = server.entitled_customer_granted("acme-agent", &quota).await;
    // The one download the quota allows.
    server
        .customer(&api_key)
        .args(["download", "acme-agent", "--version", "1.0.0"])
        .args(["--platform", "linux-x86_64", "-o", "first/"])
        .run()
        .await
        .ok();

    let installed = server.path("installed/agent.tar.gz");
    std::fs::create_dir_all(server.path("installed")).expect("dir");
    let before = write_file(&installed, 1000, 99);
    let refused = server
        .customer(&api_key)
        .args(["download", "acme-agent", "--platform", "linux-x86_64"])
        .args(["-o", "installed/agent.tar.gz"])
        .run()
        .await
        .fails_with(6); // 429: worth trying again once the period resets
    assert!(refused.stderr.contains("quota exceeded"), "{refused:#?}");
    assert_eq!(
        file_sha256(&installed),
        before,
        "the file is back as it was"
    );
    assert!(!exists(&server.path("installed/agent.tar.gz.part")));
    assert!(!exists(&server.path("installed/agent.tar.gz.part.sha256")));
}

/// Updating a file in place: the file at the target (shorter, the version before) is
/// never taken for the start of the new one, so the update costs one download and the
/// file is replaced only by the verified new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_in_place_costs_one_download_and_keeps_the_file_until_verified() {
    let server = TestServer::start(Storage::Embedded).await;
    let newest = publish_two_versions(&server).await;
    let quota = ["--quota-downloads", "1", "--quota-period", "day"];
    let (customer_id, api_key) = server.entitled_customer_granted("acme-agent", &quota).await;
    let installed = server.path("installed/agent.tar.gz");
    std::fs::create_dir_all(server.path("installed")).expect("dir");
    write_file(&installed, 1000, 99);
    let report = server
        .customer(&api_key)
        .args(["download", "acme-agent", "--platform", "linux-x86_64"])
        .args(["-o", "installed/agent.tar.gz", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(report["resumed_from"], 0, "{report}");
    assert_eq!(file_sha256(&installed), newest);
    assert_eq!(redirected(&server, &customer_id, 1).await, 1);
}

/// The start of another version left in the part file (a download of 1.0.0 cut off,
/// then 1.1.0 asked for) is not resumed: its bytes would be fetched for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_file_of_another_version_is_not_resumed() {
    let server = TestServer::start(Storage::Embedded).await;
    let newest = publish_two_versions(&server).await;
    let (customer_id, api_key) = server.entitled_customer("acme-agent").await;
    let older = std::fs::read(server.path("1.0.0/agent.tar.gz")).expect("read");
    std::fs::write(server.path("agent.tar.gz.part"), &older[..older.len() / 3]).expect("part");
    std::fs::write(
        server.path("agent.tar.gz.part.sha256"),
        format!("{}\n", file_sha256(&server.path("1.0.0/agent.tar.gz"))),
    )
    .expect("claim");
    let report = server
        .customer(&api_key)
        .args([
            "download",
            "acme-agent",
            "--platform",
            "linux-x86_64",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(report["version"], "1.1.0");
    assert_eq!(report["resumed_from"], 0, "{report}");
    assert_eq!(file_sha256(&server.path("agent.tar.gz")), newest);
    assert_eq!(redirected(&server, &customer_id, 1).await, 1);
}
