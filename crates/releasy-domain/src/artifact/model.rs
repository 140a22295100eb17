//! The artifact record and its checked values.

use crate::artifact::{ArtifactTarget, ObjectKey, Verification};
use crate::ports::ObjectMeta;
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

/// A SHA-256 digest as 64 lowercase hex characters, kept inline: listings copy it
/// with every artifact they serve, and a copy allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum([u8; 64]);

impl Checksum {
    /// Checks a digest; upper-case hex is accepted and stored lower-case.
    ///
    /// # Errors
    /// [`ValidationError`] on `checksum` unless it is 64 hex characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let hex: Option<[u8; 64]> = raw.as_bytes().try_into().ok();
        match hex.filter(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
            Some(hex) => Ok(Self(hex.map(|b| b.to_ascii_lowercase()))),
            None => Err(ValidationError::new(
                "checksum",
                "must be 64 hex characters (sha256)",
            )),
        }
    }

    /// The SHA-256 of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Self::from_digest(&sha2::Sha256::digest(bytes).into())
    }

    /// A computed SHA-256 digest (what an object store gets from its hasher).
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        let mut hex = [0; 64];
        // Lower-case hex; it fails only when the output is not twice the input, and 64
        // is twice 32.
        let _ = hex::encode_to_slice(digest, &mut hex);
        Self(hex)
    }

    /// The digest in base64, as S3's `x-amz-checksum-sha256` header carries it.
    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        // Always 64 hex characters, so always 32 bytes.
        let bytes = hex::decode(self.as_str()).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Reads a digest in base64 (S3's `x-amz-checksum-sha256`); `None` unless it is 32
    /// bytes (a checksum of parts, `<base64>-<n>`, is not the object's SHA-256).
    pub fn from_base64(raw: &str) -> Option<Self> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
        let digest: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::from_digest(&digest))
    }

    /// The digest.
    pub fn as_str(&self) -> &str {
        // Only ever hex digits, so always UTF-8; the fallback is never taken.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The digest, as an owned string.
    pub fn into_string(self) -> String {
        self.as_str().to_owned()
    }
}

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Checksum").field(&self.as_str()).finish()
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
    /// Its os, arch and file type, as given at registration or derived.
    pub target: ArtifactTarget,
    /// When it was registered.
    pub created_at: Timestamp,
    /// Whether its stored bytes were checked against `size` and `checksum`.
    pub verification: Verification,
    /// The entity tag the store gave the object at registration, where it gives one
    /// (S3): a download finds the object unchanged only under this tag.
    pub object_etag: Option<String>,
    /// The object's version at registration, where the store keeps versions: downloads
    /// are served from this version, whatever was stored under the key since.
    pub object_version: Option<String>,
}

impl Artifact {
    /// Whether `object` is the object registered: the same version where one was
    /// recorded, else the same entity tag where one was recorded (a store that gives
    /// neither, the embedded one, never replaces a stored object).
    pub fn is_registered_object(&self, object: &ObjectMeta) -> bool {
        match (&self.object_version, &self.object_etag) {
            (Some(version), _) => object.version_id.as_ref() == Some(version),
            (None, Some(etag)) => object.etag.as_ref() == Some(etag),
            (None, None) => true,
        }
    }
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
    fn checksum_travels_as_s3s_base64() {
        let abc = Checksum::of_bytes(b"abc");
        assert_eq!(
            abc.to_base64(),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(Checksum::from_base64(&abc.to_base64()), Some(abc));
        assert_eq!(
            Checksum::from_base64("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=-3"),
            None
        );
        assert_eq!(Checksum::from_base64("AAAA"), None, "not 32 bytes");
    }

    #[test]
    fn size_must_be_positive() {
        assert!(ArtifactSize::parse(0).is_err());
        assert_eq!(ArtifactSize::parse(10).unwrap().bytes(), 10);
    }
}
