//! Uploads in parts on disk. An upload is the directory `.uploads/parts-<id>/` holding
//! `upload` (the object key and the part size), `data` (the object being assembled:
//! each part is written at its own offset, `(n - 1) * part_size`, so completion moves
//! no bytes), per part received whole, `<n>.part` (its size and entity tag), and per
//! part ever sent, `<n>.lock`. A part's receiver holds `upload` locked shared and
//! `<n>.lock` exclusively; completion holds `upload` exclusively: file locks, so that
//! instances sharing the data directory keep out of each other's way too.
//! Completion checks the parts, reads `data` once through SHA-256 (unless it is larger
//! than the store's joined-digest limit: then registration leaves it to the background
//! verifier), and links it into place exactly as a single upload is, so that a stored
//! object is never replaced.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use releasy_domain::artifact::{Checksum, CompletedPart, PartNumber, UploadId, UploadedPart};

use crate::error::FsStoreError;
use crate::store::{hash_file, is_absent};

/// What names an upload's directory under `.uploads/`.
const DIR_PREFIX: &str = "parts-";

/// The upload's description, the file being assembled, and a part's record.
const DESCRIPTION: &str = "upload";
const DATA: &str = "data";
const PART_SUFFIX: &str = ".part";
/// The file a part's receiver holds locked.
const LOCK_SUFFIX: &str = ".lock";

/// An open upload as its `upload` file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenUpload {
    pub(crate) dir: PathBuf,
    pub(crate) key: String,
    pub(crate) part_size: u64,
    /// Where the object goes once the upload completes.
    pub(crate) object: PathBuf,
}

impl OpenUpload {
    /// The file the parts are written into.
    pub(crate) fn data_path(&self) -> PathBuf {
        self.dir.join(DATA)
    }

    /// Where part `part`'s record is kept.
    pub(crate) fn part_record(&self, part: u32) -> PathBuf {
        self.dir.join(format!("{part}{PART_SUFFIX}"))
    }

    /// Where part `part` starts in the data file.
    pub(crate) fn offset(&self, part: u32) -> u64 {
        u64::from(part.saturating_sub(1)) * self.part_size
    }
}

/// The directory of upload `id` under `uploads`, or `None` for an id this store never
/// makes (anything but 32 lowercase hex digits), so that no id reaches outside.
pub(crate) fn upload_dir(uploads: &Path, id: &str) -> Option<PathBuf> {
    let ours = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ours.then(|| uploads.join(format!("{DIR_PREFIX}{id}")))
}

/// Opens an upload of `key` in parts of `part_size` under `uploads`.
pub(crate) fn start(uploads: &Path, key: &str, part_size: u64) -> Result<UploadId, FsStoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = upload_dir(uploads, &id).unwrap_or_else(|| unreachable!("a simple uuid is ours"));
    std::fs::create_dir(&dir).map_err(|e| FsStoreError::io("creating", &dir, e))?;
    let description = dir.join(DESCRIPTION);
    let described = std::fs::File::create(dir.join(DATA))
        .map_err(|e| FsStoreError::io("creating", &dir, e))
        .and_then(|_| {
            std::fs::write(&description, format!("{key}\n{part_size}\n"))
                .map_err(|e| FsStoreError::io("writing", &description, e))
        });
    if let Err(err) = described {
        // Its id is not answered, so nothing else would ever remove it.
        if let Err(cleanup) = remove(&dir) {
            tracing::warn!(error = %cleanup, "could not remove an upload that failed to start");
        }
        return Err(err);
    }
    UploadId::parse(id).map_err(|e| FsStoreError::io("naming", dir, std::io::Error::other(e)))
}

/// The key and part size the upload directory `dir` describes, or `None` when its
/// description is missing or unreadable as one (a start that failed or crashed).
fn read_description(dir: &Path) -> Result<Option<(String, u64)>, FsStoreError> {
    let description = dir.join(DESCRIPTION);
    let text = match std::fs::read_to_string(&description) {
        Ok(text) => text,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(FsStoreError::io("reading", description, e)),
    };
    let mut lines = text.lines();
    let (Some(key), Some(part_size)) = (lines.next(), lines.next()) else {
        return Ok(None);
    };
    Ok(part_size
        .parse::<u64>()
        .ok()
        .map(|part_size| (key.to_owned(), part_size)))
}

