//! Uploads a crash left behind: a single-request upload is written to a temporary file
//! in `.uploads/` that the receiving process holds an exclusive lock on until the file
//! becomes the object or is removed. A temporary file nobody holds locked belongs to a
//! process that died (kill -9, power loss) and is removed, at start and by the server's
//! periodic sweep. The lock is released by the kernel when its holder dies, so no
//! timeout has to guess whether a slow upload is still alive.
//!
//! Uploads in parts live in their own directories and are recorded in the database;
//! they are swept with their record, not here, except a directory without its
//! description (a start that crashed before writing it), which no record names.

use std::fs::TryLockError;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::multipart;

/// A file younger than this is left alone even when unlocked: its writer may have
/// created it and not yet taken the lock, and digests are written unlocked and renamed
/// within milliseconds. It also absorbs clock skew between instances sharing the
/// directory over a network file system.
pub(crate) const UNLOCKED_GRACE: Duration = Duration::from_secs(15);

/// An upload directory without its description is left alone this long: a start
/// describes its directory within milliseconds, but instances sharing the directory over
/// a network file system may see each other's clocks (and the server's) well apart,
/// and nothing locks a directory. A crash's litter can wait.
pub(crate) const UNDESCRIBED_GRACE: Duration = Duration::from_secs(600);

/// What a sweep of `.uploads/` removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AbandonedUploads {
    /// Temporary files removed, and directories of uploads in parts whose start
    /// crashed before describing them.
    pub files: u64,
    /// The temporary files' bytes (a directory's are not counted).
    pub bytes: u64,
}

/// Removes every temporary file in `uploads` that no process holds locked and that was
/// last written before `now - UNLOCKED_GRACE`. Best effort: a file that cannot be read
/// or removed is logged and left for the next sweep.
pub(crate) fn remove(uploads: &Path, now: SystemTime) -> AbandonedUploads {
    let mut removed = AbandonedUploads::default();
    let Ok(entries) = std::fs::read_dir(uploads) else {
        return removed;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if multipart::is_upload_dir(&entry.file_name().to_string_lossy()) {
            if changed_before(&path, now, UNDESCRIBED_GRACE) && multipart::is_undescribed(&path) {
                match multipart::remove(&path) {
                    Ok(()) => removed.files += 1,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not remove an upload that never started");
                    }
                }
            }
            continue;
        }
        // Opened for writing: over NFS an exclusive lock needs a writable descriptor.
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        else {
            continue; // gone already, or not ours to touch
        };
        let Ok(metadata) = file.metadata() else {
            continue;
        };
        if !metadata.is_file() || !modified_before(&metadata, now, UNLOCKED_GRACE) {
            continue;
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => continue, // a live upload holds its lock
            Err(TryLockError::Error(err)) => {
                tracing::warn!(path = %path.display(), error = %err, "cannot tell whether an upload is abandoned; left in place");
                continue;
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                removed.files += 1;
                removed.bytes += metadata.len();
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "could not remove an abandoned upload");
            }
        }
    }
    removed
}

/// Whether `metadata`'s last change is at least `grace` before `now`.
fn modified_before(metadata: &std::fs::Metadata, now: SystemTime, grace: Duration) -> bool {
    metadata
        .modified()
        .ok()
        .and_then(|modified| now.duration_since(modified).ok())
        .is_some_and(|age| age >= grace)
}

/// Whether `path` was last changed at least `grace` before `now`.
fn changed_before(path: &Path, now: SystemTime, grace: Duration) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| modified_before(&metadata, now, grace))
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::PathBuf;

    use super::*;

    fn written_ago(path: &Path, age: Duration) -> File {
        let file = File::create(path).unwrap();
        std::io::Write::write_all(&mut &file, b"partial bytes").unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
        file
    }

    #[test]
    fn an_unlocked_file_past_the_grace_is_removed_with_its_size_counted() {
        let dir = tempfile::tempdir().unwrap();
        drop(written_ago(
            &dir.path().join("a.part"),
            Duration::from_secs(60),
        ));
        drop(written_ago(
            &dir.path().join("b.sha256"),
            Duration::from_secs(60),
        ));
        let removed = remove(dir.path(), SystemTime::now());
        assert_eq!(
            removed,
            AbandonedUploads {
                files: 2,
                bytes: 26
            }
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_locked_file_is_kept_however_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.part");
        let live = written_ago(&path, Duration::from_secs(3600));
        live.lock().unwrap();
        assert_eq!(
            remove(dir.path(), SystemTime::now()),
            AbandonedUploads::default()
        );
        assert!(path.exists());
        drop(live); // its holder is gone: the next sweep removes it
        assert_eq!(remove(dir.path(), SystemTime::now()).files, 1);
        assert!(!path.exists());
    }

    #[test]
    fn a_fresh_unlocked_file_is_kept_for_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.part");
        drop(written_ago(&path, Duration::from_secs(1)));
        assert_eq!(remove(dir.path(), SystemTime::now()).files, 0);
        assert!(path.exists());
        let later = SystemTime::now() + UNLOCKED_GRACE;
        assert_eq!(remove(dir.path(), later).files, 1);
    }

    fn aged_upload_dir(uploads: &Path, name: &str, description: Option<&str>) -> PathBuf {
        assert!(multipart::is_upload_dir(name));
        let upload = uploads.join(name);
        std::fs::create_dir(&upload).unwrap();
        drop(written_ago(&upload.join("data"), Duration::from_secs(3600)));
        if let Some(description) = description {
            std::fs::write(upload.join("upload"), description).unwrap();
        }
        File::open(&upload)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        upload
    }

    #[test]
    fn upload_directories_are_left_to_their_records() {
        let dir = tempfile::tempdir().unwrap();
        let upload = aged_upload_dir(
            dir.path(),
            "parts-0b5c7d2e",
            Some("releases/app/1.0.0/linux/x/app.tgz\n5242880\n"),
        );
        assert_eq!(remove(dir.path(), SystemTime::now()).files, 0);
        assert!(upload.join("data").exists());
    }

    /// A start that crashed before writing the description leaves a directory no record
    /// names and no abort can find: swept once past its grace (an hour old here), never
    /// before.
    #[test]
    fn an_upload_directory_without_its_description_is_swept_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let missing = aged_upload_dir(dir.path(), "parts-0b5c7d2e", None);
        let empty = aged_upload_dir(dir.path(), "parts-1c6d8e3f", Some(""));
        let fresh = dir.path().join("parts-2d7e9f40");
        std::fs::create_dir(&fresh).unwrap();
        assert_eq!(remove(dir.path(), SystemTime::now()).files, 2);
        assert!(!missing.exists() && !empty.exists());
        assert!(fresh.exists(), "a start may still be writing it");
    }
}
