//! Real S3-compatible servers for tests (feature `test-server`), so that no behaviour
//! of the S3 store depends on one server's leniency:
//!
//! - [`TestS3Server`]: [s3s-fs](https://docs.rs/s3s-fs) inside the test process, with
//!   SigV4 checked (signatures and expiry);
//! - [`MotoS3Server`]: an independent implementation, moto's server (PyPI
//!   `moto[server]`), as a child process. It does not check signatures.
//!
//! Both listen on `127.0.0.1` and hand back what an [`S3Config`](crate::S3Config)
//! needs. They are test support: a server that cannot start fails the test loudly.

mod moto;
mod s3s_server;

pub use moto::{MOTO_REGION, MotoS3Server};
pub use s3s_server::{TEST_REGION, TestS3Server};
