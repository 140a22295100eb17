//! The key that signs the embedded store's URLs, and the signatures themselves:
//! HMAC-SHA256 over the method, the object key and the expiry, and for a sized upload
//! its size, for a part's upload its upload id and part number.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Which operation a URL grants; it is part of what is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Upload (`PUT`).
    Put,
    /// Download (`GET`, and `HEAD`).
    Get,
}

impl Access {
    fn method(self) -> &'static str {
        match self {
            Self::Put => "PUT",
            Self::Get => "GET",
        }
    }
}

/// The secret that signs and checks the store's URLs, and during a rotation the key it
/// replaces, which still checks (never signs) the URLs it signed. Its `Debug` hides it.
#[derive(Clone)]
pub struct SigningKey {
    mac: Hmac<Sha256>,
    /// Boxed: it is there only during a rotation.
    previous: Option<Box<Hmac<Sha256>>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// A signing key could not be made, read or stored.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// A configured secret is too short to sign with.
    #[error("storage signing secret must be at least {min} bytes long, got {len}")]
    TooShort {
        /// The secret's length in bytes.
        len: usize,
        /// The least accepted.
        min: usize,
    },
    /// The key file could not be read or written.
    #[error("storage signing key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The key file exists but does not hold a key.
    #[error(
        "storage signing key file {path} does not hold the base64url form of at least 32 bytes"
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// What the key file's reader found.
enum KeyFile {
    Missing,
    Key(SigningKey),
    Malformed,
}

impl SigningKey {
    /// The least number of secret bytes accepted.
    pub const MIN_BYTES: usize = 32;

    /// Bytes generated for a new key.
    const GENERATED_BYTES: usize = 32;

    /// A key from secret bytes; any length is a valid HMAC key, the callers check the
    /// minimum.
    fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(bytes)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length")),
            previous: None,
        }
    }

    /// Also accepts URLs `previous` signed (`RELEASY_STORAGE_SIGNING_SECRET_PREVIOUS`):
    /// links handed out before a rotation keep working until they expire, while every
    /// new URL is signed with this key.
    #[must_use]
    pub fn with_previous(mut self, previous: SigningKey) -> Self {
        self.previous = Some(Box::new(previous.mac));
        self
    }

    /// Whether `tag` is the MAC of `fields` under this key or the previous one. Both are
    /// always computed and compared in constant time, so the timing shows neither the
    /// tag nor which key made it.
    fn accepts(&self, fields: &[&[u8]], tag: &[u8]) -> bool {
        let current = mac_of(&self.mac, fields).verify_slice(tag).is_ok();
        let previous = self
            .previous
            .as_ref()
            .is_some_and(|previous| mac_of(previous, fields).verify_slice(tag).is_ok());
        current | previous
    }

    /// A new random key that lives only as long as the process: URLs it signed die with
    /// it, and other instances cannot check them. For tests and single-process setups.
    ///
    /// # Errors
    /// [`SigningKeyError::Random`] when the OS random number generator fails.
    pub fn generate() -> Result<Self, SigningKeyError> {
        Ok(Self::from_bytes(&random_bytes()?))
    }

    /// A key from a configured secret, used as is (its UTF-8 bytes). Every instance
    /// configured with the same secret signs alike.
    ///
    /// # Errors
    /// [`SigningKeyError::TooShort`] when the secret has fewer than
    /// [`Self::MIN_BYTES`] bytes.
    pub fn from_secret(secret: String) -> Result<Self, SigningKeyError> {
        if secret.len() < Self::MIN_BYTES {
            return Err(SigningKeyError::TooShort {
                len: secret.len(),
                min: Self::MIN_BYTES,
            });
        }
        Ok(Self::from_bytes(secret.as_bytes()))
    }

    /// The key kept in the file at `path`, generated on first use: 32 random bytes,
    /// stored as unpadded base64url text in a file only its owner can read (mode 0600).
    /// Instances sharing the file share the key. When several start at once, exactly one
    /// creates the file and the others read it. This does blocking file I/O; call it at
    /// startup.
    ///
    /// # Errors
    /// [`SigningKeyError`] when the file cannot be read or created, holds something
    /// other than a key, or no randomness is available.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<Self, SigningKeyError> {
        let path = path.as_ref();
        let io_error = |source| SigningKeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match read_key_file(path).map_err(io_error)? {
            KeyFile::Key(key) => return Ok(key),
            KeyFile::Malformed => {
                return Err(SigningKeyError::Malformed {
                    path: path.to_path_buf(),
                });
            }
            KeyFile::Missing => {}
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_error)?;
        }
        let bytes = random_bytes()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                let text = format!("{}\n", URL_SAFE_NO_PAD.encode(bytes));
                let written = file
                    .write_all(text.as_bytes())
                    .and_then(|()| file.sync_all());
                if let Err(source) = written {
                    drop(file);
                    // Leave no half-written key behind for the next start to trip on.
                    let _ = std::fs::remove_file(path);
                    return Err(io_error(source));
                }
                Ok(Self::from_bytes(&bytes))
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => wait_for_key_file(path),
            Err(source) => Err(io_error(source)),
        }
    }

    /// The signature of `access` to `key` until `expires`.
    pub(crate) fn sign(&self, access: Access, key: &str, expires: i64) -> String {
        let expires = expires.to_string();
        let fields = signature_fields(access, key, &expires);
        URL_SAFE_NO_PAD.encode(mac_of(&self.mac, &fields).finalize().into_bytes())
    }

    /// Whether `signature` grants `access` to `key` until `expires` (constant time).
    pub(crate) fn verify(&self, access: Access, key: &str, expires: i64, signature: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let expires = expires.to_string();
        self.accepts(&signature_fields(access, key, &expires), &tag)
    }

    /// The signature of a `PUT` into `key` until `expires` of at most `size` bytes.
    pub(crate) fn sign_sized_put(&self, key: &str, size: u64, expires: i64) -> String {
        let (expires, size) = (expires.to_string(), size.to_string());
        let fields = sized_put_fields(key, &size, &expires);
        URL_SAFE_NO_PAD.encode(mac_of(&self.mac, &fields).finalize().into_bytes())
    }

    /// Whether `signature` grants that sized `PUT` (constant time).
    pub(crate) fn verify_sized_put(
        &self,
        key: &str,
        size: u64,
        expires: i64,
        signature: &str,
    ) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let (expires, size) = (expires.to_string(), size.to_string());
        self.accepts(&sized_put_fields(key, &size, &expires), &tag)
    }

    /// The signature of a `PUT` of part `part` of `upload` into `key` until `expires`.
    pub(crate) fn sign_part(&self, key: &str, upload: &str, part: u32, expires: i64) -> String {
        let (expires, part) = (expires.to_string(), part.to_string());
        let fields = part_fields(key, upload, &part, &expires);
        URL_SAFE_NO_PAD.encode(mac_of(&self.mac, &fields).finalize().into_bytes())
    }

    /// Whether `signature` grants that part's `PUT` (constant time).
    pub(crate) fn verify_part(
        &self,
        key: &str,
        upload: &str,
        part: u32,
        expires: i64,
        signature: &str,
    ) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let (expires, part) = (expires.to_string(), part.to_string());
        self.accepts(&part_fields(key, upload, &part, &expires), &tag)
    }
}

