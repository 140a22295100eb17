//! The CLI against a server that checks bytes: it sends the headers a presign asks for
//! (S3's `x-amz-checksum-sha256`, and `If-None-Match: *` when uploads are conditional,
//! without which S3 refuses the signature), and reports a file the server verifies in
//! the background as `pending`.

use crate::helpers::{Storage, TestServer, write_file};

const PUBLISH: [&str; 6] = [
    "publish",
    "--product",
    "tool",
    "--version",
    "1.0.0",
    "tool.tgz:linux",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_checked_s3_upload_goes_up_verified() {
    let server = TestServer::start_with_settings(
        Storage::S3,
        &[("RELEASY_ARTIFACT_CONDITIONAL_PUT", "true")],
    )
    .await;
    let sha = write_file(&server.path("tool.tgz"), 300_000, 5);
    let report = server
        .admin()
        .args(PUBLISH)
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    let artifact = &report["artifacts"][0];
    assert_eq!(artifact["result"], "uploaded", "{report}");
    assert_eq!(artifact["verification"], "verified", "{report}");
    let release = server.release("tool", "1.0.0").await.expect("release");
    assert_eq!(release["artifacts"][0]["checksum"], sha.as_str());
    assert_eq!(release["artifacts"][0]["verification"], "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_verified_in_the_background_is_reported_pending() {
    let server = TestServer::start_with_settings(
        Storage::S3,
        &[
            ("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5242880"),
            ("RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES", "0"),
            // The verifier looks once at startup, then not during the test.
            ("RELEASY_ARTIFACT_VERIFY_INTERVAL_SECONDS", "3600"),
        ],
    )
    .await;
    // In parts, so S3 records no digest of the whole: it is read back later.
    write_file(&server.path("tool.tgz"), 6 * 1024 * 1024, 6);
    let run = server.admin().args(PUBLISH).run().await.ok();
    assert!(
        run.stdout.contains("uploaded, verification pending"),
        "{run:#?}"
    );
    let release = server.release("tool", "1.0.0").await.expect("release");
    assert_eq!(release["artifacts"][0]["verification"], "pending");
}
