//! sha256 of files, read in chunks.

use std::path::Path;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::Progress;
use crate::error::CliError;

/// The read size for files and upload chunks.
pub const CHUNK: usize = 256 * 1024;

/// Feeds the whole of `path` into `hasher`, returning the number of bytes read.
///
/// # Errors
/// [`CliError::Io`] when the file cannot be read.
pub async fn hash_file(
    path: &Path,
    hasher: &mut Sha256,
    progress: &Progress,
) -> Result<u64, CliError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::io(path, e))?;
    let mut buffer = vec![0_u8; CHUNK];
    let mut total = 0_u64;
    loop {
        let n = file
            .read(&mut buffer)
            .await
            .map_err(|e| CliError::io(path, e))?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
        progress.advance(n as u64);
    }
}

/// The lowercase hex digest.
pub fn hex(hasher: Sha256) -> String {
    format!("{:x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::super::ProgressMode;
    use super::*;

    #[tokio::test]
    async fn hashes_a_file_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = vec![7_u8; CHUNK * 2 + 3];
        std::fs::write(&path, &data).unwrap();
        let mut hasher = Sha256::new();
        let progress = Progress::start(ProgressMode::Off, "hash", data.len() as u64, 0);
        assert_eq!(
            hash_file(&path, &mut hasher, &progress).await.unwrap(),
            data.len() as u64
        );
        assert_eq!(hex(hasher), format!("{:x}", Sha256::digest(&data)));
    }
}
