//! Which embedded migrations a database has not applied, found without writing:
//! diesel's `MigrationHarness::pending_migrations` first creates its bookkeeping table
//! (`__diesel_schema_migrations`) where there is none, which a read-only PostgreSQL
//! role or a hot standby refuses: `audit verify`, which only reads, must work there,
//! and no one-off command may add a table to a database it was pointed at by mistake.

use diesel::QueryableByName;
use diesel::backend::Backend;
use diesel::migration::{self, MigrationSource};
use diesel::sql_types::Text;
use diesel_migrations::EmbeddedMigrations;

/// The table diesel records applied migrations in.
pub(crate) const BOOKKEEPING_TABLE: &str = "__diesel_schema_migrations";

/// A row of the bookkeeping table.
#[derive(QueryableByName)]
pub(crate) struct AppliedVersion {
    #[diesel(sql_type = Text)]
    pub(crate) version: String,
}

/// The names of `source`'s migrations whose versions are not among `applied`, in the
/// source's order (oldest first).
///
/// # Errors
/// When the embedded migrations cannot be listed.
pub(crate) fn unapplied<DB: Backend>(
    source: &EmbeddedMigrations,
    applied: &[AppliedVersion],
) -> migration::Result<Vec<String>> {
    let migrations = MigrationSource::<DB>::migrations(source)?;
    Ok(migrations
        .iter()
        .map(|m| m.name())
        .filter(|name| {
            let version = name.version().to_string();
            !applied.iter().any(|row| row.version == version)
        })
        .map(ToString::to_string)
        .collect())
}
