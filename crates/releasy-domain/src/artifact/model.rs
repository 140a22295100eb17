//! The artifact record and its checked values.

use crate::artifact::ObjectKey;
use crate::text::bounded_text_type;
use crate::{ArtifactId, ReleaseId, Timestamp, ValidationError};

bounded_text_type!(
    /// A target platform such as `linux-x86_64`: trimmed, 1 to 64 characters.
    Platform,
    field = "platform",
    max = 64
);

bounded_text_type!(
    /// An uploaded file's name: trimmed, 1 to 255 characters.
    Filename,
    field = "filename",
    max = 255
);

/// A SHA-256 digest as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum(String);

impl Checksum {
    /// Checks a digest; upper-case hex is accepted and stored lower-case.
    ///
    /// # Errors
    /// [`ValidationError`] on `checksum` unless it is 64 hex characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(ValidationError::new(
                "checksum",
                "must be 64 hex characters (sha256)",
            ))
        }
    }

    /// The SHA-256 of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Self::from_digest(&sha2::Sha256::digest(bytes).into())
    }

    /// A computed SHA-256 digest (what an object store gets from its hasher).
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        Self(hex::encode(digest))
    }

    /// The digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digest, without copying it.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// An artifact's size in bytes: more than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArtifactSize(u64);

impl ArtifactSize {
    /// Checks a size.
    ///
    /// # Errors
    /// [`ValidationError`] on `size` unless it is greater than zero.
    pub fn parse(raw: i64) -> Result<Self, ValidationError> {
        if raw > 0 {
            Ok(Self(raw as u64))
        } else {
            Err(ValidationError::new("size", "must be greater than 0"))
        }
    }

    /// Bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

/// A registered artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Its id, chosen at presign time.
    pub id: ArtifactId,
    /// The release it belongs to.
    pub release_id: ReleaseId,
    /// Where its bytes are stored.
    pub object_key: ObjectKey,
    /// Its SHA-256.
    pub checksum: Checksum,
    /// Its size.
    pub size: ArtifactSize,
    /// Its platform.
    pub platform: Platform,
    /// When it was registered.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_accepts_sha256_hex_only() {
        let upper = "AB".repeat(32);
        assert_eq!(Checksum::parse(&upper).unwrap().as_str(), "ab".repeat(32));
        assert!(Checksum::parse("abc").is_err());
        assert!(Checksum::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn checksum_of_bytes_is_their_sha256() {
        assert_eq!(
            Checksum::of_bytes(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn size_must_be_positive() {
        assert!(ArtifactSize::parse(0).is_err());
        assert_eq!(ArtifactSize::parse(10).unwrap().bytes(), 10);
    }
}
