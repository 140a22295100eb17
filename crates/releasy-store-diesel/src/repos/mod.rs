//! Repository bodies, written once and stamped onto both backends.
//!
//! diesel's query types are backend-specific, and code generic over both connection
//! types fights its trait bounds; a macro per repository keeps one body of code with
//! concrete types on each side.

#[macro_use]
mod multi_row_insert;
#[macro_use]
mod customers;
#[macro_use]
mod api_keys;
#[macro_use]
mod audit;
#[macro_use]
mod idempotency;
#[macro_use]
mod health;
#[macro_use]
mod releases;
#[macro_use]
mod artifacts;
#[macro_use]
mod entitlements;
#[macro_use]
mod download_tokens;

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

diesel::define_sql_function! {
    /// SQL `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a `LIKE` pattern.
pub(crate) fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

customer_repository!(PgStore, diesel::pg::Pg);
customer_repository!(SqliteStore, diesel::sqlite::Sqlite);
api_key_repository!(PgStore, diesel::pg::Pg);
api_key_repository!(SqliteStore, diesel::sqlite::Sqlite);
audit_repository!(PgStore, diesel::pg::Pg);
audit_repository!(SqliteStore, diesel::sqlite::Sqlite);
idempotency_repository!(PgStore);
idempotency_repository!(SqliteStore);
health_probe!(PgStore);
health_probe!(SqliteStore);
release_repository!(
    PgStore,
    diesel::pg::Pg,
    diesel_async::AsyncConnection::transaction,
    for_update
);
release_repository!(
    SqliteStore,
    diesel::sqlite::Sqlite,
    crate::sqlite::immediate_transaction
);
artifact_repository!(PgStore);
artifact_repository!(SqliteStore);
entitlement_repository!(PgStore, diesel::pg::Pg);
entitlement_repository!(SqliteStore, diesel::sqlite::Sqlite);
download_token_repository!(PgStore);
download_token_repository!(SqliteStore);

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_contains("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
