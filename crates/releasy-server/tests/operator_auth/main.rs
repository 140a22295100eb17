//! HTTP tests of operator sign-in: the real server verifying JWTs against a JWKS that
//! the test serves on a loopback port, with tokens the test mints from the key fixtures
//! in `keys/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

#[allow(
    dead_code,
    unused_macros,
    unused_imports,
    reason = "the shared harness has helpers only the api tests use"
)]
#[path = "../api/helpers.rs"]
mod helpers;

mod app;
mod jwks_server;
mod tokens;

mod key_cache;
mod priority;
mod roles;
mod validation;
