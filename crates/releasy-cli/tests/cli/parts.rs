//! Uploads in parts from the CLI: a file above the server's part size (5 MiB here) goes
//! up in parts, several at a time, on both stores; a run killed midway is resumed by the
//! next without sending again the parts the server holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{Storage, TestServer, write_file};
use crate::proxy::{Disturbance, Request};

const PART: u64 = 5 * 1024 * 1024;

async fn server(storage: Storage) -> TestServer {
    TestServer::start_with_settings(storage, &[("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5242880")])
        .await
}

async fn a_large_file_goes_up_in_parallel_parts(storage: Storage) {
    let server = server(storage).await;
    let len = 4 * PART + 3 * 1024 * 1024 + 17;
    let sha = write_file(&server.path("disk.img"), len as usize, 3);
    let report = server
        .admin()
        .args([
            "publish",
            "--product",
            "vm",
            "--version",
            "1.0.0",
            "--parallel",
            "3",
            "disk.img:linux",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    let artifact = &report["artifacts"][0];
    assert_eq!(artifact["result"], "uploaded", "{report}");
    assert_eq!(artifact["sent_bytes"], len, "{report}");
    let release = server.release("vm", "1.0.0").await.expect("release");
    assert_eq!(release["artifacts"][0]["checksum"], sha.as_str());
    assert_eq!(release["artifacts"][0]["size"], len);
    let key = artifact["object_key"].as_str().expect("object_key");
    if let Some(path) = server.embedded_object_path(key) {
        assert_eq!(crate::helpers::file_sha256(&path), sha);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_goes_up_in_parallel_parts_on_the_embedded_store() {
    a_large_file_goes_up_in_parallel_parts(Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_goes_up_in_parallel_parts_on_s3() {
    a_large_file_goes_up_in_parallel_parts(Storage::S3).await;
}

/// The parts the embedded store holds whole (their records), by file name.
fn recorded_parts(server: &TestServer) -> Vec<String> {
    let uploads = server.embedded_uploads_dir().expect("the embedded store");
    let mut parts = Vec::new();
    for upload in std::fs::read_dir(uploads).expect("uploads dir").flatten() {
        if !upload.file_name().to_string_lossy().starts_with("parts-") {
            continue;
        }
        for entry in std::fs::read_dir(upload.path())
            .expect("upload dir")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".part") {
                parts.push(name);
            }
        }
    }
    parts.sort();
    parts
}

/// Killed after its first parts arrived, the upload resumes on the next run: only the
/// parts the store lacks are sent. (On the embedded store, whose part records show what
/// arrived; s3s-fs does not report the ETags of the parts it holds, so there every part
/// is sent again, which the API tests cover.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upload_in_parts_resumes_without_resending_what_arrived() {
    let server = server(Storage::Embedded).await;
    let len = 16 * PART;
    let sha = write_file(&server.path("disk.img"), len as usize, 5);
    let args = [
        "artifact",
        "upload",
        "vm@2.0.0",
        "disk.img",
        "--platform",
        "linux",
        "--parallel",
        "1",
    ];
    server
        .admin()
        .args(["release", "create", "--product", "vm", "--version", "2.0.0"])
        .run()
        .await
        .ok();
    let mut child = server.admin().args(args).spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    while recorded_parts(&server).len() < 2 {
        assert!(Instant::now() < deadline, "no part arrived");
        assert!(
            child.try_wait().expect("poll child").is_none(),
            "the upload ended before it could be interrupted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().await.expect("kill the upload");
    child.wait().await.expect("reap the upload");
    // A part cut off midway is not recorded; give its request a moment to end.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = recorded_parts(&server);
    assert!(
        held.len() < 16,
        "the first run was not interrupted midway: {held:?}"
    );

    let report = server
        .admin()
        .args(args)
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    let artifact = &report["artifacts"][0];
    assert_eq!(artifact["result"], "uploaded", "{report}");
    assert_eq!(
        artifact["sent_bytes"],
        len - held.len() as u64 * PART,
        "only the parts the store lacked were sent: {report}"
    );
    let release = server.release("vm", "2.0.0").await.expect("release");
    assert_eq!(release["artifacts"][0]["checksum"], sha.as_str());
}

/// A part the store fails (here a proxy answering `503` while its body is on the way)
/// is sent again, and the upload completes in the same run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_part_is_sent_again() {
    let settings = [("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5242880")];
    let fail = Disturbance::FailFirstPartUpload;
    let server = TestServer::start_behind_proxy(Storage::Embedded, fail, &settings).await;
    let len = 2 * PART + 1024 * 1024;
    let sha = write_file(&server.path("disk.img"), len as usize, 4);
    let run = server
        .admin()
        .args(["publish", "--product", "vm", "--version", "4.0.0"])
        .args(["--parallel", "2", "disk.img:linux", "--json"])
        .run()
        .await
        .ok();
    assert!(server.proxy_has_cut(), "a part upload was answered 503");
    assert!(
        run.stderr.contains("failed (") && run.stderr.contains("; sending it again"),
        "{run:#?}"
    );
    let report = run.json();
    let artifact = &report["artifacts"][0];
    assert_eq!(artifact["result"], "uploaded", "{report}");
    assert_eq!(artifact["sent_bytes"], len, "{report}");
    let release = server.release("vm", "4.0.0").await.expect("release");
    assert_eq!(release["artifacts"][0]["checksum"], sha.as_str());
    let key = artifact["object_key"].as_str().expect("object_key");
    let stored = server.embedded_object_path(key).expect("embedded store");
    assert_eq!(crate::helpers::file_sha256(&stored), sha);
}

/// A file rewritten after it was hashed is not registered as if it were the file
/// hashed: the run stops with exit code 1, where the server (verifying large files in
/// the background, as on S3 here) would have registered the parts `pending`, and
/// publish would have published them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_while_its_parts_go_up_is_not_registered() {
    use std::io::BufRead as _;

    let settings = [
        ("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5242880"),
        ("RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES", "0"),
        ("RELEASY_ARTIFACT_VERIFY_INTERVAL_SECONDS", "3600"),
    ];
    // The presign waits in the proxy until the file is rewritten: the parts cannot go
    // up before (a run racing the rewrite once sent every part first, and rightly
    // registered the bytes it had hashed).
    let rewritten_gate = Arc::new(tokio::sync::Notify::new());
    let hold = Disturbance::HoldFirstUntil(Request::ArtifactPresign, Arc::clone(&rewritten_gate));
    let server = TestServer::start_behind_proxy(Storage::S3, hold, &settings).await;
    let len = 8 * PART;
    let path = server.path("disk.img");
    write_file(&path, len as usize, 10);
    let mut publish = server
        .admin()
        .args(["publish", "--product", "vm", "--version", "5.0.0"])
        .args(["--parallel", "1", "disk.img:linux"])
        .spawn_reading_stderr();
    let stderr = publish
        .stderr
        .take()
        .expect("stderr")
        .into_owned_fd()
        .expect("fd");
    let rewritten = path.clone();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(std::fs::File::from(stderr)).lines() {
            let line = line.expect("stderr");
            // Hashed, and the release is there: the file is rewritten (other bytes, three
            // parts shorter), then the presign goes on. The first five parts go up with
            // the new bytes; the sixth finds the file ended.
            if line.starts_with("created release") {
                write_file(&rewritten, (len - 3 * PART) as usize, 11);
                rewritten_gate.notify_one();
            }
            seen.push(line);
        }
        seen
    });
    let status = publish.wait().await.expect("publish ends");
    let seen = tokio::task::spawn_blocking(move || reader.join().expect("reader"))
        .await
        .expect("reader");
    assert_eq!(status.code(), Some(1), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|l| l.contains("changed while it was being uploaded")),
        "{seen:#?}"
    );
    let release = server.release("vm", "5.0.0").await.expect("release");
    assert_eq!(release["status"], "draft", "{release}");
    assert_eq!(
        release["artifacts"].as_array().map(Vec::len),
        Some(0),
        "{release}"
    );

    // The file as it was hashed, again (a re-run of a reproducible build): no part of
    // the changed bytes is resumed onto, every part goes up again. (The first run
    // aborted its upload; this also holds without that abort, whose use is to free the
    // changed parts at once rather than at the sweeper's deadline.)
    let sha = write_file(&path, len as usize, 10);
    let report = server
        .admin()
        .args(["publish", "--product", "vm", "--version", "5.0.0"])
        .args(["--parallel", "1", "disk.img:linux", "--json"])
        .run()
        .await
        .ok()
        .json();
    let outcome = &report["artifacts"][0];
    assert_eq!(outcome["sha256"], sha.as_str(), "{report}");
    assert_eq!(outcome["sent_bytes"], len, "{report}");
}

