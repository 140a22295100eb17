//! # releasy-crypto
//!
//! Releasy's secret adapters: the production implementations of the domain's
//! [`SecretGenerator`](releasy_domain::ports::SecretGenerator) and
//! [`KeyHasher`](releasy_domain::ports::KeyHasher) ports.
//!
//! - [`OsSecrets`] makes API keys (`releasy_...`) and download tokens (`releasy_dl_...`)
//!   from 32 bytes of the operating system's random number generator, base64url-encoded.
//! - [`Argon2Hasher`] stores API keys as Argon2id PHC strings (the `argon2` crate's
//!   default parameters, over the key's bytes followed by the pepper's), verifies them
//!   and the legacy unsalted SHA-256 hex digests of older servers, and computes those
//!   legacy digests for lookups. Argon2 runs on tokio's blocking thread pool, never on
//!   the async executor's threads.
//! - [`SealedIdempotency`] keeps idempotency records so that the database holds neither
//!   the client's `Idempotency-Key` nor a readable response (some carry a new API key
//!   or a download link): keys are stored as keyed digests, responses sealed with
//!   ChaCha20-Poly1305 under a key only the retrying client can derive.
//!
//! ## The verified-key cache
//!
//! Argon2id deliberately costs tens of milliseconds of CPU, which a client sending its
//! key with every request would otherwise pay every time. [`Argon2Hasher`] therefore
//! remembers, per stored PHC string, an HMAC-SHA256 tag of the key that last matched
//! it, keyed with 32 random bytes made when the hasher is created. A repeat request
//! computes the tag of the presented key and, if it equals the remembered one
//! (compared in constant time), skips Argon2.
//!
//! This is safe because:
//! - the tag answers only "is this the same key that already verified against this very
//!   hash", which Argon2 would answer identically, so the cache never changes a result;
//! - only successful verifications are remembered, so a wrong key always costs Argon2;
//! - the process key is random, never stored or shown, and dies with the process, so
//!   the tags in memory are useless for guessing keys offline and cannot be carried
//!   over to another process;
//! - entries expire (10 minutes by default) and the cache is bounded (10 000 hashes by
//!   default; a full cache sheds expired entries, then empties);
//! - revocation, expiry and suspension are not decided here: the caller reads them from
//!   the repository on every request, so a remembered key that has since been revoked
//!   is still refused.

#![warn(missing_docs)]

mod argon2_hasher;
mod os_secrets;
mod sealed_idempotency;
mod verified_cache;

pub use argon2_hasher::{Argon2Hasher, RandomnessUnavailable};
pub use os_secrets::OsSecrets;
pub use sealed_idempotency::{SealedIdempotency, UnsealError};
