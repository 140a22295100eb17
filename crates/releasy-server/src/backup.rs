//! `releasy-server backup <FILE>`: an online backup of the embedded SQLite database
//! through SQLite's backup API, while the server keeps serving (see
//! docs/deployment.md#backup-and-restore). PostgreSQL deployments back up with
//! `pg_dump`; this command says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use releasy_store_diesel::{BackupError, BackupReport, DatabaseUrl, backup_sqlite};

use crate::settings::Settings;

/// Why no backup was made.
#[derive(Debug, thiserror::Error)]
pub enum BackupCommandError {
    /// The configured database is not a SQLite file.
    #[error("{0}")]
    NotSqliteFile(&'static str),
    /// The backup failed; nothing was left at the destination.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// The copy ran on a blocking thread that was lost.
    #[error("the backup's thread failed: {0}")]
    Thread(#[from] tokio::task::JoinError),
    /// The report could not be written.
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

/// Copies the configured SQLite database to `destination` (which must not exist) and
/// writes what it copied to `out`.
///
/// # Errors
/// [`BackupCommandError`].
pub async fn run(
    settings: &Settings,
    destination: &Path,
    out: &mut dyn Write,
) -> Result<BackupReport, BackupCommandError> {
    let source: PathBuf = match &settings.database_url {
        DatabaseUrl::SqliteFile(path) | DatabaseUrl::SqliteExistingFile(path) => path.clone(),
        DatabaseUrl::Postgres(_) => {
            return Err(BackupCommandError::NotSqliteFile(
                "the database is PostgreSQL: back it up with pg_dump (docs/deployment.md#backup-and-restore)",
            ));
        }
        DatabaseUrl::SqliteMemory => {
            return Err(BackupCommandError::NotSqliteFile(
                "the database is in memory: there is nothing to back up",
            ));
        }
    };
    let started = Instant::now();
    let to = destination.to_owned();
    let from = source.clone();
    let report = tokio::task::spawn_blocking(move || backup_sqlite(&from, &to)).await??;
    writeln!(
        out,
        "backed up {} to {}: {} pages, {} bytes, integrity ok, in {:.1} s",
        source.display(),
        destination.display(),
        report.pages,
        report.bytes,
        started.elapsed().as_secs_f64()
    )?;
    Ok(report)
}
