//! An online backup of a SQLite database through SQLite's backup API
//! (`releasy-server backup`), while servers keep writing to it.
//!
//! The whole copy is one backup step: it reads the source inside one read transaction,
//! so it is the database as of one instant, and in WAL mode that transaction never
//! holds a writer up. (Copying in several steps would let SQLite restart the copy each
//! time another process writes, which under steady writes might never finish.) The copy
//! is written beside the destination, checked with `PRAGMA integrity_check`, synced,
//! and only then renamed into place: a failed backup leaves nothing at the destination.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// How long the backup waits for a lock a writer holds before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a backup copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    /// Database pages copied.
    pub pages: u64,
    /// Bytes the copy holds.
    pub bytes: u64,
}

/// Why a backup was not made (nothing is left at the destination).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The destination exists: a backup never overwrites one.
    #[error("{} exists; a backup never overwrites a file", .0.display())]
    DestinationExists(PathBuf),
    /// The source database does not exist.
    #[error("no database at {}", .0.display())]
    NoSource(PathBuf),
    /// SQLite refused (the source could not be read, the destination written).
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The copy could not be synced or moved into place.
    #[error("writing {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The copy failed SQLite's own check.
    #[error("the copy failed its integrity check: {0}")]
    Integrity(String),
    /// The backup step ended before the last page (it should not, as one step).
    #[error("the backup stopped before the last page")]
    Incomplete,
}

/// Copies the SQLite database at `source` to `destination`, a file that must not
/// exist yet, while other connections may be writing to the source.
///
/// # Errors
/// [`BackupError`]; then nothing is left at `destination`.
pub fn backup_sqlite(source: &Path, destination: &Path) -> Result<BackupReport, BackupError> {
    if destination.exists() {
        return Err(BackupError::DestinationExists(destination.to_owned()));
    }
    if !source.is_file() {
        return Err(BackupError::NoSource(source.to_owned()));
    }
    let partial = partial_path(destination);
    let _ = std::fs::remove_file(&partial);
    let copied = copy_into(source, &partial);
    let report = match copied {
        Ok(report) => report,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    std::fs::File::open(&partial)
        .and_then(|file| file.sync_all())
        .map_err(io(&partial))?;
    // A hard link, not a rename: it fails when the destination appeared meanwhile,
    // where a rename would replace it.
    std::fs::hard_link(&partial, destination).map_err(io(destination))?;
    std::fs::remove_file(&partial).map_err(io(&partial))?;
    if let Some(folder) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(folder)
            .and_then(|dir| dir.sync_all())
            .map_err(io(folder))?;
    }
    Ok(report)
}

/// Where the copy is made before it is moved into place.
fn partial_path(destination: &Path) -> PathBuf {
    let mut name = destination.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn copy_into(source: &Path, partial: &Path) -> Result<BackupReport, BackupError> {
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(BUSY_TIMEOUT)?;
    let mut to = Connection::open(partial)?;
    {
        let backup = Backup::new(&from, &mut to)?;
        // Every page in one step: one read transaction, one instant.
        match backup.step(-1)? {
            StepResult::Done => {}
            _ => return Err(BackupError::Incomplete),
        }
    }
    let verdict: String = to.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    if verdict != "ok" {
        return Err(BackupError::Integrity(verdict));
    }
    let pages: i64 = to.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    let page_size: i64 = to.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    // SQLite counts in non-negative 64-bit integers.
    let (pages, page_size) = (pages.unsigned_abs(), page_size.unsigned_abs());
    // Written back into one file, so the copy stands alone (no -wal beside it).
    to.pragma_update(None, "journal_mode", "DELETE")?;
    to.close().map_err(|(_, err)| err)?;
    Ok(BackupReport {
        pages,
        bytes: pages * page_size,
    })
}
