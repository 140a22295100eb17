//! An online backup of a SQLite database through SQLite's backup API
//! (`releasy-server backup`), while servers keep writing to it.
//!
//! The whole copy is one backup step: it reads the source inside one read transaction,
//! so it is the database as of one instant, and in WAL mode that transaction never
//! holds a writer up. (Copying in several steps would let SQLite restart the copy each
//! time another process writes, which under steady writes might never finish.) The copy
//! is written beside the destination (under a name of its run's own), checked with
//! `PRAGMA integrity_check`, synced, and only then linked into place: a failed backup
//! leaves nothing at the destination, and two at once never mix their copies.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::partial_copy::{PartialCopy, remove_stale_copies};

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
    #[error("SQLite")]
    Sqlite(#[from] rusqlite::Error),
    /// The copy could not be synced or moved into place.
    #[error("writing {}", .path.display())]
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
/// [`BackupError`]; then nothing is left at `destination`, nor beside it.
pub fn backup_sqlite(source: &Path, destination: &Path) -> Result<BackupReport, BackupError> {
    if destination.exists() {
        return Err(BackupError::DestinationExists(destination.to_owned()));
    }
    if !source.is_file() {
        return Err(BackupError::NoSource(source.to_owned()));
    }
    remove_stale_copies(destination);
    let copy = PartialCopy::create(destination).map_err(io_error(destination))?;
    let partial = copy.path();
    let made = copy_into(source, partial).and_then(|report| {
        std::fs::File::open(partial)
            .and_then(|file| file.sync_all())
            .map_err(io_error(partial))?;
        place(partial, destination, |from, to| {
            std::fs::hard_link(from, to)
        })?;
        copy.placed();
        Ok(report)
    });
    // Its name goes after a placement (the destination holds the copy), or after a
    // failure.
    drop(copy);
    let report = made?;
    if let Some(folder) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
        // The copy is whole and synced at its name; a directory that cannot be synced
        // (some network and FUSE file systems) does not undo that.
        if let Err(err) = std::fs::File::open(folder).and_then(|dir| dir.sync_all()) {
            tracing::warn!(folder = %folder.display(), error = %err, "the backup's directory could not be synced");
        }
    }
    Ok(report)
}

/// Puts the copy at `destination` without ever replacing a file there: a hard link
/// fails when the destination appeared meanwhile, where a rename would replace it.
/// On a file system without hard links (FAT, SMB without Unix extensions, many FUSE
/// mounts) it is renamed instead, after one more look at the destination.
fn place(
    partial: &Path,
    destination: &Path,
    link: impl Fn(&Path, &Path) -> std::io::Result<()>,
) -> Result<(), BackupError> {
    match link(partial, destination) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(BackupError::DestinationExists(destination.to_owned()))
        }
        Err(_) if destination.exists() => {
            Err(BackupError::DestinationExists(destination.to_owned()))
        }
        Err(_) => std::fs::rename(partial, destination).map_err(io_error(destination)),
    }
}

/// Maps an I/O error on `path`.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + use<> {
    let path = path.to_owned();
    move |source| BackupError::Io { path, source }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path) -> PathBuf {
        let path = dir.join("source.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42);")
            .expect("create");
        path
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".partial"))
            .collect()
    }

    #[test]
    fn without_hard_links_the_copy_is_renamed_into_place() {
        let dir = tempfile::tempdir().expect("dir");
        let partial = dir.path().join("copy.partial");
        std::fs::write(&partial, "copy").expect("write");
        let destination = dir.path().join("backup.db");
        let no_links =
            |_: &Path, _: &Path| Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        place(&partial, &destination, no_links).expect("placed");
        assert_eq!(std::fs::read_to_string(&destination).expect("read"), "copy");

        // Never over a file that appeared meanwhile.
        std::fs::write(&partial, "second").expect("write");
        assert!(matches!(
            place(&partial, &destination, no_links),
            Err(BackupError::DestinationExists(_))
        ));
        assert_eq!(std::fs::read_to_string(&destination).expect("read"), "copy");
    }

    #[test]
    fn backups_to_one_destination_at_once_give_one_whole_copy() {
        let dir = tempfile::tempdir().expect("dir");
        let source = database(dir.path());
        let destination = dir.path().join("backup.db");
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let (source, destination) = (source.clone(), destination.clone());
                std::thread::spawn(move || backup_sqlite(&source, &destination))
            })
            .collect();
        let outcomes: Vec<_> = runs.into_iter().map(|r| r.join().expect("run")).collect();
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|o| o.is_ok() || matches!(o, Err(BackupError::DestinationExists(_)))),
            "{outcomes:?}"
        );
        let copy = Connection::open(&destination).expect("open the copy");
        let x: i64 = copy
            .query_row("SELECT x FROM t", [], |row| row.get(0))
            .expect("read");
        assert_eq!(x, 42);
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }

    #[cfg(unix)]
    #[test]
    fn the_copy_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let source = database(dir.path());
        let destination = dir.path().join("backup.db");
        backup_sqlite(&source, &destination).expect("backup");
        let mode = std::fs::metadata(&destination)
            .expect("copy")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    #[test]
    fn a_failed_backup_leaves_nothing_beside_the_destination() {
        let dir = tempfile::tempdir().expect("dir");
        let not_a_database = dir.path().join("source.db");
        std::fs::write(
            &not_a_database,
            "not a database at all, but long enough to be read",
        )
        .expect("write");
        let destination = dir.path().join("backup.db");
        assert!(backup_sqlite(&not_a_database, &destination).is_err());
        assert!(!destination.exists());
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }
}
