//! The production [`SecretGenerator`]: new API keys and download tokens from the
//! operating system's random number generator.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use releasy_domain::api_key::ApiKeySecret;
use releasy_domain::download::DownloadTokenSecret;
use releasy_domain::ports::SecretGenerator;

/// Makes secrets from 32 bytes of the operating system's cryptographically secure random
/// number generator (`getrandom`), encoded as unpadded base64url (43 characters) after the
/// secret's prefix.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsSecrets;

impl OsSecrets {
    /// A new generator. It holds no state: every secret is read from the OS afresh.
    pub const fn new() -> Self {
        Self
    }
}

/// 32 bytes from the OS generator.
///
/// # Panics
/// When the OS generator fails. On every platform the server runs on that means the
/// kernel cannot provide randomness at all; issuing a secret from anything weaker would
/// be worse than failing the request, and the trait has no error to return.
#[allow(
    clippy::expect_used,
    reason = "the SecretGenerator port has no error to return, and no weaker source will do"
)]
fn random_32_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect(
        "the operating system's random number generator failed; refusing to issue a weak secret",
    );
    bytes
}

/// `prefix` followed by the base64url form of 32 random bytes.
fn random_secret(prefix: &str) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(random_32_bytes());
    format!("{prefix}{encoded}")
}

impl SecretGenerator for OsSecrets {
    /// # Panics
    /// When the OS random number generator fails (see [`OsSecrets`]).
    fn new_api_key(&self) -> ApiKeySecret {
        ApiKeySecret::from_generated(random_secret(ApiKeySecret::PREFIX))
    }

    /// # Panics
    /// When the OS random number generator fails (see [`OsSecrets`]).
    fn new_download_token(&self) -> DownloadTokenSecret {
        DownloadTokenSecret::new(random_secret(DownloadTokenSecret::PREFIX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_base64url(s: &str) -> bool {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    #[test]
    fn api_keys_have_the_prefix_and_43_random_characters() {
        let key = OsSecrets.new_api_key();
        let body = key.expose().strip_prefix("releasy_").unwrap();
        assert_eq!(body.len(), 43);
        assert!(is_base64url(body));
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
    }

    #[test]
    fn download_tokens_have_their_own_prefix() {
        let token = OsSecrets.new_download_token();
        let body = token.expose().strip_prefix("releasy_dl_").unwrap();
        assert_eq!(body.len(), 43);
        assert!(is_base64url(body));
    }

    #[test]
    fn every_secret_is_different() {
        let generator = OsSecrets::new();
        let keys: std::collections::HashSet<String> = (0..64)
            .map(|_| generator.new_api_key().expose().to_owned())
            .collect();
        assert_eq!(keys.len(), 64);
        assert_ne!(
            generator.new_download_token().expose(),
            generator.new_download_token().expose()
        );
    }
}
