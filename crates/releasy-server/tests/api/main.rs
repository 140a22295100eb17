//! HTTP tests: the real server on a random port, on SQLite and on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod helpers;

mod after_the_fact;
mod audit;
mod client_compat;
mod customer_auth;
mod customers;
mod flow;
mod health;
mod keys;
mod protocol_errors;
