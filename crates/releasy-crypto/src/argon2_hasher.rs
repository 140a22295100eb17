//! The production [`KeyHasher`]: Argon2id over the key and the pepper, run on the
//! blocking thread pool, with a cache of recently verified keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use hmac::digest::KeyInit;
use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac};
use releasy_domain::api_key::{ApiKeySecret, StoredKeyHash};
use releasy_domain::ports::{HashError, KeyHasher};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::verified_cache::{Tag, VerifiedCache};

/// Hashes API keys with Argon2id (the `argon2` crate's default parameters: m=19456, t=2,
/// p=1, version 19) and verifies them, also against the legacy unsalted SHA-256 format.
///
/// The hashed input is the key's bytes followed by the pepper's bytes, the salt is 16
/// bytes from the OS generator, and the result is stored as a PHC string. The legacy
/// hash is the lowercase hex SHA-256 of the same input.
///
/// Argon2 always runs on tokio's blocking thread pool, never on an executor thread, so
/// [`KeyHasher::hash`] and [`KeyHasher::verify`] must be called inside a tokio runtime.
///
/// A key that verified against a stored hash recently is remembered (as an HMAC tag
/// under a random key that lives only in this process), so repeating the request costs
/// one HMAC instead of Argon2. Only successes are remembered, for a limited time and a
/// limited number of hashes; see [`Argon2Hasher::with_cache`].
pub struct Argon2Hasher {
    /// Appended to every key before hashing. Never shown by `Debug`.
    pepper: Vec<u8>,
    /// HMAC-SHA256 keyed with 32 random bytes made at construction; cloned per tag.
    tagger: Hmac<Sha256>,
    cache: VerifiedCache,
    /// How many Argon2 verifications actually ran (cache misses).
    argon2_verifications: AtomicU64,
    /// Argon2 runs at most this many at once: each holds 19 MiB, and a burst of
    /// requests with one new key would otherwise run one each (32 connections made
    /// 600 MiB), when the first result serves them all. Shared with the hasher of the
    /// previous pepper, so a rotation does not double it.
    argon2_slots: Arc<Semaphore>,
    /// The hasher under the pepper before a rotation, while its grace lasts.
    previous: Option<Box<Argon2Hasher>>,
}

/// The operating system's random number generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomnessUnavailable(#[source] getrandom::Error);

impl Argon2Hasher {
    /// A hasher mixing `pepper` (if any) into every hash, with the default cache: a
    /// verification is remembered for 10 minutes, for up to 10 000 stored hashes.
    ///
    /// # Errors
    /// [`RandomnessUnavailable`] when the OS random number generator cannot key the
    /// cache: the kernel then has no randomness to give, and the server could not issue
    /// keys either.
    pub fn new(pepper: Option<Vec<u8>>) -> Result<Self, RandomnessUnavailable> {
        // One HMAC-SHA-256 block: the key size HMAC uses as it is.
        let mut process_key = [0u8; 64];
        getrandom::fill(&mut process_key).map_err(RandomnessUnavailable)?;
        let tagger = <Hmac<Sha256> as KeyInit>::new(GenericArray::from_slice(&process_key));
        process_key.fill(0);
        Ok(Self {
            pepper: pepper.unwrap_or_default(),
            tagger,
            cache: VerifiedCache::new(VerifiedCache::DEFAULT_TTL, VerifiedCache::DEFAULT_CAPACITY),
            argon2_verifications: AtomicU64::new(0),
            argon2_slots: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
            previous: None,
        })
    }

    /// The same hasher, also accepting what was hashed under `pepper` before a rotation
    /// (see [`KeyHasher::under_previous_pepper`]). `None` for a deployment that had none.
    ///
    /// # Errors
    /// [`RandomnessUnavailable`], as [`Self::new`].
    pub fn with_previous_pepper(
        mut self,
        pepper: Option<Vec<u8>>,
    ) -> Result<Self, RandomnessUnavailable> {
        let mut previous = Self::new(pepper)?;
        previous.argon2_slots = Arc::clone(&self.argon2_slots);
        self.previous = Some(Box::new(previous));
        Ok(self)
    }

