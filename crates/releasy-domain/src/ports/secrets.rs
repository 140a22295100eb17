//! Randomness and key hashing: the two things about secrets the domain cannot do itself.

use async_trait::async_trait;

use crate::api_key::{ApiKeySecret, StoredKeyHash};
use crate::download::DownloadTokenSecret;
use crate::ports::HashError;

/// Makes new secrets from a cryptographically secure source.
///
/// ```
/// use releasy_domain::memory::RandomSecrets;
/// use releasy_domain::ports::SecretGenerator;
///
/// let secrets = RandomSecrets;
/// assert_ne!(secrets.new_api_key().expose(), secrets.new_api_key().expose());
/// ```
pub trait SecretGenerator: Send + Sync + std::fmt::Debug {
    /// A new customer API key: `releasy_` and the base64url form of 32 random bytes.
    fn new_api_key(&self) -> ApiKeySecret;
    /// A new download token: `releasy_dl_` and the base64url form of 32 random bytes.
    fn new_download_token(&self) -> DownloadTokenSecret;
}

/// Hashes and verifies customer API keys.
///
/// Implementations must keep slow hashing (Argon2id costs tens of milliseconds of CPU)
/// off the async executor's threads, and may remember keys they verified recently so a
/// repeated request skips the slow hash. Whether a key is revoked, expired or owned by a
/// suspended customer is never decided here: that comes from the repository on every
/// request.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::memory::{InsecureTestHasher, RandomSecrets};
/// use releasy_domain::ports::{KeyHasher, SecretGenerator};
///
/// let hasher = InsecureTestHasher::default(); // Argon2id in production (releasy-crypto)
/// let secret = RandomSecrets.new_api_key();
/// let stored = hasher.hash(&secret).await.unwrap();
/// assert!(hasher.verify(&secret, &stored).await.unwrap());
/// assert!(!hasher.verify(&RandomSecrets.new_api_key(), &stored).await.unwrap());
/// # }
/// ```
#[async_trait]
pub trait KeyHasher: Send + Sync + std::fmt::Debug {
    /// The Argon2id hash (PHC string, fresh salt, pepper mixed in) to store for a new key.
    ///
    /// # Errors
    /// [`HashError`] when hashing could not run.
    async fn hash(&self, secret: &ApiKeySecret) -> Result<StoredKeyHash, HashError>;

    /// Whether `secret` matches `stored` (Argon2id or the legacy unsalted SHA-256).
    ///
    /// # Errors
    /// [`HashError`] when verification could not run; a mismatch is `Ok(false)`.
    async fn verify(
        &self,
        secret: &ApiKeySecret,
        stored: &StoredKeyHash,
    ) -> Result<bool, HashError>;

    /// Lowercase hex SHA-256 of `secret` followed by the pepper: how download tokens
    /// are stored (they are short-lived and random, so a fast hash suffices), and how
    /// API keys were stored before Argon2id (to find such legacy keys).
    fn peppered_sha256(&self, secret: &[u8]) -> String;

    /// The same hasher under the previous pepper, while a pepper rotation is in its
    /// grace period (`RELEASY_API_KEY_PEPPER_PREVIOUS`); `None` otherwise.
    ///
    /// A key that only matches under it is accepted and stored again under the
    /// current pepper; a download token stored under it resolves until it expires.
    /// It is only asked when the current pepper matched nothing, so the grace costs
    /// nothing on the paths that succeed.
    fn under_previous_pepper(&self) -> Option<&dyn KeyHasher> {
        None
    }
}
