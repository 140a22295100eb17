//! Operator sign-in: verifying a bearer token from an identity provider.

use async_trait::async_trait;

use crate::access::Operator;

/// Why an operator token was refused.
#[derive(Debug, thiserror::Error)]
pub enum OperatorTokenError {
    /// The token is invalid: malformed, badly signed, expired, not yet valid, from
    /// another issuer or for another audience, or signed with a refused algorithm.
    #[error("invalid operator token: {0}")]
    Invalid(String),
    /// The token is valid but maps to no Releasy role.
    #[error("operator token has no releasy role")]
    NoRole,
    /// No key is available to verify it (the identity provider cannot be reached and
    /// nothing usable is cached).
    #[error("operator token keys unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Verifies operator tokens (JWTs) and maps them to an [`Operator`].
#[async_trait]
pub trait OperatorTokenVerifier: Send + Sync + std::fmt::Debug {
    /// The operator a token authenticates.
    ///
    /// # Errors
    /// [`OperatorTokenError`] when it does not.
    async fn verify(&self, token: &str) -> Result<Operator, OperatorTokenError>;
}
