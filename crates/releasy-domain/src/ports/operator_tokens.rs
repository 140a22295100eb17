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
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use releasy_domain::access::{Action, Operator};
/// use releasy_domain::ports::{OperatorTokenError, OperatorTokenVerifier};
///
/// /// A verifier of one fixed token, as a test or a small deployment might use.
/// #[derive(Debug)]
/// struct OneToken;
///
/// #[async_trait::async_trait]
/// impl OperatorTokenVerifier for OneToken {
///     async fn verify(&self, token: &str) -> Result<Operator, OperatorTokenError> {
///         if token != "let-me-in" {
///             return Err(OperatorTokenError::Invalid("unknown token".to_owned()));
///         }
///         Operator::from_role_claims("ci", ["release_publisher"]).ok_or(OperatorTokenError::NoRole)
///     }
/// }
///
/// let operator = OneToken.verify("let-me-in").await.unwrap();
/// assert!(operator.may(Action::PublishRelease));
/// assert!(!operator.may(Action::CreateCustomer));
/// assert!(OneToken.verify("guess").await.is_err());
/// # }
/// ```
#[async_trait]
pub trait OperatorTokenVerifier: Send + Sync + std::fmt::Debug {
    /// The operator a token authenticates.
    ///
    /// # Errors
    /// [`OperatorTokenError`] when it does not.
    async fn verify(&self, token: &str) -> Result<Operator, OperatorTokenError>;
}
