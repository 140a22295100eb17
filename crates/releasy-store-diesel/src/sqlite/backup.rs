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
/// [`BackupError`]; then nothing is left at `destination`, nor beside it.
pub fn backup_sqlite(source: &Path, destination: &Path) -> Result<BackupReport, BackupError> {
    if destination.exists() {
        return Err(BackupError::DestinationExists(destination.to_owned()));
    }
    if !source.is_file() {
        return Err(BackupError::NoSource(source.to_owned()));
    }
    remove_stale_partials(destination);
    // Held (and locked) until the copy is placed or given up: the lock tells a copy
    // in progress from one a killed run left.
    let (partial, _in_progress) = new_partial_file(destination)?;
    let made = copy_into(source, &partial).and_then(|report| {
        std::fs::File::open(&partial)
            .and_then(|file| file.sync_all())
            .map_err(io_error(&partial))?;
        place(&partial, destination, |from, to| {
            std::fs::hard_link(from, to)
        })?;
        Ok(report)
    });
    // Gone after a placement (the destination holds the copy), or after a failure.
    let _ = std::fs::remove_file(&partial);
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

/// Creates the file the copy is made in, beside the destination, under a name of this
/// run's own: two backups to one destination never write into, or remove, each
/// other's copy. Returns it open and locked (`flock`, which SQLite's own locks do not
/// meet): the lock lasts as long as the run, however it ends.
fn new_partial_file(destination: &Path) -> Result<(PathBuf, std::fs::File), BackupError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for attempt in 0_u32..100 {
        let mut name = destination.as_os_str().to_owned();
        name.push(format!(".partial-{}-{nanos}-{attempt}", std::process::id()));
        let path = PathBuf::from(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // The copy holds what the database holds (customers, addresses, sealed
        // answers): readable by its owner only, as SQLite's journal beside it then is.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => {
                // Just created, so no one else holds it; a file system without locks
                // leaves it unlocked, which only the age guard then protects.
                let _ = file.try_lock();
                return Ok((path, file));
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(io_error(&path)(err)),
        }
    }
    Err(BackupError::Io {
        path: destination.to_owned(),
        source: std::io::Error::other("no free name for the copy beside it"),
    })
}

/// The suffix of a copy in progress after the destination's name.
const PARTIAL: &str = ".partial-";

/// What SQLite writes beside a database while it works on it.
const SQLITE_COMPANIONS: [&str; 3] = ["-journal", "-wal", "-shm"];

/// How old a copy nobody holds must be before another run removes it: a run that has
/// just created its copy takes the lock a moment later.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// A file of a copy in progress: `FILE.partial-{pid}-{nanos}-{attempt}`, or one of
/// SQLite's files beside it.
struct PartialName<'a> {
    /// The copy's own name (without SQLite's suffix).
    copy: &'a str,
    /// The process that created it.
    writer: u32,
    /// Whether this is SQLite's file beside the copy.
    companion: bool,
}

/// `name` read as a file of a copy in progress, if it is one.
fn partial_name(name: &str) -> Option<PartialName<'_>> {
    let (copy, companion) = SQLITE_COMPANIONS
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .map_or((name, false), |copy| (copy, true));
    let (_, numbers) = copy.rsplit_once(PARTIAL)?;
    let numbers: Vec<&str> = numbers.split('-').collect();
    let [pid, nanos, attempt] = numbers[..] else {
        return None;
    };
    let numeric = nanos.parse::<u64>().is_ok() && attempt.parse::<u64>().is_ok();
    Some(PartialName {
        copy,
        writer: pid.parse().ok().filter(|_| numeric)?,
        companion,
    })
}

/// Removes the copy in progress beside `destination` that process `pid` writes, and
/// SQLite's files beside it: a backup stopped by a signal leaves none. Best effort.
pub fn remove_backup_partials(destination: &Path, pid: u32) {
    let Some(name) = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return;
    };
    remove_partials_where(destination, |_, entry| {
        entry
            .strip_prefix(&name)
            .is_some_and(|rest| rest.starts_with(PARTIAL))
            && partial_name(entry).is_some_and(|partial| partial.writer == pid)
    });
}

