//! Releasy's S3-compatible artifact store.
//!
//! [`S3ObjectStore`] implements the domain's
//! [`ObjectStore`](releasy_domain::ports::ObjectStore) port on one bucket of AWS S3 or
//! any S3-compatible service (MinIO, Garage, Ceph, R2, ...) through rust-s3. Artifact
//! bytes never pass through the API server: it hands clients SigV4 presigned `PUT` and
//! `GET` URLs (made locally, no request) and only talks to the store itself to check an
//! upload (`HEAD`, and a streamed `GET` through SHA-256), remove an object (`DELETE`),
//! and open, list, complete or abort an upload in parts (S3's multipart upload API;
//! each part is a presigned `PUT ?partNumber=&uploadId=`).
//!
//! The server builds it from the `RELEASY_ARTIFACT_*` variables as an [`S3Config`];
//! when those are unset it uses the embedded filesystem store instead.
//!
//! The `test-server` feature adds `testing::TestS3Server`, a real S3-compatible
//! server (s3s-fs) run inside the test process, for this crate's tests and the server's.

mod config;
mod list_parts;
mod store;
#[cfg(feature = "test-server")]
pub mod testing;

pub use config::{S3Config, S3ConfigError};
pub use store::{MAX_PRESIGN_EXPIRES_SECONDS, READ_IDLE_TIMEOUT, S3ObjectStore};