/// An upload that outlasts its URLs (2 s here, 900 s by default) asks the server for
/// fresh ones before a part would start with an expired URL: the parts go through a
/// link that carries 4 MiB a second, so the last of four starts well after the URLs
/// of the presign expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_outlasts_its_urls_renews_them() {
    let settings = [
        ("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5242880"),
        ("RELEASY_ARTIFACT_PRESIGN_EXPIRES_SECONDS", "2"),
    ];
    let slow = Disturbance::RequestsAt(4 * 1024 * 1024);
    let server = TestServer::start_behind_proxy(Storage::Embedded, slow, &settings).await;
    let len = 3 * PART + 1024 * 1024;
    let sha = write_file(&server.path("disk.img"), len as usize, 9);
    let started = Instant::now();
    let report = server
        .admin()
        .args(["publish", "--product", "vm", "--version", "3.0.0"])
        .args(["--parallel", "1", "disk.img:linux", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the parts went faster than the URLs expire: the test proves nothing"
    );
    let artifact = &report["artifacts"][0];
    assert_eq!(artifact["result"], "uploaded", "{report}");
    assert_eq!(artifact["sent_bytes"], len, "{report}");
    let release = server.release("vm", "3.0.0").await.expect("release");
    assert_eq!(release["artifacts"][0]["checksum"], sha.as_str());
}

/// Under immutable releases a release is published only once every file is verified:
/// a file in parts above the inline limit is verified in the background (on the
/// embedded store too), so `publish` waits for it and then publishes, rather than
/// ending on the server's `409`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_waits_for_the_background_check_under_immutable_releases() {
    let settings = [
        ("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5242880"),
        ("RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES", "0"),
        ("RELEASY_ARTIFACT_VERIFY_INTERVAL_SECONDS", "3"),
        ("RELEASY_IMMUTABLE_RELEASES", "true"),
    ];
    let server = TestServer::start_with_settings(Storage::Embedded, &settings).await;
    let sha = write_file(&server.path("disk.img"), (2 * PART + 99) as usize, 4);
    let report = server
        .admin()
        .args(["publish", "--product", "vm", "--version", "7.0.0"])
        .args(["disk.img:linux", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(report["published"], "now", "{report}");
    let release = server.release("vm", "7.0.0").await.expect("release");
    assert_eq!(release["status"], "published", "{release}");
    assert!(release["sealed_at"].is_i64(), "{release}");
    let artifact = &release["artifacts"][0];
    assert_eq!(artifact["verification"], "verified", "{release}");
    assert_eq!(artifact["checksum"], sha.as_str(), "{release}");
}