/// Removes the copies beside `destination` that no run holds any more (killed
/// outright, out of memory), with SQLite's files beside them: what no signal handler
/// could remove is removed by the next backup into the same directory. A copy is
/// known to be held by its lock (whatever process namespace its run is in), and one
/// younger than [`STALE_AFTER`] is left alone. Best effort.
fn remove_stale_partials(destination: &Path) {
    let now = std::time::SystemTime::now();
    let old = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| {
                now.duration_since(modified)
                    .is_ok_and(|age| age >= STALE_AFTER)
            })
    };
    remove_partials_where(destination, |folder, entry| {
        let Some(partial) = partial_name(entry) else {
            return false;
        };
        let copy = folder.join(partial.copy);
        if partial.companion && !copy.exists() {
            return old(&folder.join(entry));
        }
        // SQLite's files go with their copy: whether it is held decides.
        old(&copy) && std::fs::File::open(&copy).is_ok_and(|file| file.try_lock().is_ok())
    });
}

/// Removes the files beside `destination` that `remove(folder, name)` picks, every
/// one decided before any is removed (SQLite's files are judged by their copy).
fn remove_partials_where(destination: &Path, remove: impl Fn(&Path, &str) -> bool) {
    let folder = match destination.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let doomed: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| remove(folder, name))
        .collect();
    for name in doomed {
        let _ = std::fs::remove_file(folder.join(name));
    }
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
    fn copies_in_progress_are_named_for_their_process() {
        for (name, copy, companion) in [
            ("b.db.partial-42-123-0", "b.db.partial-42-123-0", false),
            (
                "b.db.partial-42-123-0-journal",
                "b.db.partial-42-123-0",
                true,
            ),
            ("b.db.partial-42-123-0-wal", "b.db.partial-42-123-0", true),
            ("b.db.partial-42-123-0-shm", "b.db.partial-42-123-0", true),
        ] {
            let partial = partial_name(name).expect(name);
            assert_eq!(
                (partial.copy, partial.writer, partial.companion),
                (copy, 42, companion)
            );
        }
        for other in [
            "b.db",
            "b.db.partial-x-1-0",
            "b.db.partial-42-1",
            "b.db.partial-42-1-0-old",
        ] {
            assert!(partial_name(other).is_none(), "{other}");
        }
        let dir = tempfile::tempdir().expect("dir");
        let destination = dir.path().join("b.db");
        for name in [
            "b.db.partial-7-1-0",
            "b.db.partial-7-1-0-wal",
            "b.db.partial-7-1-0-shm",
            "b.db.partial-8-1-0",
            "c.db.partial-7-1-0",
        ] {
            std::fs::write(dir.path().join(name), "").expect("write");
        }
        remove_backup_partials(&destination, 7);
        let mut left = leftovers(dir.path());
        left.sort();
        assert_eq!(left, ["b.db.partial-8-1-0", "c.db.partial-7-1-0"]);
    }

    /// A backup killed outright leaves its copy; the next one into the directory
    /// removes it and SQLite's files beside it (no run holds it), and nothing of a
    /// copy a run holds (in whatever process namespace), of one just created, or of
    /// other files.
    #[test]
    fn the_next_backup_removes_copies_no_run_holds() {
        let dir = tempfile::tempdir().expect("dir");
        let source = database(dir.path());
        let long_ago = std::time::SystemTime::now() - 2 * STALE_AFTER;
        let write = |name: &str, old: bool| {
            let file = std::fs::File::create(dir.path().join(name)).expect("write");
            if old {
                file.set_modified(long_ago).expect("age");
            }
            file
        };
        // Left by killed runs: a copy with SQLite's files, and a journal alone.
        for name in [
            "old.db.partial-1-1-0",
            "old.db.partial-1-1-0-wal",
            "old.db.partial-1-1-0-shm",
            "gone.db.partial-2-1-0-journal",
        ] {
            write(name, true);
        }
        // Held by a running backup (here, this test), however old.
        let held = write("live.db.partial-1-1-0", true);
        held.try_lock().expect("lock");
        write("live.db.partial-1-1-0-wal", true);
        // Just created by a run that has not locked it yet.
        write("new.db.partial-3-1-0", false);
        write("notes.partial-1", true);

        backup_sqlite(&source, &dir.path().join("backup.db")).expect("backup");
        let mut left = leftovers(dir.path());
        left.sort();
        assert_eq!(
            left,
            [
                "live.db.partial-1-1-0",
                "live.db.partial-1-1-0-wal",
                "new.db.partial-3-1-0",
                "notes.partial-1"
            ]
        );
        drop(held);
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
