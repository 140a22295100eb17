//! The files to upload: `FILE[:PLATFORM]` arguments, their names and digests.

use std::path::{Path, PathBuf};

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
        })
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
