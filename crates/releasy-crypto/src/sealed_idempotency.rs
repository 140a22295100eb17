//! [`SealedIdempotency`]: idempotency records kept so that the database holds neither
//! the client's `Idempotency-Key` nor a readable response.
//!
//! A stored response is replayed verbatim, and some carry a secret: a rotated API key's
//! successor (`POST /v1/admin/keys/{id}/rotate`), a download link with its token
//! (`POST /v1/downloads/token`).
//! Kept as sent, anyone who can read the database (a backup, a replica, a debug log of
//! its queries) could use them for as long as the record lives (24 h). So this
//! decorator, in front of any [`IdempotencyRepository`]:
//!
//! - stores, in place of the key, `hex(HMAC-SHA256(secret, "id" ‖ scope ‖ key))`;
//! - stores each response body sealed with ChaCha20-Poly1305 under
//!   `HMAC-SHA256(secret, "seal" ‖ scope ‖ key)`, a random nonce, and the scope as
//!   associated data: `sealed-v1:` and the base64url of nonce and ciphertext.
//!
//! The client presents the key again on a retry, and only then can the response be
//! opened. `secret` is the pepper (`RELEASY_API_KEY_PEPPER`) when one is configured,
//! so a database reader cannot even try guessable keys; without it a fixed label is
//! used, and keys as random as the usual UUIDs are what protects the responses.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use releasy_domain::Timestamp;
use releasy_domain::idempotency::{
    IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse,
};
use releasy_domain::ports::{Claim, IdempotencyRepository, RepoError};
use sha2::Sha256;

/// What a sealed body starts with.
const SEALED_PREFIX: &str = "sealed-v1:";
/// The HMAC key when no pepper is configured.
const UNPEPPERED: &[u8] = b"releasy idempotency v1";
const NONCE_BYTES: usize = 12;

/// A stored response that cannot be opened with the key presented: altered in the
/// database, or not written by this decorator.
#[derive(Debug, thiserror::Error)]
#[error("a stored idempotent response could not be opened: {0}")]
pub struct UnsealError(&'static str);

/// The decorator (see the module documentation). Its `Debug` hides the secret.
#[derive(Clone)]
pub struct SealedIdempotency {
    inner: Arc<dyn IdempotencyRepository>,
    secret: Hmac<Sha256>,
}

impl std::fmt::Debug for SealedIdempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedIdempotency")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl SealedIdempotency {
    /// Seals what `inner` stores, keyed with `pepper` when there is one.
    pub fn new(inner: Arc<dyn IdempotencyRepository>, pepper: Option<&[u8]>) -> Self {
        let secret = <Hmac<Sha256> as Mac>::new_from_slice(pepper.unwrap_or(UNPEPPERED))
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        Self { inner, secret }
    }

    fn derive(&self, purpose: &[u8], scope: &str, key: &IdempotencyKey) -> [u8; 32] {
        let mut mac = self.secret.clone();
        // Length-prefixed, so no two (scope, key) pairs share an input.
        for part in [purpose, scope.as_bytes(), key.as_str().as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The record as stored: the key replaced by its digest, a response sealed.
    fn stored(&self, record: &IdempotencyRecord) -> Result<IdempotencyRecord, RepoError> {
        let digest = hex::encode(self.derive(b"id", &record.scope, &record.key));
        let key = IdempotencyKey::parse(&digest)
            .unwrap_or_else(|_| unreachable!("64 hex digits are a valid key"));
        let state = match &record.state {
            IdempotencyState::InProgress => IdempotencyState::InProgress,
            IdempotencyState::Completed(response) => {
                IdempotencyState::Completed(self.seal(&record.scope, &record.key, response)?)
            }
        };
        Ok(IdempotencyRecord {
            key,
            state,
            ..record.clone()
        })
    }

    /// `stored` as the caller knows it: under `key`, its response opened.
    fn opened(
        &self,
        stored: IdempotencyRecord,
        key: &IdempotencyKey,
    ) -> Result<IdempotencyRecord, RepoError> {
        let state = match stored.state {
            IdempotencyState::InProgress => IdempotencyState::InProgress,
            IdempotencyState::Completed(sealed) => {
                IdempotencyState::Completed(self.open(&stored.scope, key, sealed)?)
            }
        };
        Ok(IdempotencyRecord {
            key: key.clone(),
            state,
            ..stored
        })
    }

    fn cipher(&self, scope: &str, key: &IdempotencyKey) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.derive(b"seal", scope, key)))
    }

    fn seal(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<StoredResponse, RepoError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| RepoError::internal(e.to_string()))?;
        let sealed = self
            .cipher(scope, key)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: response.body.as_bytes(),
                    aad: scope.as_bytes(),
                },
            )
            .map_err(|_| RepoError::internal(UnsealError("sealing failed")))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(StoredResponse {
            status: response.status,
            body: format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)),
        })
    }

    fn open(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        sealed: StoredResponse,
    ) -> Result<StoredResponse, RepoError> {
        let bad = |why| RepoError::internal(UnsealError(why));
        let encoded = sealed
            .body
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| bad("not sealed"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| bad("not base64url"))?;
        if bytes.len() < NONCE_BYTES {
            return Err(bad("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let body = self
            .cipher(scope, key)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: scope.as_bytes(),
                },
            )
            .map_err(|_| bad("altered, or sealed for another key"))?;
        Ok(StoredResponse {
            status: sealed.status,
            body: String::from_utf8(body).map_err(|_| bad("not UTF-8"))?,
        })
    }
}

