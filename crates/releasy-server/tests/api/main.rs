//! HTTP tests: the real server on a random port, on SQLite and on PostgreSQL.

mod helpers;

mod customers;
mod health;
mod protocol_errors;