/// What a URL's signature covers: `"{METHOD}\n{key}\n{expires}"`.
fn signature_fields<'a>(access: Access, key: &'a str, expires: &'a str) -> [&'a [u8]; 3] {
    [
        access.method().as_bytes(),
        key.as_bytes(),
        expires.as_bytes(),
    ]
}

/// What a part's upload URL covers: `"PUT-PART\n{key}\n{expires}\n{upload}\n{part}"`,
/// never equal to a whole object's (`PUT-PART` is not a method a URL is signed for).
fn part_fields<'a>(
    key: &'a str,
    upload: &'a str,
    part: &'a str,
    expires: &'a str,
) -> [&'a [u8]; 5] {
    [
        b"PUT-PART",
        key.as_bytes(),
        expires.as_bytes(),
        upload.as_bytes(),
        part.as_bytes(),
    ]
}

/// What a sized upload URL covers: `"PUT-SIZED\n{key}\n{expires}\n{size}"`, never
/// equal to an unsized one's (`PUT-SIZED` is not a method a URL is signed for), so the
/// size cannot be taken off the URL.
fn sized_put_fields<'a>(key: &'a str, size: &'a str, expires: &'a str) -> [&'a [u8]; 4] {
    [
        b"PUT-SIZED",
        key.as_bytes(),
        expires.as_bytes(),
        size.as_bytes(),
    ]
}

/// The MAC under `key` over `fields`, each followed by a newline but the last.
fn mac_of(key: &Hmac<Sha256>, fields: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = key.clone();
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            mac.update(b"\n");
        }
        mac.update(field);
    }
    mac
}

fn random_bytes() -> Result<[u8; SigningKey::GENERATED_BYTES], SigningKeyError> {
    let mut bytes = [0u8; SigningKey::GENERATED_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| SigningKeyError::Random(e.to_string()))?;
    Ok(bytes)
}

fn read_key_file(path: &Path) -> std::io::Result<KeyFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(KeyFile::Missing),
        Err(err) => return Err(err),
    };
    Ok(match URL_SAFE_NO_PAD.decode(text.trim()) {
        Ok(bytes) if bytes.len() >= SigningKey::MIN_BYTES => {
            KeyFile::Key(SigningKey::from_bytes(&bytes))
        }
        _ => KeyFile::Malformed,
    })
}

