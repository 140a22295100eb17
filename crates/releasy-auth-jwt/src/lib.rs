//! # releasy-auth-jwt
//!
//! Operator sign-in for Releasy: [`JwtOperatorVerifier`] implements the domain's
//! [`OperatorTokenVerifier`](releasy_domain::ports::OperatorTokenVerifier) port for JWTs
//! issued by an identity provider (Keycloak, Auth0, Dex, ...) that publishes its signing
//! keys as a JWKS.
//!
//! - [`config`]: what to trust ([`JwtConfig`]) and how keys are cached ([`CachePolicy`]).
//! - [`algorithm`]: which signature algorithm a published key verifies. It comes from
//!   the key (its `alg`, or its key type and curve), never from the token's header;
//!   `none` and HMAC are always refused.
//! - [`keyset`]: a fetched JWKS, reduced to the keys usable for verification, by `kid`.
//! - [`fetch`]: getting the JWKS over HTTP(S) (8 s timeout, one retry after 200 ms on
//!   connection errors and 5xx).
//! - [`jwks`]: the key cache: a TTL, one early refresh per 10 seconds for unknown `kid`s,
//!   at most one fetch in flight, stale keys served while the provider is down.
//! - [`claims`]: the subject and the role claims (`roles`, `realm_access.roles`,
//!   `resource_access.<resource>.roles`) mapped to Releasy roles.
//! - [`verifier`]: the verification itself, tying the above together.
//! - [`clock`]: the monotonic time source, replaceable in tests.
//!
//! Tokens and key material are never logged.
#![warn(missing_docs)]

pub mod algorithm;
pub mod claims;
pub mod clock;
pub mod config;
pub mod fetch;
pub mod jwks;
pub mod keyset;
pub mod verifier;

pub use config::{CachePolicy, JwtConfig};
pub use verifier::{BuildError, JwtOperatorVerifier};