/// Whether `dir` is an upload directory without a description: one whose start failed
/// or crashed, which no record names and no abort could find by its key.
pub(crate) fn is_undescribed(dir: &Path) -> bool {
    matches!(read_description(dir), Ok(None)) && dir.is_dir()
}

/// The open upload `id` of `key` (stored at `object` once complete), or `None` when
/// there is none (or it is another key's).
pub(crate) fn open(
    uploads: &Path,
    id: &str,
    key: &str,
    object: PathBuf,
) -> Result<Option<OpenUpload>, FsStoreError> {
    let Some(dir) = upload_dir(uploads, id) else {
        return Ok(None);
    };
    let Some((stored_key, part_size)) = read_description(&dir)? else {
        return Ok(None);
    };
    if stored_key != key {
        return Ok(None);
    }
    Ok(Some(OpenUpload {
        dir,
        key: stored_key,
        part_size,
        object,
    }))
}

/// What locking an upload's part, or its completion, came to.
#[derive(Debug)]
pub(crate) enum Locked<T> {
    /// Held until the guard is dropped.
    Held(T),
    /// Another request holds what is needed: the same part, or the completion (or, to
    /// complete, any part).
    Busy,
    /// The upload was completed or aborted meanwhile.
    Gone,
}

/// A part being received: the upload held shared (it cannot complete meanwhile) and
/// the part alone (no second request writes it). File locks, so they hold across every
/// instance that shares the data directory; released when dropped.
#[derive(Debug)]
pub(crate) struct ReceivingPart {
    _upload: std::fs::File,
    _part: std::fs::File,
}

/// An upload being completed: no part is received meanwhile, on any instance.
#[derive(Debug)]
pub(crate) struct Completing {
    _upload: std::fs::File,
}

/// Locks part `part` of `upload` for receiving it.
pub(crate) fn lock_part(
    upload: &OpenUpload,
    part: u32,
) -> Result<Locked<ReceivingPart>, FsStoreError> {
    let held = match lock_description(upload, Share::Shared)? {
        Locked::Held(file) => file,
        Locked::Busy => return Ok(Locked::Busy),
        Locked::Gone => return Ok(Locked::Gone),
    };
    // Created under the shared lock, so never in a directory a completion is removing.
    let path = upload.dir.join(format!("{part}{LOCK_SUFFIX}"));
    let part_file = match std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) if is_absent(&e) => return Ok(Locked::Gone),
        Err(e) => return Err(FsStoreError::io("opening", path, e)),
    };
    Ok(match try_lock(&part_file, Share::Exclusive, &path)? {
        true => Locked::Held(ReceivingPart {
            _upload: held,
            _part: part_file,
        }),
        false => Locked::Busy,
    })
}

/// Locks `upload` for completing it.
pub(crate) fn lock_completion(upload: &OpenUpload) -> Result<Locked<Completing>, FsStoreError> {
    Ok(match lock_description(upload, Share::Exclusive)? {
        Locked::Held(file) => Locked::Held(Completing { _upload: file }),
        Locked::Busy => Locked::Busy,
        Locked::Gone => Locked::Gone,
    })
}

/// How a lock is shared.
#[derive(Debug, Clone, Copy)]
enum Share {
    Shared,
    Exclusive,
}

/// The upload's description file, locked as `share` asks (never waiting).
fn lock_description(
    upload: &OpenUpload,
    share: Share,
) -> Result<Locked<std::fs::File>, FsStoreError> {
    let path = upload.dir.join(DESCRIPTION);
    // Opened for writing too, though nothing is written: on NFS, Linux maps `flock` to
    // byte-range locks, and an exclusive one needs a file open for writing.
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) if is_absent(&e) => return Ok(Locked::Gone),
        Err(e) => return Err(FsStoreError::io("opening", path, e)),
    };
    if !try_lock(&file, share, &path)? {
        return Ok(Locked::Busy);
    }
    // Locked after the upload was removed: the file is no longer its description.
    if !path.exists() {
        return Ok(Locked::Gone);
    }
    Ok(Locked::Held(file))
}

