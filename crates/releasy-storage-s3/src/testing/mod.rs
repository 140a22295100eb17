//! Real S3-compatible servers for tests (feature `test-server`), so that no behaviour
//! of the S3 store depends on one server's leniency:
//!
//! - [`TestS3Server`]: [s3s-fs](https://docs.rs/s3s-fs) inside the test process, with
//!   SigV4 checked (signatures and expiry);
//! - [`MotoS3Server`]: an independent implementation, moto's server (PyPI
//!   `moto[server]`), as a child process. It does not check signatures.
//!
//! Both listen on `127.0.0.1` and hand back what an [`S3Config`]
//! needs. They are test support: a server that cannot start fails the test loudly.

mod moto;
mod s3s_server;

pub use moto::{MOTO_REGION, MotoS3Server};
pub use s3s_server::{TEST_REGION, TestS3Server};

use s3::creds::Credentials;
use s3::{Bucket, BucketConfiguration, Region};

use crate::S3Config;

/// Which S3 implementation a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Implementation {
    /// [`TestS3Server`].
    S3s,
    /// [`MotoS3Server`].
    Moto,
}

/// A running test server of either implementation; it stops when dropped.
#[derive(Debug)]
pub enum RunningS3 {
    /// s3s-fs, in-process.
    S3s(TestS3Server),
    /// moto, a child process.
    Moto(MotoS3Server),
}

impl RunningS3 {
    /// Starts a server of `implementation` with a fresh bucket.
    ///
    /// # Panics
    /// As [`TestS3Server::start`] and [`MotoS3Server::start`].
    pub async fn start(implementation: S3Implementation) -> Self {
        match implementation {
            S3Implementation::S3s => Self::S3s(TestS3Server::start().await),
            S3Implementation::Moto => Self::Moto(MotoS3Server::start().await),
        }
    }

    /// Settings for an [`S3ObjectStore`](crate::S3ObjectStore) on the server's bucket.
    pub fn config(&self) -> S3Config {
        match self {
            Self::S3s(server) => server.config(),
            Self::Moto(server) => server.config(),
        }
    }
}

/// Creates the bucket `config` names (path style) on its endpoint.
#[allow(
    clippy::expect_used,
    reason = "test support: a failed setup fails the test"
)]
async fn create_bucket(config: &S3Config) {
    let region = Region::Custom {
        region: config.region.clone(),
        endpoint: config
            .endpoint
            .clone()
            .expect("test S3 server: an endpoint"),
    };
    let credentials = Credentials::new(
        Some(&config.access_key),
        Some(&config.secret_key),
        None,
        None,
        None,
    )
    .expect("test S3 server: credentials");
    Bucket::create_with_path_style(
        &config.bucket,
        region,
        credentials,
        BucketConfiguration::default(),
    )
    .await
    .expect("test S3 server: create bucket");
}
