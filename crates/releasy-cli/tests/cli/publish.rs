//! `releasy publish`: several files on each store, re-runs, and a re-run after the
//! first run was killed midway.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{Backend, Storage, TestServer, file_sha256, write_file};
use crate::proxy::Disturbance;

/// `(stored name, platform) -> sha256` of a release's artifacts, asserting no
/// duplicates.
fn artifact_map(release: &Value) -> BTreeMap<(String, String), String> {
    let artifacts = release["artifacts"].as_array().expect("artifacts");
    let mut map = BTreeMap::new();
    for a in artifacts {
        let name = a["object_key"]
            .as_str()
            .expect("object_key")
            .rsplit('/')
            .next()
            .expect("name")
            .to_owned();
        let platform = a["platform"].as_str().expect("platform").to_owned();
        let previous = map.insert(
            (name, platform),
            a["checksum"].as_str().expect("checksum").to_owned(),
        );
        assert!(previous.is_none(), "duplicate artifact in {release}");
    }
    map
}

async fn publish_several_files(server: TestServer) {
    let files = [
        ("agent-linux.tar.gz", "linux-x86_64", 300_000, 1),
        ("agent-macos.zip", "darwin-arm64", 150_001, 2),
        ("agent-setup.msi", "windows-x86_64", 17, 3),
    ];
    let mut expected = BTreeMap::new();
    let mut args = vec![
        "publish".to_owned(),
        "--product".to_owned(),
        "acme-agent".to_owned(),
        "--version".to_owned(),
        "2.0.0".to_owned(),
        "--platform".to_owned(),
        "windows-x86_64".to_owned(),
    ];
    for (name, platform, len, seed) in files {
        let sha = write_file(&server.path(name), len, seed);
        expected.insert((name.to_owned(), platform.to_owned()), sha);
        // The last file takes its platform from --platform.
        args.push(if seed == 3 {
            name.to_owned()
        } else {
            format!("{name}:{platform}")
        });
    }

    let report = server
        .admin()
        .args(&args)
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    assert_eq!(report["created"], true, "{report}");
    assert_eq!(report["published"], "now", "{report}");
    let outcomes = report["artifacts"].as_array().expect("artifacts");
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes.iter().all(|o| o["result"] == "uploaded"),
        "{report}"
    );

    let release = server
        .release("acme-agent", "2.0.0")
        .await
        .expect("release");
    assert_eq!(release["status"], "published");
    assert_eq!(artifact_map(&release), expected);
    for a in release["artifacts"].as_array().expect("artifacts") {
        if let Some(path) = server.embedded_object_path(a["object_key"].as_str().expect("key")) {
            assert_eq!(
                &file_sha256(&path),
                a["checksum"].as_str().expect("checksum")
            );
        }
    }

    // The same command again: nothing new, and success.
    let again = server
        .admin()
        .args(&args)
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(again["published"], "already", "{again}");
    assert!(
        again["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .all(|o| o["result"] == "already_registered"),
        "{again}"
    );
    let release = server
        .release("acme-agent", "2.0.0")
        .await
        .expect("release");
    assert_eq!(artifact_map(&release), expected);

    // The platform in other letters names the same file (the server and downloads
    // read platforms without regard to case): nothing new either.
    let shouted: Vec<String> = args
        .iter()
        .map(|arg| arg.replace(":linux-x86_64", ":LINUX-X86_64"))
        .collect();
    assert_ne!(shouted, args);
    let again = server
        .admin()
        .args(&shouted)
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    assert!(
        again["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .all(|o| o["result"] == "already_registered"),
        "{again}"
    );
    let release = server
        .release("acme-agent", "2.0.0")
        .await
        .expect("release");
    assert_eq!(artifact_map(&release), expected);
    // One file given twice, once per spelling of its platform, is refused.
    let twice = server
        .admin()
        .args(["publish", "--product", "acme-agent", "--version", "2.0.0"])
        .arg("agent-linux.tar.gz:linux-x86_64")
        .arg("agent-linux.tar.gz:Linux-X86_64")
        .run()
        .await
        .fails_with(2);
    assert!(twice.stderr.contains("is given twice"), "{twice:#?}");

    // A human run prints a table and the outcome.
    let human = server
        .admin()
        .args(&args[..args.len() - 1])
        .run()
        .await
        .ok();
    assert!(human.stdout.contains("already registered"), "{human:#?}");
    assert!(human.stdout.contains("was already published"), "{human:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_several_files_on_the_embedded_store() {
    publish_several_files(TestServer::start(Storage::Embedded).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_several_files_on_s3() {
    publish_several_files(TestServer::start(Storage::S3).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_several_files_on_postgres() {
    publish_several_files(TestServer::start_on(Backend::Postgres, Storage::Embedded).await).await;
}

async fn rerun_after_kill(storage: Storage) {
    let server = TestServer::start(storage).await;
    // The large file goes first, so the run is still uploading it when it is killed.
    let big = write_file(&server.path("big.bin"), 40 * 1024 * 1024, 7);
    let small = write_file(&server.path("small.tar.gz"), 4096, 8);
    let args = [
        "publish",
        "--product",
        "bigapp",
        "--version",
        "1.0.0",
        "big.bin:linux-x86_64",
        "small.tar.gz:linux-x86_64",
        "small.tar.gz:darwin-arm64",
    ];

    let mut child = server.admin().args(args).spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    let interrupted = loop {
        assert!(Instant::now() < deadline, "the release never appeared");
        if let Some(release) = server.release("bigapp", "1.0.0").await {
            break release;
        }
        assert!(
            child.try_wait().expect("poll child").is_none(),
            "publish ended before it could be interrupted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    child.kill().await.expect("kill publish");
    assert_eq!(interrupted["status"], "draft", "{interrupted}");
    let partial = server.release("bigapp", "1.0.0").await.expect("release");
    assert!(
        partial["artifacts"].as_array().expect("artifacts").len() < 3,
        "the first run was not interrupted midway: {partial}"
    );

    let report = server
        .admin()
        .args(args)
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    assert_eq!(report["created"], false, "{report}");
    assert_eq!(report["published"], "now", "{report}");

    let release = server.release("bigapp", "1.0.0").await.expect("release");
    assert_eq!(release["status"], "published");
    let expected = BTreeMap::from([
        (("big.bin".to_owned(), "linux-x86_64".to_owned()), big),
        (
            ("small.tar.gz".to_owned(), "linux-x86_64".to_owned()),
            small.clone(),
        ),
        (
            ("small.tar.gz".to_owned(), "darwin-arm64".to_owned()),
            small,
        ),
    ]);
    assert_eq!(artifact_map(&release), expected);

    // And once more: still exactly those three.
    server.admin().args(args).run().await.ok();
    let release = server.release("bigapp", "1.0.0").await.expect("release");
    assert_eq!(artifact_map(&release), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_rerun_after_being_killed_midway_embedded() {
    rerun_after_kill(Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_rerun_after_being_killed_midway_s3() {
    rerun_after_kill(Storage::S3).await;
}

/// A run cut off between storing a file and registering it: the re-run is handed the
/// same upload URL (its presign is idempotent), under which the store would refuse
/// another `PUT` (the embedded store `409`, S3's conditional `PUT` `412`). It asks
/// registration first, which checks the stored object against the file, and sends
/// nothing again.
async fn rerun_after_the_bytes_were_stored(storage: Storage) {
    let server =
        TestServer::start_behind_proxy(storage, Disturbance::FailFirstRegistration, &[]).await;
    let sha256 = write_file(&server.path("small.tar.gz"), 4096, 9);
    let args = [
        "publish",
        "--product",
        "cutoff",
        "--version",
        "1.0.0",
        "small.tar.gz:linux-x86_64",
    ];
    server.admin().args(args).run().await.fails_with(6);
    let first = server.release("cutoff", "1.0.0").await.expect("release");
    assert!(
        first["artifacts"].as_array().expect("artifacts").is_empty(),
        "the first run registered nothing: {first}"
    );

    let report = server
        .admin()
        .args(args)
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    assert_eq!(
        report["artifacts"][0]["sent_bytes"], 0,
        "registration found the stored file: nothing was sent again: {report}"
    );
    let release = server.release("cutoff", "1.0.0").await.expect("release");
    assert_eq!(release["status"], "published");
    assert_eq!(
        artifact_map(&release),
        BTreeMap::from([(
            ("small.tar.gz".to_owned(), "linux-x86_64".to_owned()),
            sha256
        )])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_rerun_after_the_bytes_were_stored_embedded() {
    rerun_after_the_bytes_were_stored(Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_rerun_after_the_bytes_were_stored_s3() {
    rerun_after_the_bytes_were_stored(Storage::S3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_upload_and_release_commands() {
    let server = TestServer::start(Storage::Embedded).await;
    let created = server
        .admin()
        .args(["release", "create", "--product", "tool", "--version", "0.9"])
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["status"], "draft");
    let a = write_file(&server.path("tool-a.tgz"), 1000, 11);
    let b = write_file(&server.path("tool-b.tgz"), 2000, 12);

    let upload = server
        .admin()
        .args(["artifact", "upload", &id, "tool-a.tgz", "tool-b.tgz"])
        .args(["--platform", "linux", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(upload["artifacts"].as_array().expect("artifacts").len(), 2);
    // By PRODUCT@VERSION, again: nothing new.
    let again = server
        .admin()
        .args(["artifact", "upload", "tool@0.9", "tool-a.tgz", "tool-b.tgz"])
        .args(["--platform", "linux", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(
        again["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .all(|o| o["result"] == "already_registered"),
        "{again}"
    );
    // A different file under a registered name is a conflict.
    write_file(&server.path("tool-a.tgz"), 1000, 99);
    server
        .admin()
        .args([
            "artifact",
            "upload",
            "tool@0.9",
            "tool-a.tgz",
            "--platform",
            "linux",
        ])
        .run()
        .await
        .fails_with(5);

    let listed = server
        .admin()
        .args([
            "release",
            "list",
            "--product",
            "tool",
            "--artifacts",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    let release = &listed["releases"][0];
    assert_eq!(
        artifact_map(release),
        BTreeMap::from([
            (("tool-a.tgz".to_owned(), "linux".to_owned()), a),
            (("tool-b.tgz".to_owned(), "linux".to_owned()), b),
        ])
    );

    let published = server
        .admin()
        .args(["release", "publish", "tool@0.9", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(published["published"], "now");
    server
        .admin()
        .args(["release", "unpublish", &id])
        .run()
        .await
        .ok();
    assert_eq!(
        server.release("tool", "0.9").await.expect("release")["status"],
        "draft"
    );
    let table = server.admin().args(["release", "list"]).run().await.ok();
    assert!(
        table.stdout.contains("tool") && table.stdout.contains("draft"),
        "{table:#?}"
    );
    server
        .admin()
        .args(["release", "delete", "tool@0.9"])
        .run()
        .await
        .ok();
    assert!(server.release("tool", "0.9").await.is_none());
}

/// The recovery the docs give for a failed artifact: delete the draft, publish again.
/// A second run that changes the release (its notes here) creates it anew: its creation
/// is another request, under another idempotency key (the key was the product and
/// version's alone, so the server refused it as a reuse, `409 idempotency_conflict`, for
/// a day).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_deleted_and_published_again_with_other_notes_is_created() {
    let server = TestServer::start(Storage::Embedded).await;
    let file = server.path("tool.tgz");
    write_file(&file, 1_000, 7);
    let file = format!("{}:linux", file.display());
    let publish = |extra: &[&str]| {
        let mut args = vec!["publish", "--product", "tool", "--version", "1.0.0"];
        args.extend_from_slice(extra);
        args.push(&file);
        args.push("--json");
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let first = server
        .admin()
        .args(publish(&["--no-publish"]))
        .run()
        .await
        .ok()
        .json();
    assert_eq!(first["created"], true, "{first}");
    server
        .admin()
        .args(["release", "delete", "tool@1.0.0"])
        .run()
        .await
        .ok();

    // A notes file larger than release notes may be is refused before anything is
    // hashed or sent (named by mistake, it could be a disk image).
    let too_long = server.path("TOO-LONG.md");
    std::fs::write(&too_long, vec![b'a'; 64 * 1024 + 1]).expect("notes");
    let too_long = too_long.display().to_string();
    let refused = server
        .admin()
        .args(publish(&["--notes-file", &too_long]))
        .run()
        .await
        .fails_with(2);
    assert_eq!(
        refused.error_json()["error"]["code"],
        "usage",
        "{refused:#?}"
    );
    assert!(refused.stderr.contains("more than 64 KiB"), "{refused:#?}");
    assert!(server.release("tool", "1.0.0").await.is_none());

    let notes = server.path("NOTES.md");
    std::fs::write(&notes, "Fixed the installer.").expect("notes");
    let notes = notes.display().to_string();
    let second = server
        .admin()
        .args(publish(&["--notes-file", &notes]))
        .run()
        .await
        .ok()
        .json();
    assert_eq!(second["created"], true, "{second}");
    assert_eq!(second["published"], "now", "{second}");
    let release = server.release("tool", "1.0.0").await.expect("release");
    assert_eq!(release["notes"], "Fixed the installer.");
    assert_ne!(release["id"], first["release"]["id"], "{first}");
}