/// Takes the lock without waiting: `false` when another holds it.
fn try_lock(file: &std::fs::File, share: Share, path: &Path) -> Result<bool, FsStoreError> {
    let tried = match share {
        Share::Shared => file.try_lock_shared(),
        Share::Exclusive => file.try_lock(),
    };
    match tried {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(FsStoreError::io("locking", path, e)),
    }
}

/// Records that part `part` of `upload` arrived whole with `size` bytes and `etag`:
/// written beside, then renamed, so a record is whole or absent.
pub(crate) fn record_part(
    upload: &OpenUpload,
    part: u32,
    size: u64,
    etag: &str,
) -> Result<(), FsStoreError> {
    let record = upload.part_record(part);
    let temp = upload.dir.join(format!(
        "{part}{PART_SUFFIX}.{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&temp, format!("{size}\n{etag}\n"))
        .and_then(|()| std::fs::rename(&temp, &record))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            FsStoreError::io("recording part", &record, e)
        })
}

/// Forgets part `part` (before its bytes are overwritten).
pub(crate) fn forget_part(upload: &OpenUpload, part: u32) -> Result<(), FsStoreError> {
    let record = upload.part_record(part);
    match std::fs::remove_file(&record) {
        Ok(()) => Ok(()),
        Err(e) if is_absent(&e) => Ok(()),
        Err(e) => Err(FsStoreError::io("removing", record, e)),
    }
}

/// The parts of `upload` received whole, by part number.
pub(crate) fn parts(upload: &OpenUpload) -> Result<Vec<UploadedPart>, FsStoreError> {
    let entries =
        std::fs::read_dir(&upload.dir).map_err(|e| FsStoreError::io("listing", &upload.dir, e))?;
    let mut parts = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_suffix(PART_SUFFIX))
            .and_then(|n| n.parse::<i64>().ok())
            .and_then(|n| PartNumber::parse(n).ok())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue; // removed meanwhile: being uploaded again
        };
        let mut lines = text.lines();
        if let (Some(Ok(size)), Some(etag)) = (lines.next().map(str::parse), lines.next()) {
            parts.push(UploadedPart {
                part_number: number,
                size,
                etag: Some(etag.to_owned()),
            });
        }
    }
    parts.sort_by_key(|p| p.part_number);
    Ok(parts)
}

/// Why the parts named cannot complete the upload.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// A part is missing, has another entity tag, or has the wrong size.
    #[error("{0}")]
    Parts(String),
    /// The disk failed.
    #[error(transparent)]
    Store(#[from] FsStoreError),
}

/// Checks `named` against the parts `upload` holds; returns the object's size.
pub(crate) fn check(upload: &OpenUpload, named: &[CompletedPart]) -> Result<u64, Refusal> {
    let held = parts(upload)?;
    let mut total = 0_u64;
    for (index, part) in named.iter().enumerate() {
        let number = part.part_number.get();
        let Some(stored) = held.iter().find(|p| p.part_number == part.part_number) else {
            return Err(Refusal::Parts(format!("part {number} was not uploaded")));
        };
        if stored.etag.as_deref() != Some(part.etag.as_str()) {
            return Err(Refusal::Parts(format!(
                "part {number} has another etag than the one named"
            )));
        }
        let last = index + 1 == named.len();
        if upload.offset(number) != total
            || (!last && stored.size != upload.part_size)
            || stored.size > upload.part_size
        {
            return Err(Refusal::Parts(format!(
                "part {number} must hold {} bytes",
                upload.part_size
            )));
        }
        total += stored.size;
    }
    Ok(total)
}

/// Whether the data file `file` (at `path`) is also the upload's stored object: a
/// completion links it into place before it removes the upload, and may stop in
/// between (a crash, a failed removal). Its bytes must then never change again. (Told
/// by the file's identity, not its link count: a hard-link backup links every file.)
pub(crate) fn is_placed(
    upload: &OpenUpload,
    file: &std::fs::File,
    path: &Path,
) -> Result<bool, FsStoreError> {
    use std::os::unix::fs::MetadataExt as _;
    let data = file
        .metadata()
        .map_err(|e| FsStoreError::io("reading the metadata of", path, e))?;
    match std::fs::metadata(&upload.object) {
        Ok(object) => Ok(object.dev() == data.dev() && object.ino() == data.ino()),
        Err(e) if is_absent(&e) => Ok(false),
        Err(e) => Err(FsStoreError::io(
            "reading the metadata of",
            &upload.object,
            e,
        )),
    }
}

