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

/// What a URL grants; all of it is signed, so no URL can be turned into another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant<'a> {
    /// Download (`GET`, and `HEAD`).
    Get,
    /// Upload of the whole object (`PUT`), of at most `size` bytes when it names one.
    Put {
        /// The most bytes the URL stores, when the upload declared its size.
        size: Option<u64>,
    },
    /// Upload (`PUT`) of part `part` of the upload in parts `upload`.
    Part {
        /// The upload in parts.
        upload: &'a str,
        /// The part's number.
        part: u32,
    },
}

impl Grant<'_> {
    /// Calls `with` with what a signature of this grant to `key` until `expires`
    /// covers, one field per line:
    ///
    /// - `"GET\n{key}\n{expires}"` and `"PUT\n{key}\n{expires}"`;
    /// - `"PUT-SIZED\n{key}\n{expires}\n{size}"`;
    /// - `"PUT-PART\n{key}\n{expires}\n{upload}\n{part}"`.
    ///
    /// `PUT-SIZED` and `PUT-PART` are no method a URL is signed for, so a sized
    /// upload's signature is never a plain one's (the size cannot be taken off its
    /// URL), nor a part's a whole object's. The layout is fixed: URLs an instance of
    /// an earlier version signed must verify on this one.
    fn with_fields<R>(self, key: &str, expires: i64, with: impl FnOnce(&[&[u8]]) -> R) -> R {
        let (key, expires) = (key.as_bytes(), expires.to_string());
        let expires = expires.as_bytes();
        match self {
            Self::Get => with(&[b"GET", key, expires]),
            Self::Put { size: None } => with(&[b"PUT", key, expires]),
            Self::Put { size: Some(size) } => {
                with(&[b"PUT-SIZED", key, expires, size.to_string().as_bytes()])
            }
            Self::Part { upload, part } => with(&[
                b"PUT-PART",
                key,
                expires,
                upload.as_bytes(),
                part.to_string().as_bytes(),
            ]),
        }
    }

    /// The query parameters that name this grant in a URL, each after a `&`: none, or
    /// `&size=..`, or `&uploadId=..&partNumber=..`.
    pub(crate) fn query_parameters(self) -> String {
        match self {
            Self::Get | Self::Put { size: None } => String::new(),
            Self::Put { size: Some(size) } => format!("&size={size}"),
            Self::Part { upload, part } => format!("&uploadId={upload}&partNumber={part}"),
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

    /// The signature of `grant` to `key` until `expires`.
    pub(crate) fn sign(&self, grant: Grant<'_>, key: &str, expires: i64) -> String {
        grant.with_fields(key, expires, |fields| {
            URL_SAFE_NO_PAD.encode(mac_of(&self.mac, fields).finalize().into_bytes())
        })
    }

    /// Whether `signature` grants `grant` to `key` until `expires` (constant time).
    pub(crate) fn verify(
        &self,
        grant: Grant<'_>,
        key: &str,
        expires: i64,
        signature: &str,
    ) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        grant.with_fields(key, expires, |fields| self.accepts(fields, &tag))
    }
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

    const PUT: Grant<'static> = Grant::Put { size: None };

    fn sized(size: u64) -> Grant<'static> {
        Grant::Put { size: Some(size) }
    }

    fn key() -> SigningKey {
        SigningKey::from_secret("0123456789abcdef0123456789abcdef".to_owned()).unwrap()
    }

    #[test]
    fn after_a_rotation_urls_the_previous_key_signed_still_verify_and_new_ones_use_the_new_key() {
        let old = key();
        let new = SigningKey::from_secret("fedcba9876543210fedcba9876543210".to_owned()).unwrap();
        let issued = old.sign(Grant::Get, "releases/a/f.tgz", 2000);
        let issued_part = old.sign(
            Grant::Part {
                upload: "up1",
                part: 3,
            },
            "releases/a/f.tgz",
            2000,
        );
        assert!(!new.verify(Grant::Get, "releases/a/f.tgz", 2000, &issued));
        let rotated = new.clone().with_previous(old);
        assert!(rotated.verify(Grant::Get, "releases/a/f.tgz", 2000, &issued));
        assert!(rotated.verify(
            Grant::Part {
                upload: "up1",
                part: 3
            },
            "releases/a/f.tgz",
            2000,
            &issued_part
        ));
        // What the old key signed grants only what it granted.
        assert!(!rotated.verify(PUT, "releases/a/f.tgz", 2000, &issued));
        assert!(!rotated.verify(Grant::Get, "releases/a/f.tgz", 2001, &issued));
        // New URLs are the new key's.
        let fresh = rotated.sign(Grant::Get, "releases/a/f.tgz", 2000);
        assert!(new.verify(Grant::Get, "releases/a/f.tgz", 2000, &fresh));
        assert_ne!(fresh, issued);
    }

    #[test]
    fn a_signature_covers_method_key_and_expiry() {
        let key = key();
        let sig = key.sign(PUT, "releases/a", 100);
        assert_eq!(sig.len(), 43);
        assert!(key.verify(PUT, "releases/a", 100, &sig));
        assert!(!key.verify(Grant::Get, "releases/a", 100, &sig));
        assert!(!key.verify(PUT, "releases/b", 100, &sig));
        assert!(!key.verify(PUT, "releases/a", 101, &sig));
        assert!(!key.verify(PUT, "releases/a", 100, "not base64!"));
        assert!(!key.verify(PUT, "releases/a", 100, ""));
    }

    #[test]
    fn a_sized_upload_signature_covers_its_size_and_survives_a_rotation() {
        let old = key();
        let sig = old.sign(sized(1000), "releases/a", 100);
        assert!(old.verify(sized(1000), "releases/a", 100, &sig));
        assert!(!old.verify(sized(1001), "releases/a", 100, &sig));
        assert!(!old.verify(sized(1000), "releases/b", 100, &sig));
        // The size cannot be taken off: the same signature is no plain upload's.
        assert!(!old.verify(PUT, "releases/a", 100, &sig));
        assert_ne!(sig, old.sign(PUT, "releases/a", 100));
        let new = SigningKey::from_secret("fedcba9876543210fedcba9876543210".to_owned())
            .unwrap()
            .with_previous(old.clone());
        assert!(new.verify(sized(1000), "releases/a", 100, &sig));
    }

    /// Signatures of every kind of URL, computed apart from this code (Python's
    /// `hmac` over the documented lines): an instance of another version must accept
    /// the URLs this one signs, during a rolling upgrade and after a rollback.
    #[test]
    fn every_kind_of_signature_is_the_documented_hmac() {
        let key = key();
        let object = "releases/a/f.tgz";
        let pinned = [
            (Grant::Get, "AwptNZeJZ6gk-bHwHjwiJdPiAxnzY_nenYwQEAT33ok"),
            (PUT, "NcJWtuPsqNadtssZmqnsOONtcBwcUKKMmQTrz4eyS1I"),
            (sized(1000), "pVc17Ah1fWaKQEgIvfBdRlgl0GCQLGQnr21-7RG6DOo"),
            (
                Grant::Part {
                    upload: "up1",
                    part: 3,
                },
                "7z4MqWZvEZODbY0XwuW3Z-ksQSizDGNv5SvjfO5OQvQ",
            ),
        ];
        for (grant, signature) in pinned {
            assert_eq!(key.sign(grant, object, 2000), signature, "{grant:?}");
            assert!(key.verify(grant, object, 2000, signature), "{grant:?}");
            // No kind of URL passes for another.
            for (other, _) in pinned.iter().filter(|(other, _)| *other != grant) {
                assert!(!key.verify(*other, object, 2000, signature), "{grant:?}");
            }
        }
    }

    #[test]
    fn different_keys_sign_differently() {
        let other = SigningKey::generate().unwrap();
        let sig = key().sign(Grant::Get, "k", 1);
        assert!(!other.verify(Grant::Get, "k", 1, &sig));
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
        let sig = first.sign(Grant::Get, "releases/x", 5);
        assert!(second.verify(Grant::Get, "releases/x", 5, &sig));
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