    /// The same hasher with a verified-key cache remembering a verification for `ttl`,
    /// for up to `capacity` stored hashes. A zero `ttl` or `capacity` turns the cache
    /// off, so every verification runs Argon2.
    #[must_use]
    pub fn with_cache(mut self, ttl: Duration, capacity: usize) -> Self {
        self.cache = VerifiedCache::new(ttl, capacity);
        self
    }

    async fn argon2_slot(&self) -> Result<SemaphorePermit<'_>, HashError> {
        self.argon2_slots
            .acquire()
            .await
            .map_err(|err| HashError(Box::new(err)))
    }

    /// The hashed input: the key's bytes followed by the pepper's bytes.
    fn input(&self, secret: &[u8]) -> Vec<u8> {
        let mut input = Vec::with_capacity(secret.len() + self.pepper.len());
        input.extend_from_slice(secret);
        input.extend_from_slice(&self.pepper);
        input
    }

    /// The cache's tag for a key: HMAC-SHA256 under the process key of the hashed input.
    fn tag(&self, input: &[u8]) -> Tag {
        let mut mac = self.tagger.clone();
        mac.update(input);
        mac.finalize().into_bytes().into()
    }

    /// How many Argon2 verifications ran (those not answered by the cache).
    #[cfg(test)]
    fn argon2_verifications(&self) -> u64 {
        self.argon2_verifications.load(Ordering::Relaxed)
    }

    /// How many verifications the cache remembers.
    #[cfg(test)]
    fn cached_entries(&self) -> usize {
        self.cache.len()
    }
}

/// Argon2id of `input` with a fresh salt, as a PHC string. Blocking: tens of ms of CPU.
fn hash_blocking(input: &[u8]) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|err| HashError(format!("the OS random number generator failed: {err}").into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|err| HashError(Box::new(err)))?;
    let hash = Argon2::default()
        .hash_password(input, &salt)
        .map_err(|err| HashError(Box::new(err)))?;
    Ok(hash.to_string())
}

/// Whether `input` matches the PHC string `phc`. Blocking: tens of ms of CPU.
///
/// A stored hash that does not parse, or that names an algorithm, version or parameters
/// Argon2 cannot use, can never match any key: it is a mismatch, not an error.
fn verify_blocking(input: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default().verify_password(input, &parsed).is_ok()
}

#[async_trait]
impl KeyHasher for Argon2Hasher {
    async fn hash(&self, secret: &ApiKeySecret) -> Result<StoredKeyHash, HashError> {
        let input = self.input(secret.expose().as_bytes());
        let _slot = self.argon2_slot().await?;
        let phc = tokio::task::spawn_blocking(move || hash_blocking(&input))
            .await
            .map_err(|err| HashError(Box::new(err)))??;
        Ok(StoredKeyHash::Argon2id(phc))
    }

    async fn verify(
        &self,
        secret: &ApiKeySecret,
        stored: &StoredKeyHash,
    ) -> Result<bool, HashError> {
        let phc = match stored {
            StoredKeyHash::LegacySha256(hex) => {
                let digest = self.peppered_sha256(secret.expose().as_bytes());
                return Ok(bool::from(digest.as_bytes().ct_eq(hex.as_bytes())));
            }
            StoredKeyHash::Argon2id(phc) => phc,
        };

        let input = self.input(secret.expose().as_bytes());
        let tag = self.tag(&input);
        if self.cache.is_verified(phc, &tag, Instant::now()) {
            return Ok(true);
        }
        let _slot = self.argon2_slot().await?;
        // Whoever held the slot before may just have verified this very key.
        if self.cache.is_verified(phc, &tag, Instant::now()) {
            return Ok(true);
        }

        self.argon2_verifications.fetch_add(1, Ordering::Relaxed);
        let owned_phc = phc.clone();
        let matched = tokio::task::spawn_blocking(move || verify_blocking(&input, &owned_phc))
            .await
            .map_err(|err| HashError(Box::new(err)))?;
        if matched {
            self.cache.remember(phc, tag, Instant::now());
        }
        Ok(matched)
    }

    fn peppered_sha256(&self, secret: &[u8]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(secret);
        hasher.update(&self.pepper);
        hex::encode(hasher.finalize())
    }

