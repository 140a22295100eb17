//! The download token, its secret and its lifetime rule.

use crate::api_key::AllowedNetworks;
use crate::{ApiKeyId, ArtifactId, CustomerId, DownloadTokenId, Timestamp, ValidationError};

/// A raw download token (`releasy_dl_...`). Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadTokenSecret(String);

impl DownloadTokenSecret {
    /// The prefix of every token.
    pub const PREFIX: &'static str = "releasy_dl_";

    /// Wraps a token (generated, or taken from a download URL).
    pub fn new(raw: String) -> Self {
        Self(raw)
    }

    /// The token itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DownloadTokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DownloadTokenSecret(<redacted>)")
    }
}

/// A requested token lifetime: 1 second up to the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTtl(i64);

impl TokenTtl {
    /// Checks a requested lifetime; `None` gives the maximum.
    ///
    /// # Errors
    /// [`ValidationError`] on `expires_in_seconds` outside `1..=max_seconds`.
    pub fn parse(requested: Option<i64>, max_seconds: i64) -> Result<Self, ValidationError> {
        match requested {
            None => Ok(Self(max_seconds)),
            Some(s) if (1..=max_seconds).contains(&s) => Ok(Self(s)),
            Some(_) => Err(ValidationError::new(
                "expires_in_seconds",
                format!("must be between 1 and {max_seconds}"),
            )),
        }
    }

    /// Seconds.
    pub const fn seconds(self) -> i64 {
        self.0
    }
}

/// How many times a token may be resolved: 1 (a single-use link) to [`Self::MAX`].
/// Without it a token resolves as often as its lifetime allows.
///
/// ```
/// use releasy_domain::download::MaxUses;
///
/// assert_eq!(MaxUses::parse(None).unwrap(), None);
/// assert_eq!(MaxUses::parse(Some(1)).unwrap().map(MaxUses::get), Some(1));
/// assert!(MaxUses::parse(Some(0)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxUses(u32);

impl MaxUses {
    /// The largest limit: more than any lifetime's worth of real downloads.
    pub const MAX: u32 = 1_000_000;

    /// Checks a requested limit; `None` (not asked for) is no limit.
    ///
    /// # Errors
    /// [`ValidationError`] on `max_uses` outside `1..=MAX`.
    pub fn parse(requested: Option<i64>) -> Result<Option<Self>, ValidationError> {
        requested
            .map(|uses| {
                u32::try_from(uses)
                    .ok()
                    .filter(|uses| (1..=Self::MAX).contains(uses))
                    .map(Self)
                    .ok_or_else(|| {
                        ValidationError::new(
                            "max_uses",
                            format!("must be between 1 and {}", Self::MAX),
                        )
                    })
            })
            .transpose()
    }

    /// A limit read back from storage.
    ///
    /// # Errors
    /// [`ValidationError`] when the stored value is out of range.
    pub fn from_stored(stored: i32) -> Result<Self, ValidationError> {
        Self::parse(Some(i64::from(stored)))?
            .ok_or_else(|| ValidationError::new("max_uses", "missing"))
    }

    /// The number of resolves allowed.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The stored form: [`Self::MAX`] fits a 32-bit `INTEGER` column, so the cast is
    /// exact.
    pub const fn to_stored(self) -> i32 {
        self.0 as i32
    }
}

/// A stored download token (its hash, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadToken {
    /// Its id.
    pub id: DownloadTokenId,
    /// The hash the token is found by.
    pub token_hash: String,
    /// The artifact it downloads.
    pub artifact_id: ArtifactId,
    /// The customer it was issued to.
    pub customer_id: CustomerId,
    /// The key that asked for it (`None` for tokens issued before keys were recorded).
    pub api_key_id: Option<ApiKeyId>,
    /// Why it was issued, as the caller said.
    pub purpose: Option<String>,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Where it may be resolved from: the rule of the key that asked for it, as it was
    /// then; `None`: anywhere.
    pub allowed_networks: Option<AllowedNetworks>,
    /// How many times it may be resolved; `None`: as often as its lifetime allows.
    pub max_uses: Option<MaxUses>,
}

impl DownloadToken {
    /// Whether the token has expired at `now` (it works strictly before `expires_at`).
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_defaults_to_the_maximum_and_is_bounded() {
        assert_eq!(TokenTtl::parse(None, 600).unwrap().seconds(), 600);
        assert_eq!(TokenTtl::parse(Some(1), 600).unwrap().seconds(), 1);
        assert!(TokenTtl::parse(Some(0), 600).is_err());
        assert!(TokenTtl::parse(Some(601), 600).is_err());
    }

    #[test]
    fn max_uses_is_bounded_and_optional() {
        assert_eq!(MaxUses::parse(None).unwrap(), None);
        assert_eq!(MaxUses::parse(Some(1)).unwrap(), Some(MaxUses(1)));
        assert_eq!(
            MaxUses::parse(Some(1_000_000)).unwrap(),
            Some(MaxUses(1_000_000))
        );
        for bad in [0, -1, 1_000_001, i64::MAX] {
            assert_eq!(MaxUses::parse(Some(bad)).unwrap_err().field, "max_uses");
        }
        assert_eq!(MaxUses::from_stored(3).unwrap(), MaxUses(3));
        assert!(MaxUses::from_stored(0).is_err());
    }

    #[test]
    fn debug_hides_the_token() {
        assert!(!format!("{:?}", DownloadTokenSecret::new("releasy_dl_x".into())).contains("_x"));
    }
}
