//! # releasy-server
//!
//! The thin application crate: it reads configuration ([`settings`]), sets up logging
//! ([`telemetry`]), provisions first-start secrets ([`bootstrap`]), wires the adapters
//! into the domain behind the throughput layer (`releasy_throughput::wrap_for_production`,
//! kept coherent on PostgreSQL by [`change_feed`]) and serves HTTP ([`server`]),
//! with the artifact store [`storage`] chooses. The other commands: [`migrate`] applies
//! the migrations and exits, [`check_config`] shows the effective configuration,
//! [`health`] probes a running server (the container's health check), [`demo`] runs a
//! seeded server to try, and
//! [`verify_artifacts`] checks stored bytes after the fact. The `releasy-server` binary
//! is `main.rs`;
//! tests start the same server in-process through [`server::start`].

#![warn(missing_docs)]

pub mod audit_verify;
pub mod backup;
pub mod bootstrap;
pub mod change_feed;
pub mod check_config;
pub mod demo;
pub mod existing_database;
pub mod health;
pub mod metrics;
pub mod migrate;
pub mod server;
pub mod settings;
pub mod storage;
pub mod telemetry;
pub mod verify_artifacts;
