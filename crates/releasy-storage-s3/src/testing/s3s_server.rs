//! s3s-fs: a real S3-compatible server inside the test process.
//!
//! [`TestS3Server::start`] serves [s3s-fs](https://docs.rs/s3s-fs) from a temporary
//! directory on `127.0.0.1` with SigV4 authentication, creates a bucket, and hands back
//! what an [`S3Config`] needs. Nothing is installed or spawned outside the process.
//! It is test support: a server that cannot start fails the test loudly.
#![allow(
    clippy::expect_used,
    reason = "test support: a server that cannot start fails the test"
)]

use std::sync::atomic::{AtomicU64, Ordering};

use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::create_bucket;
use crate::S3Config;

/// The signing region the test server is addressed with.
pub const TEST_REGION: &str = "us-east-1";

/// An s3s-fs server on a temporary directory, listening on `127.0.0.1`. Dropping it
/// stops accepting connections and deletes the directory.
#[derive(Debug)]
pub struct TestS3Server {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The access key the server accepts.
    pub access_key: String,
    /// The secret key the server accepts.
    pub secret_key: String,
    /// A bucket that exists on the server.
    pub bucket: String,
    accept_loop: JoinHandle<()>,
    _dir: TempDir,
}

impl TestS3Server {
    /// Starts a server with a fresh bucket. Needs a Tokio runtime with the I/O driver
    /// (any `#[tokio::test]`).
    ///
    /// # Panics
    /// When the directory, the listener or the bucket cannot be made: this is a test
    /// fixture.
    pub async fn start() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let access_key = format!("releasy-test-ak-{n}");
        let secret_key = format!("releasy-test-sk-{n}-{}", std::process::id());
        let bucket = "releasy-artifacts".to_owned();

        let dir = TempDir::new().expect("test S3 server: temporary directory");
        let fs = s3s_fs::FileSystem::new(dir.path()).expect("test S3 server: s3s-fs root");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(
            access_key.clone(),
            secret_key.clone(),
        ));
        let service = builder.build();

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("test S3 server: bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("test S3 server: local address");
        let accept_loop = tokio::spawn(async move {
            let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(stream), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });

        let server = Self {
            endpoint: format!("http://{addr}"),
            access_key,
            secret_key,
            bucket,
            accept_loop,
            _dir: dir,
        };
        create_bucket(&server.config()).await;
        server
    }

    /// Settings for an [`S3ObjectStore`](crate::S3ObjectStore) on this server's bucket
    /// (path style, region [`TEST_REGION`]).
    pub fn config(&self) -> S3Config {
        S3Config {
            bucket: self.bucket.clone(),
            region: TEST_REGION.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            path_style: true,
        }
    }
}

impl Drop for TestS3Server {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}
