//! `releasy-server migrate`: apply the database migrations and exit, so a deployment can
//! migrate once (a Kubernetes Job, a Compose service run before the instances) instead
//! of at every instance's start. `serve` still migrates on its own; both are safe when
//! several run at once (the database store takes a lock, see `Database::migrate`).

use std::io::Write;

use releasy_store_diesel::{Database, Migrated, SetupError};

use crate::settings::Settings;

/// The migrations could not be applied, or the report not written.
#[derive(Debug, thiserror::Error)]
pub enum MigrateCommandError {
    /// The database could not be opened or migrated.
    #[error("database")]
    Database(#[from] SetupError),
    /// The report could not be written.
    #[error("output")]
    Output(#[from] std::io::Error),
}

/// Applies the pending migrations to the configured database and writes one line per
/// migration applied, then a summary, to `out`.
///
/// # Errors
/// [`MigrateCommandError`] when the database is unreachable or a migration fails (its
/// transaction is rolled back: nothing is half-applied; on PostgreSQL the migrations
/// before it, each committed on its own, stay applied).
pub async fn run(
    settings: &Settings,
    out: &mut dyn Write,
) -> Result<Migrated, MigrateCommandError> {
    let database = Database::open(&settings.database_url, 1)?;
    let migrated = database.migrate().await?;
    for version in &migrated.applied {
        writeln!(out, "applied {version}")?;
    }
    if migrated.releases_ordered > 0 {
        writeln!(
            out,
            "filled in the version order of {} releases",
            migrated.releases_ordered
        )?;
    }
    let target = settings.database_url.redacted();
    match migrated.applied.len() {
        0 => writeln!(out, "{target} is up to date")?,
        1 => writeln!(out, "{target}: 1 migration applied, up to date")?,
        n => writeln!(out, "{target}: {n} migrations applied, up to date")?,
    }
    Ok(migrated)
}
