//! The `.part` file a download is written to before it is verified and renamed, and
//! its claim, `PATH.part.sha256`: the sha256 of the artifact the part file was begun
//! for, held locked for the whole run. So a part file is resumed only for the artifact
//! it holds the start of (not a 50 GiB start of last week's version), and two runs
//! never write one part file, which would let one of them rename bytes it did not
//! hash.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::local::{prefix_hasher, regular_file_len, remove};
use crate::error::CliError;
use crate::transfer::{ProgressMode, no_follow};

/// The part file of one download, claimed by this run until it is dropped.
#[derive(Debug)]
pub struct PartFile {
    path: PathBuf,
    claim_path: PathBuf,
    /// Held open: the lock on it is the claim, released when it is closed.
    _claim: File,
}

/// What a claimed part file already holds.
#[derive(Debug)]
pub struct Kept {
    /// The hash of its bytes.
    pub hasher: Sha256,
    /// How many bytes it holds.
    pub bytes: u64,
}

impl PartFile {
    /// Claims `<target>.part` for the artifact of `checksum` and `size`: keeps what it
    /// holds when it was begun for that artifact (hashed, to resume from), and
    /// otherwise empties it.
    ///
    /// # Errors
    /// [`CliError::Conflict`] when another run holds the claim; [`CliError::Io`] when
    /// the files cannot be read or written.
    pub async fn claim(
        target: &Path,
        checksum: &str,
        size: u64,
        mode: ProgressMode,
    ) -> Result<(Self, Kept), CliError> {
        let path = with_suffix(target, ".part");
        let claim_path = with_suffix(target, ".part.sha256");
        let (mut claim, claimed_for) = lock(&claim_path, target)?;
        let kept_len = match regular_file_len(&path).await {
            Some(len) if claimed_for.trim() == checksum && len <= size => Some(len),
            _ => None,
        };
        let kept = match kept_len {
            Some(len) => {
                let (hasher, bytes) = prefix_hasher(&path, len, mode).await?;
                Kept { hasher, bytes }
            }
            None => {
                // Begun for something else, or by a CLI that wrote no claim: emptied.
                remove(&path).await?;
                let io = |e| CliError::io(&claim_path, e);
                claim.set_len(0).map_err(io)?;
                claim.rewind().map_err(io)?;
                claim
                    .write_all(format!("{checksum}\n").as_bytes())
                    .and_then(|()| claim.sync_all())
                    .map_err(io)?;
                Kept {
                    hasher: Sha256::new(),
                    bytes: 0,
                }
            }
        };
        let part = Self {
            path,
            claim_path,
            _claim: claim,
        };
        Ok((part, kept))
    }

    /// The part file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Empties the part file, to download from the start.
    ///
    /// # Errors
    /// [`CliError::Io`].
    pub async fn restart(&self) -> Result<(), CliError> {
        remove(&self.path).await
    }

    /// Renames the verified part file to `target`, and lets the claim go.
    ///
    /// # Errors
    /// [`CliError::Io`] when it cannot be renamed.
    pub async fn finish(self, target: &Path) -> Result<(), CliError> {
        tokio::fs::rename(&self.path, target)
            .await
            .map_err(|e| CliError::io(target, e))
    }

    /// Deletes the part file (its bytes are not the artifact), and the claim.
    ///
    /// # Errors
    /// [`CliError::Io`].
    pub async fn discard(self) -> Result<(), CliError> {
        remove(&self.path).await
    }
}

impl Drop for PartFile {
    /// Without a part file (renamed into place, deleted, or never written: the token
    /// was refused, the network was down) the claim has nothing to name, and goes. It
    /// is removed while still locked, so no other run takes a claim on a file about to
    /// disappear.
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_err() {
            let _ = std::fs::remove_file(&self.claim_path);
        }
    }
}

/// `<target><suffix>`.
pub fn with_suffix(target: &Path, suffix: &str) -> PathBuf {
    let mut name = target
        .file_name()
        .map(ToOwned::to_owned)
        .unwrap_or_default();
    name.push(suffix);
    target.with_file_name(name)
}

