//! The local side of a download: the target path, the `.part` file next to it, and
//! what is already there.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::CliError;
use crate::transfer::{Progress, ProgressMode, hash_file, hex};

/// Where the artifact goes: `output` (inside it, when it is a directory or ends with
/// a slash), or the artifact's file name in the current directory.
pub fn target_path(output: Option<&Path>, file_name: &str, artifact_id: &str) -> PathBuf {
    let name = match file_name {
        "" | "." | ".." => artifact_id,
        name => name,
    };
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

/// `<target>.part`.
pub fn part_path(target: &Path) -> PathBuf {
    let mut name = target
        .file_name()
        .map(ToOwned::to_owned)
        .unwrap_or_default();
    name.push(".part");
    target.with_file_name(name)
}

/// The length of the regular file at `path`, if there is one.
pub async fn file_len(path: &Path) -> Option<u64> {
    tokio::fs::metadata(path)
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
        assert_eq!(
            part_path(Path::new("out/app.tgz")),
            PathBuf::from("out/app.tgz.part")
        );
    }
}
