//! `releasy-server backup <FILE>`: an online backup of the embedded SQLite database
//! through SQLite's backup API, while the server keeps serving (see
//! docs/deployment.md#backup-and-restore). PostgreSQL deployments back up with
//! `pg_dump`; this command says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use releasy_store_diesel::{
    BackupError, BackupReport, DatabaseUrl, backup_sqlite, remove_backups_in_progress,
};

use crate::server::{next_signal, stop_signal};
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
    #[error("the backup's thread failed")]
    Thread(#[from] tokio::task::JoinError),
    /// A signal stopped the copy; what it had written was removed.
    #[error("stopped by {}; the partial copy was removed", .0.name())]
    Stopped(StopSignal),
}

/// The signal that stopped a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, `timeout`, systemd).
    Terminate,
}

impl StopSignal {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    /// The exit status a shell gives a command this signal stopped (128 + its number).
    pub fn exit_status(self) -> u8 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }
}

/// Copies the configured SQLite database to `destination` (which must not exist) and
/// writes what it copied to `out`. On SIGINT or SIGTERM it removes its partial copy
/// and answers [`BackupCommandError::Stopped`]: the caller exits at once, the copy
/// still running on its blocking thread.
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
    let mut copy = tokio::task::spawn_blocking(move || backup_sqlite(&from, &to));
    let report = tokio::select! {
        biased;
        copied = &mut copy => copied??,
        signal = stopped() => {
            // The copy goes on writing to removed files until the process exits, which
            // the caller does at once (it cannot be cancelled midway).
            let removed = remove_backups_in_progress(destination);
            if removed == 0 && destination.exists() {
                // Placed as the signal came: what it did is the answer.
                copy.await??
            } else {
                return Err(BackupCommandError::Stopped(signal));
            }
        }
    };
    let written = writeln!(
        out,
        "backed up {} to {}: {} pages, {} bytes, integrity ok, in {:.1} s",
        source.display(),
        destination.display(),
        report.pages,
        report.bytes,
        started.elapsed().as_secs_f64()
    );
    // The copy is in place: a report nobody can read (standard output closed or on a
    // full disk) does not undo it, and failing would say nothing is at the destination.
    if let Err(error) = written {
        tracing::warn!(
            destination = %destination.display(),
            error = %error,
            "the backup is complete, but its report could not be written"
        );
    }
    Ok(report)
}

/// The first SIGINT or SIGTERM.
async fn stopped() -> StopSignal {
    use tokio::signal::unix::SignalKind;
    let (mut interrupt, mut terminate) = (
        stop_signal(SignalKind::interrupt()),
        stop_signal(SignalKind::terminate()),
    );
    tokio::select! {
        () = next_signal(&mut interrupt) => StopSignal::Interrupt,
        () = next_signal(&mut terminate) => StopSignal::Terminate,
    }
}
