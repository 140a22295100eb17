# Releasy developer commands. `just` is optional: each recipe is the plain commands it lists.

# Run the server on the embedded default (SQLite and local files in ./releasy-data).
run:
    cargo run --release -p releasy-server

# Run every test (needs PostgreSQL on 127.0.0.1:5432, see README).
test:
    cargo test --workspace --locked

# schemathesis against the server's OpenAPI document with admin, operator and customer
# credentials, as CI runs it (about 3 min; needs Python 3 with venv).
fuzz-api:
    .ci/fuzz-api

# Formatting, lints and the API documentation, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# Format the code.
fmt:
    cargo fmt --all

# Build the API documentation of every crate.
doc:
    cargo doc --workspace --no-deps

# PostgreSQL must be running on 127.0.0.1:5432 as for the tests (or set
# RELEASY_TEST_POSTGRES_URL); curl and dd are needed too. The server and the harness are
# built separately, so the server binary is exactly what
# `cargo build --release -p releasy-server` gives. Options: `just bench --help`.
# Benchmark the release server on SQLite and PostgreSQL, and a 6 GiB upload in parts
# through the CLI to both stores, and regenerate docs/benchmarks.md (about 12 min).
bench *ARGS:
    command -v oha >/dev/null || cargo install oha --locked
    cargo build --release --locked -p releasy-server -p releasy-cli
    cargo build --release --locked -p releasy-bench
    target/release/releasy-bench {{ARGS}}

# 3 s per scenario, a 256 MiB transfer and 512 MiB in parts; writes
# target/benchmarks-quick.md, not the docs. Needs PostgreSQL like `bench`.
# A short smoke run of the benchmark (about 4 min).
bench-quick *ARGS:
    command -v oha >/dev/null || cargo install oha --locked
    cargo build --release --locked -p releasy-server -p releasy-cli
    cargo build --release --locked -p releasy-bench
    target/release/releasy-bench --seconds 3 --transfer-mib 256 --parts-mib 512 --output target/benchmarks-quick.md {{ARGS}}
