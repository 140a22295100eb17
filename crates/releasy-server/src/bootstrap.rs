//! First-start provisioning in the data directory: with neither an admin key nor an
//! operator JWKS configured nobody could administer the server, so an admin key is
//! generated once, kept in a file only its owner can read, and reused on every start.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The file holding the generated admin key.
pub const ADMIN_KEY_FILE: &str = "admin-api-key";

/// The generated key could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("admin key file {path}: {source}")]
pub struct BootstrapError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// The admin key in `data_dir`, generated (mode 0600) on first use. Returns the key and
/// the file's path; the key itself is never logged.
///
/// # Errors
/// [`BootstrapError`] when the file cannot be read or created.
pub fn generated_admin_key(data_dir: &Path) -> Result<(String, PathBuf), BootstrapError> {
    let path = data_dir.join(ADMIN_KEY_FILE);
    let fail = |source| BootstrapError {
        path: path.clone(),
        source,
    };
    if path.exists() {
        let key = std::fs::read_to_string(&path).map_err(fail)?;
        let key = key.trim().to_owned();
        if !key.is_empty() {
            return Ok((key, path));
        }
    }
    std::fs::create_dir_all(data_dir).map_err(fail)?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| fail(std::io::Error::other(e.to_string())))?;
    let key = URL_SAFE_NO_PAD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(fail)?;
    file.write_all(key.as_bytes()).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    Ok((key, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_generated_once_with_owner_only_permissions_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested");
        let (key, path) = generated_admin_key(&data).unwrap();
        assert_eq!(key.len(), 43);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (again, _) = generated_admin_key(&data).unwrap();
        assert_eq!(again, key);
    }
}
