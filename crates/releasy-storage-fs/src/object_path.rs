//! Object keys as relative paths under the store's root, refusing anything that could
//! reach outside it. Keys made by the domain's naming rule always pass; the checks are
//! defence in depth against keys from anywhere else.

use std::path::{Path, PathBuf};

use crate::error::InvalidKey;

/// The directory under the root that holds uploads in progress.
pub(crate) const UPLOADS_DIR: &str = ".uploads";

/// The directory under the root that holds each object's SHA-256, recorded as it was
/// received, at the object's key.
pub(crate) const DIGESTS_DIR: &str = ".sha256";

/// The directory under the root that holds the artifacts the naming rule places.
pub(crate) const RELEASES_DIR: &str = "releases";

/// The longest key accepted, in bytes (S3's limit).
const MAX_KEY_BYTES: usize = 1024;

fn refuse(reason: &'static str) -> Result<(), InvalidKey> {
    Err(InvalidKey { reason })
}

/// Checks that `key` is `/`-separated segments of `[A-Za-z0-9._~-]`, none of them
/// empty, `.` or `..`, and that it does not start inside the uploads or digests
/// directory.
///
/// # Errors
/// [`InvalidKey`] naming the first rule broken.
pub(crate) fn validate_key(key: &str) -> Result<(), InvalidKey> {
    if key.is_empty() {
        return refuse("empty key");
    }
    if key.len() > MAX_KEY_BYTES {
        return refuse("key longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return refuse("leading `/`");
    }
    if key.contains('\\') {
        return refuse("backslash");
    }
    for (index, segment) in key.split('/').enumerate() {
        match segment {
            "" => return refuse("empty segment"),
            "." | ".." => return refuse("`.` or `..` segment"),
            UPLOADS_DIR | DIGESTS_DIR if index == 0 => return refuse("reserved first segment"),
            _ => {}
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-');
        if !segment.bytes().all(allowed) {
            return refuse("character outside [A-Za-z0-9._~-]");
        }
    }
    Ok(())
}

/// The path of the object `key` under `root`.
///
/// # Errors
/// [`InvalidKey`] when `key` breaks a rule of [`validate_key`].
pub(crate) fn object_path(root: &Path, key: &str) -> Result<PathBuf, InvalidKey> {
    validate_key(key)?;
    Ok(key
        .split('/')
        .fold(root.to_path_buf(), |path, segment| path.join(segment)))
}

/// Where the SHA-256 of the object `key` is recorded under `root`.
///
/// # Errors
/// [`InvalidKey`] when `key` breaks a rule of [`validate_key`].
pub(crate) fn digest_path(root: &Path, key: &str) -> Result<PathBuf, InvalidKey> {
    object_path(&root.join(DIGESTS_DIR), key)
}

/// The key's last segment: the file name offered to downloaders.
pub(crate) fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_the_naming_rule_pass() {
        let key = "releases/my_app/1.0.0_build_7/linux_x86_64/00000000-0000-0000-0000-000000000000/app_setup__1_.tgz";
        let path = object_path(Path::new("/data/objects"), key).unwrap();
        assert_eq!(path, Path::new("/data/objects").join(key));
        assert_eq!(file_name(key), "app_setup__1_.tgz");
    }

    #[test]
    fn traversal_and_odd_keys_are_refused() {
        for key in [
            "",
            "/etc/passwd",
            "../x",
            "releases/../../etc/passwd",
            "releases/./x",
            "releases//x",
            "releases/x/",
            "releases\\..\\x",
            "releases/a%2F..",
            "releases/a b",
            "releases/ü",
            ".uploads/x",
            ".sha256/releases/x",
            "releases/a\0b",
        ] {
            assert!(validate_key(key).is_err(), "{key:?} was accepted");
        }
        assert!(validate_key(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn dots_inside_segments_are_fine() {
        assert!(validate_key("releases/app/1.0.0/.hidden/...").is_ok());
        assert!(validate_key("releases/.uploads/x").is_ok());
    }
}