/// Whether the upload's data file is gone or already placed as the object: a
/// completion got that far before it stopped.
pub(crate) fn data_placed_or_gone(upload: &OpenUpload) -> Result<bool, FsStoreError> {
    let path = upload.data_path();
    match std::fs::File::open(&path) {
        Ok(file) => is_placed(upload, &file, &path),
        Err(e) if is_absent(&e) => Ok(true),
        Err(e) => Err(FsStoreError::io("opening", path, e)),
    }
}

/// Cuts the data file to `size` (a part sent again shorter leaves nothing behind),
/// reads it through SHA-256 when `size` is at most `digest_max_bytes`, and flushes it;
/// returns the file and its digest, if read.
pub(crate) fn seal(
    upload: &OpenUpload,
    size: u64,
    digest_max_bytes: u64,
) -> Result<(std::fs::File, Option<Checksum>), FsStoreError> {
    let path = upload.data_path();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| FsStoreError::io("opening", &path, e))?;
    file.set_len(size)
        .map_err(|e| FsStoreError::io("truncating", &path, e))?;
    let digest = if size <= digest_max_bytes {
        Some(hash_file(&mut file, &path)?)
    } else {
        None
    };
    file.sync_all()
        .map_err(|e| FsStoreError::io("flushing", &path, e))?;
    Ok((file, digest))
}

/// Removes the upload's directory and all in it; a missing one is fine.
pub(crate) fn remove(dir: &Path) -> Result<(), FsStoreError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if is_absent(&e) => return Ok(()),
            // A part's receiver added its lock file while the entries were removed (an
            // abort does not wait for receivers): remove what is there now.
            Err(e) if e.kind() == ErrorKind::DirectoryNotEmpty && attempts < 3 => {}
            Err(e) => return Err(FsStoreError::io("removing", dir, e)),
        }
    }
}

/// Whether `name` (an entry of `.uploads/`) is an upload in parts, which the startup
/// cleanup of single uploads leaves to the sweeper.
pub(crate) fn is_upload_dir(name: &str) -> bool {
    name.starts_with(DIR_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_this_store_makes_name_a_directory() {
        let uploads = Path::new("/data/.uploads");
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            upload_dir(uploads, id),
            Some(uploads.join(format!("parts-{id}")))
        );
        for bad in [
            "",
            "../x",
            "0123456789ABCDEF0123456789ABCDEF",
            &format!("{id}0"),
        ] {
            assert_eq!(upload_dir(uploads, bad), None, "{bad}");
        }
    }

    #[test]
    fn parts_are_checked_against_their_records() {
        let dir = tempfile::tempdir().unwrap();
        let id = start(dir.path(), "releases/k", 4).unwrap();
        assert!(
            open(
                dir.path(),
                id.as_str(),
                "releases/other",
                dir.path().join("o")
            )
            .unwrap()
            .is_none()
        );
        let upload = open(dir.path(), id.as_str(), "releases/k", dir.path().join("o"))
            .unwrap()
            .unwrap();
        record_part(&upload, 1, 4, "\"a\"").unwrap();
        record_part(&upload, 2, 3, "\"b\"").unwrap();
        let named = |etags: [&str; 2]| -> Vec<CompletedPart> {
            etags
                .iter()
                .enumerate()
                .map(|(i, etag)| CompletedPart {
                    part_number: PartNumber::parse(i as i64 + 1).unwrap(),
                    etag: (*etag).to_owned(),
                })
                .collect()
        };
        assert_eq!(check(&upload, &named(["\"a\"", "\"b\""])).unwrap(), 7);
        assert!(matches!(
            check(&upload, &named(["\"a\"", "\"x\""])),
            Err(Refusal::Parts(_))
        ));
        record_part(&upload, 1, 3, "\"a\"").unwrap();
        assert!(
            matches!(
                check(&upload, &named(["\"a\"", "\"b\""])),
                Err(Refusal::Parts(_))
            ),
            "a short part other than the last"
        );
        remove(&upload.dir).unwrap();
        assert!(
            open(dir.path(), id.as_str(), "releases/k", dir.path().join("o"))
                .unwrap()
                .is_none()
        );
    }
}
