#![allow(clippy::expect_used, reason = "tests")]
//! The domain stays pure: its normal dependencies (what an embedding service pulls in)
//! are the few listed here, and nothing in its whole dependency tree is a web
//! framework, a database or storage client, or an async runtime. Read from
//! `cargo tree`, so a new dependency fails this test until it is judged and listed.

use std::collections::BTreeSet;
use std::process::Command;

/// What the domain may depend on directly, and why.
const ALLOWED_DIRECT: &[&str] = &[
    "async-trait", // the ports are async traits, object-safe
    "base64",      // key and token encodings
    "hex",         // digests
    "ipnet",       // CIDR ranges of trusted proxies
    "serde",       // audit payloads and metadata
    "serde_json",  // audit payloads and metadata
    "semver",      // version precedence and requirements
    "sha2",        // key lookup values and checksums
    "thiserror",   // the domain's error types
    "uuid",        // ids
];

/// Crates that would bring I/O into the domain, anywhere in its tree.
const FORBIDDEN_ANYWHERE: &[&str] = &[
    "actix-web",
    "actix-rt",
    "async-std",
    "axum",
    "deadpool",
    "diesel",
    "diesel-async",
    "hyper",
    "jsonwebtoken",
    "libsqlite3-sys",
    "mio",
    "postgres",
    "reqwest",
    "rust-s3",
    "s3s",
    "sqlx",
    "tokio",
    "tokio-postgres",
];

/// The crate names `cargo tree` prints for the domain's normal dependencies, at most
/// `depth` levels down (`None`: all of them).
fn normal_dependencies(depth: Option<u32>) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args([
        "tree",
        "--package",
        "releasy-domain",
        "--edges",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "--offline",
    ]);
    if let Some(depth) = depth {
        command.args(["--depth", &depth.to_string()]);
    }
    let output = command.output().expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "releasy-domain")
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_domain_depends_directly_only_on_the_allowed_crates() {
    let direct = normal_dependencies(Some(1));
    assert!(!direct.is_empty(), "cargo tree listed no dependency at all");
    let unexpected: Vec<&String> = direct
        .iter()
        .filter(|name| !ALLOWED_DIRECT.contains(&name.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "releasy-domain gained dependencies {unexpected:?}: keep web, database, runtime \
         and storage types out of the domain (or list a pure crate in ALLOWED_DIRECT)"
    );
}

#[test]
fn nothing_in_the_domains_tree_does_io() {
    let all = normal_dependencies(None);
    assert!(all.contains("serde"), "the full tree was not read: {all:?}");
    let forbidden: Vec<&String> = all
        .iter()
        .filter(|name| FORBIDDEN_ANYWHERE.contains(&name.as_str()))
        .collect();
    assert!(
        forbidden.is_empty(),
        "releasy-domain's dependency tree contains {forbidden:?}"
    );
}
