//! The raw key a customer holds, the index value that finds its row, and the hash stored
//! in place of the key.

use sha2::{Digest, Sha256};

/// A raw customer API key as presented or just generated. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// The prefix of every key this server issues.
    pub const PREFIX: &'static str = "releasy_";
    /// The longest header value considered a key at all.
    pub const MAX_LEN: usize = 512;

    /// Wraps a presented key. Any non-empty value up to [`Self::MAX_LEN`] bytes is taken,
    /// so keys issued by older servers in other shapes can still be found by their hash.
    pub fn from_presented(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (!raw.is_empty() && raw.len() <= Self::MAX_LEN).then(|| Self(raw.to_owned()))
    }

    /// Wraps a freshly generated key.
    pub fn from_generated(raw: String) -> Self {
        Self(raw)
    }

    /// The key itself, to show once to its holder or to hash.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The index value that finds this key's row without revealing the key.
    pub fn lookup(&self) -> KeyLookup {
        let digest = Sha256::digest(self.0.as_bytes());
        KeyLookup(hex::encode(&digest[..8]))
    }
}

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeySecret(<redacted>)")
    }
}

/// 16 hex characters (64 bits of SHA-256) of a key: enough to find its row through an
/// index, far too little to stand in for the Argon2id hash that then verifies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyLookup(String);

impl KeyLookup {
    /// Wraps a stored lookup value.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a key is stored: an Argon2id PHC string, or the legacy unsalted SHA-256 hex
/// digest of older servers (re-hashed to Argon2id on its first successful use).
#[derive(Clone, PartialEq, Eq)]
pub enum StoredKeyHash {
    /// `$argon2id$v=19$m=...,t=...,p=...$salt$hash`.
    Argon2id(String),
    /// 64 lowercase hex characters.
    LegacySha256(String),
}

impl StoredKeyHash {
    /// Reads a stored hash, telling the two formats apart by shape.
    pub fn from_stored(value: String) -> Self {
        if value.starts_with("$argon2") {
            Self::Argon2id(value)
        } else {
            Self::LegacySha256(value)
        }
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Argon2id(v) | Self::LegacySha256(v) => v,
        }
    }

    /// Whether this is the legacy format, to be upgraded.
    pub fn is_legacy(&self) -> bool {
        matches!(self, Self::LegacySha256(_))
    }
}

impl std::fmt::Debug for StoredKeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_legacy() {
            "LegacySha256"
        } else {
            "Argon2id"
        };
        write!(f, "StoredKeyHash::{kind}(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let secret = ApiKeySecret::from_generated("releasy_topsecret".into());
        assert!(!format!("{secret:?}").contains("topsecret"));
    }

    #[test]
    fn lookup_is_stable_and_short() {
        let a = ApiKeySecret::from_presented("releasy_abc").unwrap();
        assert_eq!(a.lookup(), a.clone().lookup());
        assert_eq!(a.lookup().as_str().len(), 16);
        assert_ne!(
            a.lookup(),
            ApiKeySecret::from_presented("releasy_abd")
                .unwrap()
                .lookup()
        );
    }

    #[test]
    fn empty_or_huge_presented_values_are_not_keys() {
        assert!(ApiKeySecret::from_presented("  ").is_none());
        assert!(ApiKeySecret::from_presented(&"x".repeat(513)).is_none());
    }

    #[test]
    fn stored_hash_format_is_told_by_shape() {
        assert!(!StoredKeyHash::from_stored("$argon2id$v=19$x".into()).is_legacy());
        assert!(StoredKeyHash::from_stored("ab".repeat(32)).is_legacy());
    }
}
