//! # releasy-testkit
//!
//! Test support for Releasy, shared by the adapters' and the server's test suites:
//!
//! * [`TestPostgres`]: a fresh, uniquely named PostgreSQL database per test, on the
//!   server named by `RELEASY_TEST_POSTGRES_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`), dropped when the value is. When
//!   PostgreSQL is unreachable it panics with directions: tests never skip silently.
//! * [`TestSqlite`]: a SQLite database file in a temporary folder, deleted on drop.
//! * [`contract`]: the repository contract suite, the promises of the repository ports'
//!   doc comments as checks any implementation (diesel on PostgreSQL or SQLite, the
//!   in-memory fakes) can be run against.
//! * [`OutageProxy`]: a TCP proxy in front of PostgreSQL or an S3 server whose link a
//!   test cuts and restores, to see Releasy through a dependency's outage.
//! * [`TlsPostgres`] and [`TestCa`]: a TLS-only front for the PostgreSQL server, with
//!   certificates made up for the test, to see Releasy connect over TLS as it would to
//!   a managed database.
//! * [`objects`]: the object-store contract suite, run with real presigned requests
//!   against the embedded store and the S3 store on two S3 implementations.
//!
//! ```no_run
//! use releasy_domain::ports::Repositories;
//! use releasy_testkit::contract::run_all;
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn in_memory_ports_honour_the_contract() {
//!     run_all(Repositories::in_memory()).await;
//! }
//! ```
#![warn(missing_docs)]
#![allow(
    clippy::expect_used,
    reason = "test support: a broken promise or a failed setup fails the test loudly"
)]

mod certificates;
pub mod contract;
pub mod objects;
mod outage;
mod postgres;
mod postgres_tls;
mod sqlite;

pub use certificates::{Issued, TestCa};
pub use contract::run_all;
pub use outage::OutageProxy;
pub use postgres::{DEFAULT_POSTGRES_URL, POSTGRES_URL_ENV, TestPostgres, admin_url};
pub use postgres_tls::{TlsPostgres, TlsPostgresCounts};
pub use sqlite::TestSqlite;
