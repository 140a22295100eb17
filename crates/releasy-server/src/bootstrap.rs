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
#[error("admin key file {path}")]
pub struct BootstrapError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// The admin key in `data_dir`, generated (mode 0600) on first use. Returns the key and
/// the file's path; the key itself is never logged. Instances starting at once on one
/// data directory all end with the same key: the file appears whole or not at all
/// (written aside, then linked into place; the first link wins, the others read it).
///
/// # Errors
/// [`BootstrapError`] when the file cannot be read or created.
pub fn generated_admin_key(data_dir: &Path) -> Result<(String, PathBuf), BootstrapError> {
    let path = data_dir.join(ADMIN_KEY_FILE);
    let fail = |source| BootstrapError {
        path: path.clone(),
        source,
    };
    if let Some(key) = read_key(&path).map_err(fail)? {
        return Ok((key, path));
    }
    std::fs::create_dir_all(data_dir).map_err(fail)?;
    let mut bytes = [0u8; 40];
    getrandom::fill(&mut bytes).map_err(|e| fail(std::io::Error::other(e.to_string())))?;
    let (secret, name) = bytes.split_at(32);
    let key = URL_SAFE_NO_PAD.encode(secret);
    let aside = data_dir.join(format!(
        ".{ADMIN_KEY_FILE}.{}",
        URL_SAFE_NO_PAD.encode(name)
    ));
    let placed = write_owner_only(&aside, &key).and_then(|()| place(&aside, &path, &key));
    let placed = match placed {
        // An empty file: another instance creating it in place is about to write it
        // (no hard links there), or an older version crashed while writing it. Waited
        // for, then replaced.
        Ok(false) if key_written_soon(&path).map_err(fail)?.is_none() => {
            std::fs::rename(&aside, &path).map(|()| true)
        }
        other => other,
    };
    let _ = std::fs::remove_file(&aside);
    if placed.map_err(fail)? {
        return Ok((key, path));
    }
    let theirs = read_key(&path).map_err(fail)?;
    theirs.map(|key| (key, path.clone())).ok_or_else(|| {
        fail(std::io::Error::other(
            "empty after another instance wrote it",
        ))
    })
}

/// Links the key written `aside` into place at `path`: `true` when it is there now,
/// `false` when another instance's key is. On a file system without hard links (SMB,
/// some FUSE mounts) the key is created in place instead, which only the first instance
/// manages.
fn place(aside: &Path, path: &Path, key: &str) -> std::io::Result<bool> {
    let already = |err: &std::io::Error| err.kind() == std::io::ErrorKind::AlreadyExists;
    match std::fs::hard_link(aside, path) {
        Ok(()) => Ok(true),
        Err(err) if already(&err) => Ok(false),
        Err(_) => match write_owner_only(path, key) {
            Ok(()) => Ok(true),
            Err(err) if already(&err) => Ok(false),
            Err(err) => Err(err),
        },
    }
}

/// The key in `path`, waiting up to a second for an empty file to be written.
fn key_written_soon(path: &Path) -> std::io::Result<Option<String>> {
    for _ in 0..20 {
        if let Some(key) = read_key(path)? {
            return Ok(Some(key));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    read_key(path)
}

/// The key in `path`; `None` when the file is missing or empty.
fn read_key(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|key| !key.is_empty())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Writes `key` to the new file `path`, readable by its owner only, and syncs it.
fn write_owner_only(path: &Path, key: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(key.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
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

    #[test]
    fn instances_starting_at_once_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_owned();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let keys: Vec<String> = (0..8)
            .map(|_| {
                let data = data.clone();
                let barrier = std::sync::Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    generated_admin_key(&data).unwrap().0
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();
        assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
        let on_disk = std::fs::read_to_string(data.join(ADMIN_KEY_FILE)).unwrap();
        assert_eq!(on_disk.trim(), keys[0]);
        let names: Vec<_> = std::fs::read_dir(&data)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, [ADMIN_KEY_FILE], "nothing left aside");
    }

    #[test]
    fn an_empty_key_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ADMIN_KEY_FILE), "").unwrap();
        let (key, path) = generated_admin_key(dir.path()).unwrap();
        assert_eq!(key.len(), 43);
        assert_eq!(std::fs::read_to_string(path).unwrap().trim(), key);
    }
}
