//! HTTP tests: the real server on a random port, on SQLite and on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod database;
mod helpers;
#[path = "../process/mod.rs"]
mod process;

mod address_rules;
mod after_the_fact;
mod artifacts;
mod audit;
mod caching;
mod change_events;
mod client_compat;
mod client_flow;
mod customer_auth;
mod customer_releases;
mod customers;
mod download_ledger;
mod download_links;
mod downloads;
mod entitlement_scopes;
mod entitlements;
mod flow;
mod health;
mod hostile_clients;
mod idempotent_retries;
mod immutable_releases;
mod instances;
mod key_management;
mod keys;
mod limited_links;
mod metrics;
mod outages;
mod protocol_errors;
mod quotas;
mod rate_limits;
mod release_model;
mod releases;
mod rotation;
mod updates;
mod uploads;
mod verification;
mod yank;
