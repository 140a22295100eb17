//! Several `releasy-server` processes as one deployment (issue 17): three instances on
//! one PostgreSQL database and one S3 bucket, behind nginx, under a bounded load, with
//! instances killed and restarted. What docs/deployment.md promises of such a
//! deployment is checked here on real processes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

#[path = "../process/mod.rs"]
mod process;

mod consistency;
mod deployment;
mod failover;
mod nginx;