#[async_trait]
impl IdempotencyRepository for SealedIdempotency {
    async fn claim(&self, record: &IdempotencyRecord) -> Result<Claim, RepoError> {
        match self.inner.claim(&self.stored(record)?).await? {
            Claim::Claimed => Ok(Claim::Claimed),
            Claim::Existing(existing) => Ok(Claim::Existing(self.opened(existing, &record.key)?)),
        }
    }

    async fn complete(
        &self,
        claim: &IdempotencyRecord,
        response: &StoredResponse,
    ) -> Result<(), RepoError> {
        let sealed = self.seal(&claim.scope, &claim.key, response)?;
        self.inner.complete(&self.stored(claim)?, &sealed).await
    }

    async fn purge_created_before(&self, cutoff: Timestamp) -> Result<u64, RepoError> {
        self.inner.purge_created_before(cutoff).await
    }

    async fn release(&self, claim: &IdempotencyRecord) -> Result<(), RepoError> {
        self.inner.release(&self.stored(claim)?).await
    }
}

#[cfg(test)]
mod tests {
    use releasy_domain::ports::Repositories;

    use super::*;

    const BODY: &str = r#"{"api_key":"releasy_secret-key-material"}"#;

    fn record(scope: &str, key: &str) -> IdempotencyRecord {
        IdempotencyRecord {
            scope: scope.to_owned(),
            key: IdempotencyKey::parse(key).unwrap(),
            fingerprint: "fp".to_owned(),
            state: IdempotencyState::InProgress,
            created_at: Timestamp::from_unix_seconds(100),
        }
    }

    fn response() -> StoredResponse {
        StoredResponse {
            status: 200,
            body: BODY.to_owned(),
        }
    }

    /// What the inner repository holds for `claim` under the decorator.
    async fn held(
        sealed: &SealedIdempotency,
        inner: &Arc<dyn IdempotencyRepository>,
        claim: &IdempotencyRecord,
    ) -> IdempotencyRecord {
        match inner.claim(&sealed.stored(claim).unwrap()).await.unwrap() {
            Claim::Existing(existing) => existing,
            Claim::Claimed => panic!("the record is stored"),
        }
    }

    #[tokio::test]
    async fn the_store_holds_neither_the_key_nor_the_response_and_a_retry_replays_it() {
        let inner = Repositories::in_memory().idempotency;
        let sealed = SealedIdempotency::new(inner.clone(), None);
        let claim = record("POST /v1/admin/keys admin", "retry-7f3a9c");
        assert!(matches!(
            sealed.claim(&claim).await.unwrap(),
            Claim::Claimed
        ));
        sealed.complete(&claim, &response()).await.unwrap();

        let stored = held(&sealed, &inner, &claim).await;
        assert_ne!(stored.key.as_str(), "retry-7f3a9c");
        assert_eq!(stored.key.as_str().len(), 64);
        let IdempotencyState::Completed(kept) = &stored.state else {
            panic!("completed")
        };
        assert!(kept.body.starts_with(SEALED_PREFIX), "{}", kept.body);
        assert!(!kept.body.contains("releasy_secret"), "{}", kept.body);

        let Claim::Existing(replayed) = sealed.claim(&claim).await.unwrap() else {
            panic!("the key is taken")
        };
        assert_eq!(replayed.key, claim.key);
        assert_eq!(replayed.state, IdempotencyState::Completed(response()));
    }

    #[tokio::test]
    async fn a_pepper_changes_what_is_stored_and_a_release_frees_the_key() {
        let inner = Repositories::in_memory().idempotency;
        let plain = SealedIdempotency::new(inner.clone(), None);
        let peppered = SealedIdempotency::new(inner.clone(), Some(b"pepper".as_slice()));
        let claim = record("POST /v1/downloads/token key-1", "k");
        assert_ne!(
            plain.stored(&claim).unwrap().key,
            peppered.stored(&claim).unwrap().key
        );
        assert!(matches!(
            peppered.claim(&claim).await.unwrap(),
            Claim::Claimed
        ));
        peppered.release(&claim).await.unwrap();
        assert!(matches!(
            peppered.claim(&claim).await.unwrap(),
            Claim::Claimed
        ));
    }

    #[test]
    fn a_body_sealed_for_another_scope_or_key_or_altered_does_not_open() {
        let sealed = SealedIdempotency::new(Repositories::in_memory().idempotency, None);
        let key = IdempotencyKey::parse("k1").unwrap();
        let other = IdempotencyKey::parse("k2").unwrap();
        let kept = sealed.seal("scope-a", &key, &response()).unwrap();
        assert_eq!(
            sealed.open("scope-a", &key, kept.clone()).unwrap(),
            response()
        );
        assert!(sealed.open("scope-b", &key, kept.clone()).is_err());
        assert!(sealed.open("scope-a", &other, kept.clone()).is_err());
        let mut altered = kept.clone();
        let at = altered.body.len() - 5;
        let flipped = if &altered.body[at..=at] == "A" {
            "B"
        } else {
            "A"
        };
        altered.body.replace_range(at..=at, flipped);
        assert!(sealed.open("scope-a", &key, altered).is_err());
        let plain = response();
        assert!(sealed.open("scope-a", &key, plain).is_err());
    }
}