/// Opens and locks the claim file at `path`, and reads whom it names. Retries when the
/// file it locked was removed meanwhile (a run that finished let it go), so the lock
/// held is always on the file at `path`.
fn lock(path: &Path, target: &Path) -> Result<(File, String), CliError> {
    let io = |e| CliError::io(path, e);
    loop {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let mut file = no_follow(&mut options).open(path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(CliError::Conflict(format!(
                    "another download into {} is running (it holds {})",
                    target.display(),
                    path.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        if !still_at(&file, path).map_err(io)? {
            continue;
        }
        let mut claimed_for = String::new();
        // A claim file is one line; anything longer is not one.
        (&mut file)
            .take(256)
            .read_to_string(&mut claimed_for)
            .map_err(io)?;
        return Ok((file, claimed_for));
    }
}

/// Whether `file` is (still) the file at `path`.
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata()?;
    Ok(match std::fs::symlink_metadata(path) {
        Ok(there) => there.dev() == held.dev() && there.ino() == held.ino(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    })
}

/// Whether `file` is (still) the file at `path`: elsewhere, whether one is there.
#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> std::io::Result<bool> {
    Ok(path.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SUM_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[tokio::test]
    async fn a_part_file_is_kept_only_for_the_artifact_it_was_begun_for() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("agent.tgz");
        let (part, kept) = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off)
            .await
            .unwrap();
        assert_eq!(kept.bytes, 0);
        std::fs::write(part.path(), b"0123456789").unwrap();
        drop(part);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("agent.tgz.part.sha256")).unwrap(),
            format!("{SUM_A}\n")
        );

        // The same artifact: kept, hashed.
        let (part, kept) = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off)
            .await
            .unwrap();
        assert_eq!(kept.bytes, 10);
        assert_eq!(
            format!("{:x}", kept.hasher.finalize()),
            format!("{:x}", Sha256::digest(b"0123456789"))
        );
        drop(part);

        // Another artifact (a newer version into the same file): emptied, reclaimed.
        let (part, kept) = PartFile::claim(&target, SUM_B, 100, ProgressMode::Off)
            .await
            .unwrap();
        assert_eq!(kept.bytes, 0);
        assert!(!part.path().exists());
        assert!(
            std::fs::read_to_string(dir.path().join("agent.tgz.part.sha256"))
                .unwrap()
                .starts_with(SUM_B)
        );
        drop(part);

        // A part file without a claim (an interrupted older CLI): not trusted.
        assert!(
            !dir.path().join("agent.tgz.part.sha256").exists(),
            "no part, no claim"
        );
        std::fs::write(dir.path().join("agent.tgz.part"), b"0123").unwrap();
        let (_part, kept) = PartFile::claim(&target, SUM_B, 100, ProgressMode::Off)
            .await
            .unwrap();
        assert_eq!(kept.bytes, 0);
    }

    /// A run that wrote nothing (its token refused) leaves no claim behind.
    #[tokio::test]
    async fn a_claim_without_a_part_file_is_not_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("agent.tgz");
        let (part, _) = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off)
            .await
            .unwrap();
        assert!(dir.path().join("agent.tgz.part.sha256").exists());
        drop(part);
        assert!(!dir.path().join("agent.tgz.part.sha256").exists());
        // With bytes written, it stays, to resume them.
        let (part, _) = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off)
            .await
            .unwrap();
        std::fs::write(part.path(), b"01").unwrap();
        drop(part);
        assert!(dir.path().join("agent.tgz.part.sha256").exists());
        // Discarded: both go.
        let (part, _) = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off)
            .await
            .unwrap();
        part.discard().await.unwrap();
        assert!(!dir.path().join("agent.tgz.part").exists());
        assert!(!dir.path().join("agent.tgz.part.sha256").exists());
    }

    #[tokio::test]
    async fn a_part_file_longer_than_the_artifact_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("agent.tgz");
        let (part, _) = PartFile::claim(&target, SUM_A, 4, ProgressMode::Off)
            .await
            .unwrap();
        std::fs::write(part.path(), b"0123456789").unwrap();
        drop(part);
        let (part, kept) = PartFile::claim(&target, SUM_A, 4, ProgressMode::Off)
            .await
            .unwrap();
        assert_eq!(kept.bytes, 0);
        assert!(!part.path().exists());
    }

    #[tokio::test]
    async fn two_runs_never_hold_one_part_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("agent.tgz");
        let (first, _) = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off)
            .await
            .unwrap();
        let second = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off).await;
        assert!(
            matches!(&second, Err(CliError::Conflict(message)) if message.contains("another download")),
            "{second:?}"
        );
        // Once the first is done, the claim is free again and its file gone.
        std::fs::write(first.path(), b"x").unwrap();
        first.finish(&target).await.unwrap();
        assert!(!dir.path().join("agent.tgz.part.sha256").exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"x");
        PartFile::claim(&target, SUM_A, 100, ProgressMode::Off)
            .await
            .unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_planted_symbolic_link_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        let target = dir.path().join("agent.tgz");
        // At the part file: removed, not followed.
        std::os::unix::fs::symlink(&victim, dir.path().join("agent.tgz.part")).unwrap();
        let (part, kept) = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off)
            .await
            .unwrap();
        assert_eq!(kept.bytes, 0);
        assert!(std::fs::symlink_metadata(part.path()).is_err());
        drop(part);
        // At the claim file: refused.
        std::os::unix::fs::symlink(&victim, dir.path().join("agent.tgz.part.sha256")).unwrap();
        let refused = PartFile::claim(&target, SUM_A, 100, ProgressMode::Off).await;
        assert!(matches!(refused, Err(CliError::Io { .. })), "{refused:?}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    }
}
