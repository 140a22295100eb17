//! The copy a backup writes beside its destination before it is placed:
//! `FILE.partial-{pid}-{nanos}-{attempt}`, with SQLite's files beside it while SQLite
//! works on it (`-journal`, `-wal`, `-shm`), and a lock file (`.lock`) its run holds
//! locked until the copy is placed or given up.
//!
//! The lock is taken on a file of its own, never on the copy: SQLite locks the copy
//! with byte-range locks, which on NFS (and on some other systems) meet a `flock` on
//! the same file and would make SQLite find it busy. The lock tells a copy in progress
//! (in whatever process namespace its run is) from one a killed run left, which the
//! next backup into the directory removes. A signal's handler removes this process's
//! own copies through a registry, never by a name another process could share.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The suffix of a copy's name after the destination's.
const PARTIAL: &str = ".partial-";

/// What is written beside a copy: SQLite's files while it works on it, and the lock
/// file.
const COMPANIONS: [&str; 4] = ["-journal", "-wal", "-shm", ".lock"];

/// The lock file's suffix.
const LOCK: &str = ".lock";

/// How old an unheld copy must be before another run removes it: a run that has just
/// created its copy takes its lock a moment later (and older versions took none).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// The copies this process has in progress and not yet placed.
static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn in_progress() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    IN_PROGRESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A copy this run writes: created empty (readable by its owner only), its lock file
/// held until it is dropped.
#[derive(Debug)]
pub(super) struct PartialCopy {
    path: PathBuf,
    lock_path: PathBuf,
    /// Held open: the lock on it is what says the copy is in progress.
    _lock: File,
}

impl PartialCopy {
    /// A new copy beside `destination`, under a name of this run's own: two backups to
    /// one destination never write into, or remove, each other's copy.
    pub(super) fn create(destination: &Path) -> std::io::Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0_u32..100 {
            let mut name = destination.as_os_str().to_owned();
            name.push(format!("{PARTIAL}{}-{nanos}-{attempt}", std::process::id()));
            let path = PathBuf::from(name);
            match private_new_file(&path) {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err),
            }
            let lock_path = companion(&path, LOCK);
            let lock = match private_new_file(&lock_path) {
                Ok(lock) => lock,
                Err(err) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(err);
                }
            };
            // Just created, so no one else holds it. A file system without locks
            // leaves it unlocked: only the age guard then keeps another run off.
            let _ = lock.try_lock();
            in_progress().push(path.clone());
            return Ok(Self {
                path,
                lock_path,
                _lock: lock,
            });
        }
        Err(std::io::Error::other("no free name for the copy beside it"))
    }

    /// The copy's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Marks the copy placed at its destination: a signal from now on stops nothing
    /// the run has not done.
    pub(super) fn placed(&self) {
        in_progress().retain(|copy| copy != &self.path);
    }
}

