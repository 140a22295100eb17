//! The repository ports on diesel: each repository's query code is written once, as
//! plain Rust, in its own file (`customers.rs`, `releases.rs`, ...), and compiled once
//! per backend as a module of `postgres.rs` and of `sqlite.rs`. Those two files name
//! what differs between the backends: the store type, the diesel backend of boxed
//! queries, how a write transaction begins, and how a release row is locked.
//!
//! (diesel's query types are backend-specific, so one generic body fights its trait
//! bounds; compiling the same source twice keeps one body with concrete types.)

/// Declares every repository file as a module of the backend module it is called in
/// (`postgres.rs`, `sqlite.rs`): the one list of the repositories.
macro_rules! repository_modules {
    () => {
        #[path = "api_keys.rs"]
        mod api_keys;
        #[path = "artifacts.rs"]
        mod artifacts;
        #[path = "audit.rs"]
        mod audit;
        #[path = "customers.rs"]
        mod customers;
        #[path = "download_ledger.rs"]
        mod download_ledger;
        #[path = "download_tokens.rs"]
        mod download_tokens;
        #[path = "entitlements.rs"]
        mod entitlements;
        #[path = "external_writes.rs"]
        mod external_writes;
        #[path = "health.rs"]
        mod health;
        #[path = "idempotency.rs"]
        mod idempotency;
        #[path = "products.rs"]
        mod products;
        #[path = "quota_counter.rs"]
        mod quota_counter;
        #[path = "releases.rs"]
        mod releases_repo;
        #[path = "retried_batch.rs"]
        mod retried_batch;
    };
}

mod audit_chain;
mod batch_rows;
pub(crate) mod linked_batch;
// Each repository file is a module of both backend modules, on purpose.
#[allow(clippy::duplicate_mod)]
mod postgres;
#[allow(clippy::duplicate_mod)]
mod sqlite;

pub(crate) use sqlite::register_fold_case;

/// A release row locked by a backend's `lock_release` for the rest of a transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockedRelease {
    /// Whether it is sealed: it takes no artifacts, and it is never deleted.
    pub(crate) sealed: bool,
}

diesel::define_sql_function! {
    /// SQL `coalesce(a, b)` of two nullable integers.
    fn coalesce(a: diesel::sql_types::Nullable<diesel::sql_types::BigInt>, b: diesel::sql_types::Nullable<diesel::sql_types::BigInt>) -> diesel::sql_types::Nullable<diesel::sql_types::BigInt>;
}

/// The condition of the audit event index (migration 2026-12-14-000001), which leaves
/// out authentication events. A listing narrowed to another event states it, as
/// literal SQL: SQLite uses a partial index only for a query that states its
/// condition, and on PostgreSQL a plan made for any event (a cached statement's) could
/// not prove it from a bound event.
pub(crate) const NOT_KEY_AUTH: &str = "event <> 'api_key.auth'";

/// Escapes `%`, `_` and `\` so user text matches literally inside a `LIKE` pattern.
/// The case is left as given: the pattern is folded by the backend's `fold_case`, as
/// the column is (the escapes are ASCII punctuation, which no fold changes).
pub(crate) fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use releasy_domain::audit::AuditEvent;

    #[test]
    fn the_event_index_condition_is_the_migrations_and_names_key_authentications() {
        assert_eq!(
            super::NOT_KEY_AUTH,
            format!("event <> '{}'", AuditEvent::API_KEY_AUTH)
        );
        for migration in [
            include_str!(
                "../../../../migrations/postgres/2026-12-14-000001_audit_fewer_indexes/up.sql"
            ),
            include_str!(
                "../../../../migrations/sqlite/2026-12-14-000001_audit_fewer_indexes/up.sql"
            ),
        ] {
            assert!(
                migration.contains(&format!("WHERE {}", super::NOT_KEY_AUTH)),
                "{migration}"
            );
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_contains("A_b%c\\"), "%A\\_b\\%c\\\\%");
    }
}
