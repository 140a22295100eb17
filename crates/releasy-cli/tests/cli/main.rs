//! The `releasy` binary run as a subprocess against a real `releasy-server` started
//! in this process on a random loopback port (SQLite or PostgreSQL; the embedded store
//! or an in-process S3 server).
#![allow(clippy::expect_used, reason = "tests")]

mod config;
mod demo;
mod download;
mod errors;
mod helpers;
mod operator;
mod parts;
mod proxy;
mod publish;
mod updates;
mod verification;