impl Drop for PartialCopy {
    /// The copy's name goes (the destination holds it, or the backup failed), then
    /// its lock file, while still locked.
    fn drop(&mut self) {
        in_progress().retain(|copy| copy != &self.path);
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Creates `path`, which must not exist, readable by its owner only: a copy holds what
/// the database holds (customers, addresses, sealed answers).
fn private_new_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// `copy` with `suffix` appended.
fn companion(copy: &Path, suffix: &str) -> PathBuf {
    let mut name = copy.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes the copies this process has in progress (not yet placed) for
/// `destination`, with what is beside them, and says how many there were: a backup
/// stopped by a signal leaves none. What the copy's run goes on writing after this
/// goes to removed files.
pub fn remove_backups_in_progress(destination: &Path) -> usize {
    let mut prefix = destination.as_os_str().to_owned();
    prefix.push(PARTIAL);
    let prefix = prefix.to_string_lossy().into_owned();
    let copies: Vec<PathBuf> = {
        let mut registered = in_progress();
        let (ours, others) = registered
            .drain(..)
            .partition(|copy| copy.to_string_lossy().starts_with(&prefix));
        *registered = others;
        ours
    };
    for copy in &copies {
        let _ = std::fs::remove_file(copy);
        for suffix in COMPANIONS {
            let _ = std::fs::remove_file(companion(copy, suffix));
        }
    }
    copies.len()
}

/// A file of a copy: the copy's own name, and whether it is one beside it.
struct PartialName<'a> {
    copy: &'a str,
    companion: bool,
}

/// `name` read as a file of a copy (`FILE.partial-{pid}-{nanos}-{attempt}`, or one
/// beside it), if it is one.
fn partial_name(name: &str) -> Option<PartialName<'_>> {
    let (copy, companion) = COMPANIONS
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .map_or((name, false), |copy| (copy, true));
    let (_, numbers) = copy.rsplit_once(PARTIAL)?;
    let numbers: Vec<&str> = numbers.split('-').collect();
    let all_numbers = numbers.len() == 3 && numbers.iter().all(|n| n.parse::<u64>().is_ok());
    all_numbers.then_some(PartialName { copy, companion })
}

/// Removes the copies beside `destination` that no run holds any more (killed
/// outright, out of memory), with what is beside them, and what is left beside a copy
/// that is gone: what no signal's handler could remove is removed by the next backup
/// into the same directory. A copy whose lock file is held, whose lock cannot be
/// tested, or that is younger than [`STALE_AFTER`] is left alone. Best effort.
pub(super) fn remove_stale_copies(destination: &Path) {
    let folder = match destination.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    let now = SystemTime::now();
    let old = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| {
                now.duration_since(modified)
                    .is_ok_and(|age| age >= STALE_AFTER)
            })
    };
    let stale: Vec<&str> = names
        .iter()
        .filter_map(|name| partial_name(name))
        .filter(|partial| !partial.companion)
        .filter(|partial| {
            let copy = folder.join(partial.copy);
            let unheld = match File::open(companion(&copy, LOCK)) {
                Ok(lock) => lock.try_lock().is_ok(),
                // No lock file: a run killed before it took one, or an older version.
                Err(err) => err.kind() == std::io::ErrorKind::NotFound,
            };
            unheld && old(&copy)
        })
        .map(|partial| partial.copy)
        .collect();
    for name in &names {
        let Some(partial) = partial_name(name) else {
            continue;
        };
        let path = folder.join(name);
        let orphan = partial.companion && !folder.join(partial.copy).exists() && old(&path);
        if orphan || stale.contains(&partial.copy) {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn copies_and_what_is_beside_them_are_named() {
        for (name, companion) in [
            ("b.db.partial-42-123-0", false),
            ("b.db.partial-42-123-0-journal", true),
            ("b.db.partial-42-123-0-wal", true),
            ("b.db.partial-42-123-0-shm", true),
            ("b.db.partial-42-123-0.lock", true),
        ] {
            let partial = partial_name(name).expect(name);
            assert_eq!(
                (partial.copy, partial.companion),
                ("b.db.partial-42-123-0", companion)
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
    }

    /// A copy is created private with its lock file held, and goes with it when
    /// dropped; a signal's handler removes the copies in progress, not placed ones.
    #[test]
    fn this_process_removes_its_own_copies_in_progress_only() {
        let dir = tempfile::tempdir().expect("dir");
        let placed = PartialCopy::create(&dir.path().join("placed.db")).expect("copy");
        placed.placed();
        let copy = PartialCopy::create(&dir.path().join("b.db")).expect("copy");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(copy.path())
                .expect("copy")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        let held = File::open(companion(copy.path(), LOCK)).expect("lock file");
        assert!(held.try_lock().is_err(), "the run holds its lock file");
        std::fs::write(companion(copy.path(), "-wal"), "").expect("wal");
        // Another process's copy of the same destination.
        std::fs::write(dir.path().join("b.db.partial-1-1-0"), "").expect("other");

        assert_eq!(remove_backups_in_progress(&dir.path().join("b.db")), 1);
        let mut expected = vec![
            "b.db.partial-1-1-0".to_owned(),
            placed
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            companion(placed.path(), LOCK)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        ];
        expected.sort();
        assert_eq!(leftovers(dir.path()), expected);
        drop((copy, placed));
        assert_eq!(leftovers(dir.path()), ["b.db.partial-1-1-0"]);
    }

    /// What a killed run left is removed by the next backup into the directory:
    /// its copy with SQLite's files and its lock file, a copy an older version left
    /// (no lock file), and files left beside a copy that is gone; never a copy a run
    /// holds (in whatever namespace), one just created, or other files.
    #[test]
    fn the_next_backup_removes_copies_no_run_holds() {
        let dir = tempfile::tempdir().expect("dir");
        let long_ago = SystemTime::now() - 2 * STALE_AFTER;
        let write = |name: &str, old: bool| {
            let file = File::create(dir.path().join(name)).expect("write");
            if old {
                file.set_modified(long_ago).expect("age");
            }
            file
        };
        for name in [
            "killed.db.partial-1-1-0",
            "killed.db.partial-1-1-0-wal",
            "killed.db.partial-1-1-0-shm",
            "killed.db.partial-1-1-0.lock",
            "older.db.partial-2-1-0",
            "gone.db.partial-3-1-0-journal",
        ] {
            write(name, true);
        }
        write("live.db.partial-4-1-0", true);
        write("live.db.partial-4-1-0-wal", true);
        let held = write("live.db.partial-4-1-0.lock", true);
        held.try_lock().expect("lock");
        write("new.db.partial-5-1-0", false);
        write("notes.partial-1", true);

        remove_stale_copies(&dir.path().join("backup.db"));
        assert_eq!(
            leftovers(dir.path()),
            [
                "live.db.partial-4-1-0",
                "live.db.partial-4-1-0-wal",
                "live.db.partial-4-1-0.lock",
                "new.db.partial-5-1-0",
                "notes.partial-1"
            ]
        );
        drop(held);
    }
}
