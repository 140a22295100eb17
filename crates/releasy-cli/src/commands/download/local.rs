//! The local side of a download: the target path and what is already there.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::CliError;
use crate::transfer::{Progress, ProgressMode, hash_file, hex};

/// Where the artifact goes: `output` (inside it, when it is a directory or ends with
/// a slash), or the artifact's file name in the current directory. The name comes from
/// the server: one that is not a plain file name is replaced by the artifact's id (or,
/// should that not be one either, `artifact`), so it never leads out of the directory.
pub fn target_path(output: Option<&Path>, file_name: &str, artifact_id: &str) -> PathBuf {
    let name = plain_file_name(file_name)
        .or_else(|| plain_file_name(artifact_id))
        .unwrap_or("artifact");
    match output {
        Some(path)
            if path.is_dir() || path.as_os_str().to_string_lossy().ends_with(['/', '\\']) =>
        {
            path.join(name)
        }
        Some(path) => path.to_owned(),
        None => PathBuf::from(name),
    }
}

/// `name` when it is one plain file name: not empty, `.` or `..`, and without a path
/// separator (`/`, `\\`), a NUL, or on Windows a drive's colon.
fn plain_file_name(name: &str) -> Option<&str> {
    let separators: &[char] = if cfg!(windows) {
        &['/', '\\', '\0', ':']
    } else {
        &['/', '\\', '\0']
    };
    let plain = !matches!(name, "" | "." | "..") && !name.contains(separators);
    plain.then_some(name)
}

/// The length of the regular file at `path` (or the one a link there leads to), if
/// there is one.
pub async fn file_len(path: &Path) -> Option<u64> {
    tokio::fs::metadata(path)
        .await
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// The length of the regular file at `path`, if there is one (not a link to one).
pub async fn regular_file_len(path: &Path) -> Option<u64> {
    tokio::fs::symlink_metadata(path)
        .await
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// The sha256 of the whole file at `path`.
///
/// # Errors
/// [`CliError::Io`].
pub async fn digest(path: &Path, len: u64, mode: ProgressMode) -> Result<String, CliError> {
    let (hasher, _) = prefix_hasher(path, len, mode).await?;
    Ok(hex(hasher))
}

/// A hasher fed with the file at `path` (`len` bytes), for resuming, and the number of
/// bytes it read.
///
/// # Errors
/// [`CliError::Io`].
pub async fn prefix_hasher(
    path: &Path,
    len: u64,
    mode: ProgressMode,
) -> Result<(Sha256, u64), CliError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    let progress = Progress::start(mode, format!("sha256 {name}"), len, 0);
    let read = hash_file(path, &mut hasher, &progress).await?;
    progress.finish();
    Ok((hasher, read))
}

/// Removes `path`, ignoring a file that is not there.
///
/// # Errors
/// [`CliError::Io`] for any other failure.
pub async fn remove(path: &Path) -> Result<(), CliError> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CliError::io(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(target_path(None, "app.tgz", "id"), PathBuf::from("app.tgz"));
        assert_eq!(target_path(None, "..", "id"), PathBuf::from("id"));
        assert_eq!(
            target_path(Some(Path::new("out/x.tgz")), "app.tgz", "id"),
            PathBuf::from("out/x.tgz")
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            target_path(Some(dir.path()), "app.tgz", "id"),
            dir.path().join("app.tgz")
        );
        assert_eq!(
            target_path(Some(Path::new("new-dir/")), "app.tgz", "id"),
            PathBuf::from("new-dir/app.tgz")
        );
    }

    /// Names come from the server: none leads out of the directory asked for.
    #[test]
    fn a_name_that_is_not_a_plain_file_name_is_not_used() {
        for name in ["", ".", "..", "a/b", "..\\..\\evil.exe", "nul\0.tgz"] {
            assert_eq!(
                target_path(Some(Path::new("dir/")), name, "id"),
                PathBuf::from("dir/id"),
                "{name:?}"
            );
        }
        assert_eq!(
            target_path(Some(Path::new("dir/")), "", "../../.bashrc"),
            PathBuf::from("dir/artifact")
        );
        if cfg!(windows) {
            assert_eq!(target_path(None, "C:evil.exe", "id"), PathBuf::from("id"));
        }
    }
}
