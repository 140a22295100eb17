//! Secret generation and a fast stand-in for Argon2id.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::api_key::{ApiKeySecret, StoredKeyHash};
use crate::download::DownloadTokenSecret;
use crate::ports::{HashError, KeyHasher, SecretGenerator};

/// Secrets from the random bits of two version-4 UUIDs (the OS generator behind the
/// `uuid` crate); the production adapter reads the OS generator directly.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomSecrets;

fn random_32_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes
}

impl SecretGenerator for RandomSecrets {
    fn new_api_key(&self) -> ApiKeySecret {
        let encoded = URL_SAFE_NO_PAD.encode(random_32_bytes());
        ApiKeySecret::from_generated(format!("{}{encoded}", ApiKeySecret::PREFIX))
    }

    fn new_download_token(&self) -> DownloadTokenSecret {
        let encoded = URL_SAFE_NO_PAD.encode(random_32_bytes());
        DownloadTokenSecret::new(format!("{}{encoded}", DownloadTokenSecret::PREFIX))
    }
}

/// A hasher that stores salted SHA-256 in place of Argon2id: fast, and **not** for
/// production. It understands legacy SHA-256 hashes like the real one.
#[derive(Debug, Default, Clone)]
pub struct InsecureTestHasher {
    /// Mixed into every hash, like the real pepper.
    pub pepper: Vec<u8>,
    /// The hasher under the pepper before a rotation, while its grace lasts.
    pub previous: Option<Box<InsecureTestHasher>>,
}

impl InsecureTestHasher {
    const PREFIX: &'static str = "$argon2-insecure-test$";

    fn salted(&self, salt: &str, secret: &ApiKeySecret) -> String {
        let mut hasher = Sha256::new();
        hasher.update(salt.as_bytes());
        hasher.update(secret.expose().as_bytes());
        hasher.update(&self.pepper);
        format!("{}{salt}${:x}", Self::PREFIX, hasher.finalize())
    }
}

#[async_trait]
impl KeyHasher for InsecureTestHasher {
    async fn hash(&self, secret: &ApiKeySecret) -> Result<StoredKeyHash, HashError> {
        let salt = uuid::Uuid::new_v4().simple().to_string();
        Ok(StoredKeyHash::Argon2id(self.salted(&salt, secret)))
    }

    async fn verify(
        &self,
        secret: &ApiKeySecret,
        stored: &StoredKeyHash,
    ) -> Result<bool, HashError> {
        Ok(match stored {
            StoredKeyHash::LegacySha256(hex) => {
                *hex == self.peppered_sha256(secret.expose().as_bytes())
            }
            StoredKeyHash::Argon2id(phc) => phc
                .strip_prefix(Self::PREFIX)
                .and_then(|rest| rest.split_once('$'))
                .is_some_and(|(salt, _)| self.salted(salt, secret) == *phc),
        })
    }

    fn peppered_sha256(&self, secret: &[u8]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(secret);
        hasher.update(&self.pepper);
        format!("{:x}", hasher.finalize())
    }

    fn under_previous_pepper(&self) -> Option<&dyn KeyHasher> {
        self.previous
            .as_deref()
            .map(|previous| previous as &dyn KeyHasher)
    }
}
