//! The database a one-off command (`audit verify`, `verify-artifacts`) works on: the
//! server's, as it is. Pointed at a SQLite file that does not exist (a wrong working
//! directory, a relative default), such a command says so instead of creating an empty
//! database and reporting on nothing; and it never applies a migration, so a newer
//! binary run beside a serving server does not change the schema under it: it applies
//! no migration and adds no table (not even diesel's bookkeeping table), so `audit
//! verify` works with a read-only PostgreSQL role.

use std::path::PathBuf;

use releasy_store_diesel::{Database, DatabaseUrl, SetupError};

use crate::settings::Settings;

/// Why the database could not be opened as it is.
#[derive(Debug, thiserror::Error)]
pub enum ExistingDatabaseError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Database(#[from] SetupError),
    /// The configured SQLite file does not exist.
    #[error(
        "no database at {}: the command reads an existing one (is RELEASY_DATABASE_URL the server's?)",
        .0.display()
    )]
    NoDatabase(PathBuf),
    /// The database's schema is older than this binary's.
    #[error(
        "the database has migrations not applied yet ({}): start releasy-server on it (or run releasy-server migrate) first",
        .0.join(", ")
    )]
    PendingMigrations(Vec<String>),
}

/// Opens the configured database as it is: an existing SQLite file, or a PostgreSQL
/// database whose migrations are all applied.
///
/// # Errors
/// [`ExistingDatabaseError`].
pub async fn open(settings: &Settings) -> Result<Database, ExistingDatabaseError> {
    let url = match &settings.database_url {
        DatabaseUrl::SqliteFile(path) | DatabaseUrl::SqliteExistingFile(path)
            if !path.is_file() =>
        {
            return Err(ExistingDatabaseError::NoDatabase(path.clone()));
        }
        DatabaseUrl::SqliteFile(path) => DatabaseUrl::SqliteExistingFile(path.clone()),
        other => other.clone(),
    };
    let database = Database::open(&url, settings.database_max_connections)?;
    let pending = database.pending_migrations().await?;
    if !pending.is_empty() {
        return Err(ExistingDatabaseError::PendingMigrations(pending));
    }
    Ok(database)
}
