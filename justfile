# Releasy developer commands. `just` is optional: each recipe is one plain command.

# Run the server on the embedded default (SQLite and local files in ./releasy-data).
run:
    cargo run --release -p releasy-server

# Run every test (needs PostgreSQL on 127.0.0.1:5432, see README).
test:
    cargo test --workspace --locked

# Formatting and lints, as CI expects them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Build the API documentation of every crate.
doc:
    cargo doc --workspace --no-deps
