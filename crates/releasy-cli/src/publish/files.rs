//! The files to upload: `FILE[:PLATFORM]` arguments, their names and digests.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::CliError;
use crate::transfer::{Progress, ProgressMode, hash_file, hex};

/// A file to upload, hashed.
#[derive(Debug, Clone, Serialize)]
pub struct LocalFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its name, as sent to presign.
    pub file_name: String,
    /// Its target platform.
    pub platform: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256, lowercase hex.
    pub sha256: String,
    /// Its modification time when it was hashed, where the file system keeps one.
    #[serde(skip)]
    pub modified: Option<SystemTime>,
}

impl LocalFile {
    /// Checks and hashes `path` (streamed, with progress) for `platform`.
    ///
    /// # Errors
    /// [`CliError::Usage`] for an empty file or one without a name,
    /// [`CliError::Io`] when it cannot be read.
    pub async fn hash(path: &Path, platform: &str, mode: ProgressMode) -> Result<Self, CliError> {
        let metadata = tokio::fs::metadata(path)
            .await
            .map_err(|e| CliError::io(path, e))?;
        if !metadata.is_file() {
            return Err(CliError::Usage(format!("{} is not a file", path.display())));
        }
        if metadata.len() == 0 {
            return Err(CliError::Usage(format!(
                "{} is empty; artifacts must have at least one byte",
                path.display()
            )));
        }
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| CliError::Usage(format!("{} has no UTF-8 file name", path.display())))?;
        let mut hasher = Sha256::new();
        let progress = Progress::start(mode, format!("sha256 {file_name}"), metadata.len(), 0);
        let size = hash_file(path, &mut hasher, &progress).await?;
        progress.finish();
        Ok(Self {
            path: path.to_owned(),
            file_name,
            platform: platform.to_owned(),
            size,
            sha256: hex(hasher),
            modified: metadata.modified().ok(),
        })
    }

    /// Whether the file is no longer the one hashed, as far as its size and
    /// modification time tell (read before hashing, so a write during the hash counts);
    /// a file that cannot be looked at has changed. A write that keeps both is found by
    /// the server, which checks the stored bytes' sha256.
    pub async fn changed_since_hashed(&self) -> bool {
        match tokio::fs::metadata(&self.path).await {
            Ok(now) => now.len() != self.size || now.modified().ok() != self.modified,
            Err(_) => true,
        }
    }

    /// [`Self::changed_since_hashed`] as an error.
    ///
    /// # Errors
    /// [`CliError::FileChanged`] when the file changed.
    pub async fn ensure_unchanged(&self) -> Result<(), CliError> {
        if self.changed_since_hashed().await {
            return Err(CliError::FileChanged {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// `err`, unless the file changed since it was hashed, which then is the cause
    /// worth telling (a store refusing bytes other than the declared ones, a body that
    /// ended short of its length).
    pub async fn explain(&self, err: CliError) -> CliError {
        if matches!(err, CliError::FileChanged { .. }) || !self.changed_since_hashed().await {
            return err;
        }
        CliError::FileChanged {
            path: self.path.clone(),
        }
    }

    /// The file name as the server stores it (the object key's last segment).
    pub fn stored_name(&self) -> String {
        normalize_segment(self.file_name.trim())
    }
}

/// Splits `FILE[:PLATFORM]`; files without a platform take `default_platform`.
///
/// A colon separates a platform only when what follows it has no path separator and
/// the whole argument is not itself an existing file.
///
/// # Errors
/// [`CliError::Usage`] when no platform is given or known.
pub fn parse_file_spec(
    raw: &str,
    default_platform: Option<&str>,
) -> Result<(PathBuf, String), CliError> {
    let split = raw.rsplit_once(':').filter(|(file, platform)| {
        !file.is_empty()
            && !platform.trim().is_empty()
            && !platform.contains(['/', '\\'])
            && !Path::new(raw).is_file()
    });
    let (file, platform) = match split {
        Some((file, platform)) => (file, Some(platform.trim())),
        None => (raw, default_platform.map(str::trim)),
    };
    match platform.filter(|p| !p.is_empty()) {
        Some(platform) => Ok((PathBuf::from(file), platform.to_owned())),
        None => Err(CliError::Usage(format!(
            "{raw}: no platform; write FILE:PLATFORM or pass --platform"
        ))),
    }
}

/// The server's naming rule for a key segment: lower-cased, every character outside
/// `[a-z0-9._-]` replaced by `_`.
fn normalize_segment(segment: &str) -> String {
    segment
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_written_after_it_was_hashed_has_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.tgz");
        std::fs::write(&path, b"first bytes").unwrap();
        let file = LocalFile::hash(&path, "linux", ProgressMode::Off)
            .await
            .unwrap();
        assert!(!file.changed_since_hashed().await);
        file.ensure_unchanged().await.unwrap();
        let refused = || CliError::Usage("refused".to_owned());
        assert!(matches!(file.explain(refused()).await, CliError::Usage(_)));

        // Same size, other bytes, written later: the modification time tells (set a
        // second on, whatever the file system's timestamp granularity).
        std::fs::write(&path, b"other bytes").unwrap();
        let later = file.modified.unwrap() + std::time::Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(file.changed_since_hashed().await);
        assert!(matches!(
            file.ensure_unchanged().await,
            Err(CliError::FileChanged { .. })
        ));
        assert!(matches!(
            file.explain(refused()).await,
            CliError::FileChanged { .. }
        ));

        std::fs::remove_file(&path).unwrap();
        assert!(file.changed_since_hashed().await, "a file gone has changed");
    }

    #[test]
    fn file_specs_split_at_the_last_colon() {
        assert_eq!(
            parse_file_spec("dist/app.tgz:linux-x86_64", None).unwrap(),
            (PathBuf::from("dist/app.tgz"), "linux-x86_64".to_owned())
        );
        assert_eq!(
            parse_file_spec("dist/app.tgz", Some("darwin-arm64")).unwrap(),
            (PathBuf::from("dist/app.tgz"), "darwin-arm64".to_owned())
        );
        assert_eq!(
            parse_file_spec("C:/dist/app.zip", Some("windows")).unwrap(),
            (PathBuf::from("C:/dist/app.zip"), "windows".to_owned())
        );
        assert!(matches!(
            parse_file_spec("dist/app.tgz", None),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn names_are_normalised_like_the_server_does() {
        assert_eq!(normalize_segment("App Setup (1).TGZ"), "app_setup__1_.tgz");
    }
}