    fn under_previous_pepper(&self) -> Option<&dyn KeyHasher> {
        self.previous
            .as_deref()
            .map(|previous| previous as &dyn KeyHasher)
    }
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pepper = if self.pepper.is_empty() {
            "<none>"
        } else {
            "<redacted>"
        };
        f.debug_struct("Argon2Hasher")
            .field("pepper", &pepper)
            .field("cache", &self.cache)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

    fn key(raw: &str) -> ApiKeySecret {
        ApiKeySecret::from_presented(raw).unwrap()
    }

    fn peppered() -> Argon2Hasher {
        Argon2Hasher::new(Some(b"pep".to_vec())).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn hashes_are_argon2id_with_default_parameters_and_fresh_salts() {
        let hasher = peppered();
        let first = hasher.hash(&key("releasy_abc")).await.unwrap();
        let second = hasher.hash(&key("releasy_abc")).await.unwrap();
        assert!(
            first.as_str().starts_with(DEFAULT_PREFIX),
            "{}",
            first.as_str()
        );
        assert!(!first.is_legacy());
        assert_ne!(first, second);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn verify_accepts_the_right_key_and_rejects_a_wrong_one() {
        let hasher = peppered();
        let stored = hasher.hash(&key("releasy_abc")).await.unwrap();
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert!(!hasher.verify(&key("releasy_abd"), &stored).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_different_pepper_fails_verification() {
        let stored = peppered().hash(&key("releasy_abc")).await.unwrap();
        let other = Argon2Hasher::new(Some(b"other".to_vec())).unwrap();
        assert!(!other.verify(&key("releasy_abc"), &stored).await.unwrap());
        let none = Argon2Hasher::new(None).unwrap();
        assert!(!none.verify(&key("releasy_abc"), &stored).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_previous_pepper_is_a_hasher_of_its_own() {
        let stored = peppered().hash(&key("releasy_abc")).await.unwrap();
        let rotating = Argon2Hasher::new(Some(b"new".to_vec()))
            .unwrap()
            .with_previous_pepper(Some(b"pep".to_vec()))
            .unwrap();
        assert!(!rotating.verify(&key("releasy_abc"), &stored).await.unwrap());
        let previous = rotating.under_previous_pepper().expect("configured");
        assert!(previous.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert_eq!(
            previous.peppered_sha256(b"releasy_dl_x"),
            peppered().peppered_sha256(b"releasy_dl_x")
        );
        assert!(peppered().under_previous_pepper().is_none());
        let shown = format!("{rotating:?}");
        assert_eq!(shown.matches("<redacted>").count(), 2, "{shown}");
        // Neither pepper, as text or as bytes.
        for leak in ["\"new\"", "\"pep\"", "110, 101, 119", "112, 101, 112"] {
            assert!(!shown.contains(leak), "{shown}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn hashes_made_by_the_argon2_crate_over_key_and_pepper_verify() {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let reference = Argon2::default()
            .hash_password(b"releasy_abcpep", &salt)
            .unwrap()
            .to_string();
        assert!(reference.starts_with(DEFAULT_PREFIX));
        let stored = StoredKeyHash::from_stored(reference);
        let hasher = peppered();
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert!(
            !hasher
                .verify(&key("releasy_abcpep"), &stored)
                .await
                .unwrap()
        );
        // And the other way round: our hashes verify with the argon2 crate alone.
        let ours = hasher.hash(&key("releasy_abc")).await.unwrap();
        let parsed = PasswordHash::new(ours.as_str()).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"releasy_abcpep", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn peppered_sha256_is_hex_sha256_of_key_then_pepper() {
        // printf 'releasy_abcpep' | sha256sum
        assert_eq!(
            peppered().peppered_sha256(b"releasy_abc"),
            "d8a29c7c0747ec63ab98ab4c4722b0662c473f1f6d70ca0bc7d94f1400b24317"
        );
        assert_eq!(
            Argon2Hasher::new(None)
                .unwrap()
                .peppered_sha256(b"releasy_abcpep"),
            "d8a29c7c0747ec63ab98ab4c4722b0662c473f1f6d70ca0bc7d94f1400b24317"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn legacy_hashes_verify_without_argon2() {
        let hasher = peppered();
        let stored = StoredKeyHash::from_stored(
            "d8a29c7c0747ec63ab98ab4c4722b0662c473f1f6d70ca0bc7d94f1400b24317".into(),
        );
        assert!(stored.is_legacy());
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert!(!hasher.verify(&key("releasy_abd"), &stored).await.unwrap());
        let short = StoredKeyHash::LegacySha256("d8a29c".into());
        assert!(!hasher.verify(&key("releasy_abc"), &short).await.unwrap());
        assert_eq!(hasher.argon2_verifications(), 0);
        assert_eq!(hasher.cached_entries(), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unusable_stored_hashes_are_a_mismatch_not_an_error() {
        let hasher = peppered();
        for garbage in [
            "$argon2id$garbage",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2-insecure-test$abc$def",
            "$argon2id$v=19$m=1,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let stored = StoredKeyHash::Argon2id(garbage.into());
            assert!(!hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        }
        assert_eq!(hasher.cached_entries(), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_repeat_verification_is_served_from_the_cache() {
        let hasher = peppered();
        let stored = hasher.hash(&key("releasy_abc")).await.unwrap();
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert_eq!(hasher.argon2_verifications(), 1);
        assert_eq!(hasher.cached_entries(), 1);

        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert_eq!(hasher.argon2_verifications(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_wrong_key_against_a_cached_hash_still_fails_and_is_never_cached() {
        let hasher = peppered();
        let stored = hasher.hash(&key("releasy_abc")).await.unwrap();
        assert!(!hasher.verify(&key("releasy_abd"), &stored).await.unwrap());
        assert_eq!(hasher.cached_entries(), 0);

        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert!(!hasher.verify(&key("releasy_abd"), &stored).await.unwrap());
        assert!(!hasher.verify(&key("releasy_abd"), &stored).await.unwrap());
        assert_eq!(hasher.argon2_verifications(), 4);
        // The right key's entry survives the wrong attempts.
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert_eq!(hasher.argon2_verifications(), 4);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_cache_does_not_bridge_peppers() {
        let stored = peppered().hash(&key("releasy_abc")).await.unwrap();
        let hasher = peppered();
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        let other = Argon2Hasher::new(Some(b"other".to_vec())).unwrap();
        assert!(!other.verify(&key("releasy_abc"), &stored).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn expired_entries_are_not_used() {
        let hasher = peppered().with_cache(Duration::ZERO, 10);
        let stored = hasher.hash(&key("releasy_abc")).await.unwrap();
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert_eq!(hasher.argon2_verifications(), 2);

        let hasher = peppered().with_cache(Duration::from_millis(50), 10);
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert_eq!(hasher.argon2_verifications(), 1);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(hasher.verify(&key("releasy_abc"), &stored).await.unwrap());
        assert_eq!(hasher.argon2_verifications(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_cache_stays_within_its_capacity() {
        let hasher = peppered().with_cache(Duration::from_secs(600), 2);
        for raw in [
            "releasy_a",
            "releasy_b",
            "releasy_c",
            "releasy_d",
            "releasy_e",
        ] {
            let stored = hasher.hash(&key(raw)).await.unwrap();
            assert!(hasher.verify(&key(raw), &stored).await.unwrap());
            assert!(hasher.cached_entries() <= 2);
        }
        assert_eq!(hasher.argon2_verifications(), 5);
    }

    #[test]
    fn debug_hides_the_pepper() {
        let shown = format!(
            "{:?}",
            Argon2Hasher::new(Some(b"sekrit-pepper".to_vec())).unwrap()
        );
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(format!("{:?}", Argon2Hasher::new(None).unwrap()).contains("<none>"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_with_one_new_key_runs_argon2_once_per_slot_not_once_per_request() {
        let hasher = std::sync::Arc::new(peppered());
        let stored = hasher.hash(&key("releasy_abc")).await.unwrap();
        let burst: Vec<_> = (0..32)
            .map(|_| {
                let (hasher, stored) = (hasher.clone(), stored.clone());
                tokio::spawn(async move { hasher.verify(&key("releasy_abc"), &stored).await })
            })
            .collect();
        for verification in burst {
            assert!(verification.await.unwrap().unwrap());
        }
        let slots = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let ran = hasher.argon2_verifications();
        assert!(
            (1..=slots as u64).contains(&ran),
            "{ran} Argon2 runs for one key with {slots} slots"
        );
    }
}