/// Another instance created the key file a moment ago: read it once it is complete.
fn wait_for_key_file(path: &Path) -> Result<SigningKey, SigningKeyError> {
    for _ in 0..50 {
        match read_key_file(path) {
            Ok(KeyFile::Key(key)) => return Ok(key),
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
            Err(source) => {
                return Err(SigningKeyError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    Err(SigningKeyError::Malformed {
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_secret("0123456789abcdef0123456789abcdef".to_owned()).unwrap()
    }

    #[test]
    fn after_a_rotation_urls_the_previous_key_signed_still_verify_and_new_ones_use_the_new_key() {
        let old = key();
        let new = SigningKey::from_secret("fedcba9876543210fedcba9876543210".to_owned()).unwrap();
        let issued = old.sign(Access::Get, "releases/a/f.tgz", 2000);
        let issued_part = old.sign_part("releases/a/f.tgz", "up1", 3, 2000);
        assert!(!new.verify(Access::Get, "releases/a/f.tgz", 2000, &issued));
        let rotated = new.clone().with_previous(old);
        assert!(rotated.verify(Access::Get, "releases/a/f.tgz", 2000, &issued));
        assert!(rotated.verify_part("releases/a/f.tgz", "up1", 3, 2000, &issued_part));
        // What the old key signed grants only what it granted.
        assert!(!rotated.verify(Access::Put, "releases/a/f.tgz", 2000, &issued));
        assert!(!rotated.verify(Access::Get, "releases/a/f.tgz", 2001, &issued));
        // New URLs are the new key's.
        let fresh = rotated.sign(Access::Get, "releases/a/f.tgz", 2000);
        assert!(new.verify(Access::Get, "releases/a/f.tgz", 2000, &fresh));
        assert_ne!(fresh, issued);
    }

    #[test]
    fn a_signature_covers_method_key_and_expiry() {
        let key = key();
        let sig = key.sign(Access::Put, "releases/a", 100);
        assert_eq!(sig.len(), 43);
        assert!(key.verify(Access::Put, "releases/a", 100, &sig));
        assert!(!key.verify(Access::Get, "releases/a", 100, &sig));
        assert!(!key.verify(Access::Put, "releases/b", 100, &sig));
        assert!(!key.verify(Access::Put, "releases/a", 101, &sig));
        assert!(!key.verify(Access::Put, "releases/a", 100, "not base64!"));
        assert!(!key.verify(Access::Put, "releases/a", 100, ""));
    }

    #[test]
    fn a_sized_upload_signature_covers_its_size_and_survives_a_rotation() {
        let old = key();
        let sig = old.sign_sized_put("releases/a", 1000, 100);
        assert!(old.verify_sized_put("releases/a", 1000, 100, &sig));
        assert!(!old.verify_sized_put("releases/a", 1001, 100, &sig));
        assert!(!old.verify_sized_put("releases/b", 1000, 100, &sig));
        // The size cannot be taken off: the same signature is no plain upload's.
        assert!(!old.verify(Access::Put, "releases/a", 100, &sig));
        assert_ne!(sig, old.sign(Access::Put, "releases/a", 100));
        let new = SigningKey::from_secret("fedcba9876543210fedcba9876543210".to_owned())
            .unwrap()
            .with_previous(old.clone());
        assert!(new.verify_sized_put("releases/a", 1000, 100, &sig));
    }

    #[test]
    fn the_signature_is_the_documented_hmac() {
        let secret = "0123456789abcdef0123456789abcdef";
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(b"GET\nreleases/a/b\n1700000000");
        let expected = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        assert_eq!(
            key().sign(Access::Get, "releases/a/b", 1_700_000_000),
            expected
        );
    }

    #[test]
    fn different_keys_sign_differently() {
        let other = SigningKey::generate().unwrap();
        let sig = key().sign(Access::Get, "k", 1);
        assert!(!other.verify(Access::Get, "k", 1, &sig));
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_key() {
        assert!(matches!(
            SigningKey::from_secret("short".to_owned()),
            Err(SigningKeyError::TooShort { len: 5, min: 32 })
        ));
        assert_eq!(format!("{:?}", key()), "SigningKey(<redacted>)");
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("storage-signing-key");
        let first = SigningKey::load_or_generate(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(text.trim()).unwrap().len(), 32);
        let second = SigningKey::load_or_generate(&path).unwrap();
        let sig = first.sign(Access::Get, "releases/x", 5);
        assert!(second.verify(Access::Get, "releases/x", 5, &sig));
    }

    #[test]
    fn a_malformed_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "too-short\n").unwrap();
        assert!(matches!(
            SigningKey::load_or_generate(&path),
            Err(SigningKeyError::Malformed { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "too-short\n");
    }
}
