//! [`JwtOperatorVerifier`]: the domain's [`OperatorTokenVerifier`] for JWTs.
//!
//! 1. The header is read only for its `kid` (a token without one is invalid).
//! 2. The key comes from the [`JwksCache`]; with it comes the one algorithm the token
//!    must be signed with (see [`crate::algorithm`]). A header claiming anything else
//!    (`none`, `HS256`, another RSA variant) fails.
//! 3. The signature, `exp` (required), `nbf` (when present), `iss` and `aud` (required
//!    and checked when configured) are verified by `jsonwebtoken`, with the configured
//!    leeway.
//! 4. The subject and roles are read by [`crate::claims`].

use std::sync::Arc;

use async_trait::async_trait;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use releasy_domain::access::Operator;
use releasy_domain::ports::{OperatorTokenError, OperatorTokenVerifier};
use serde_json::{Map, Value};

use crate::claims::{self, ClaimsError};
use crate::clock::{MonotonicClock, SystemMonotonicClock};
use crate::config::JwtConfig;
use crate::fetch::{HttpJwksSource, JwksSource, SourceError};
use crate::jwks::{JwksCache, KeyError};

/// The verifier could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[error("operator JWT verification: {0}")]
pub struct BuildError(#[from] SourceError);

/// Verifies operator JWTs against an identity provider's JWKS.
#[derive(Debug)]
pub struct JwtOperatorVerifier {
    keys: JwksCache,
    issuer: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    leeway_seconds: u64,
}

impl JwtOperatorVerifier {
    /// A verifier fetching keys from `config.jwks_url` over HTTP(S).
    ///
    /// # Errors
    /// [`BuildError`] when the URL is not http(s) or the HTTP client cannot be built.
    pub fn new(config: JwtConfig) -> Result<Self, BuildError> {
        let source = HttpJwksSource::new(
            &config.jwks_url,
            config.cache.fetch_timeout,
            config.cache.retry_delay,
        )?;
        Ok(Self::with_source(
            config,
            Arc::new(source),
            Arc::new(SystemMonotonicClock),
        ))
    }

    /// A verifier on any key source and clock (tests use fakes). `config.jwks_url` is
    /// not used.
    pub fn with_source(
        config: JwtConfig,
        source: Arc<dyn JwksSource>,
        clock: Arc<dyn MonotonicClock>,
    ) -> Self {
        Self {
            keys: JwksCache::new(source, clock, config.cache),
            issuer: config.issuer,
            audience: config.audience,
            resource: config.resource,
            leeway_seconds: config.leeway_seconds,
        }
    }

    /// Loads the key set now if nothing is cached (call once at startup, in the
    /// background); failures are logged and retried on demand.
    pub async fn warm_up(&self) {
        self.keys.warm_up().await;
    }

    /// The key cache (for diagnostics and tests).
    pub fn key_cache(&self) -> &JwksCache {
        &self.keys
    }

    /// The validation rules for a token signed with `algorithm`.
    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway_seconds;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        match &self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.validate_aud = true;
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

#[async_trait]
impl OperatorTokenVerifier for JwtOperatorVerifier {
    async fn verify(&self, token: &str) -> Result<Operator, OperatorTokenError> {
        let header = decode_header(token).map_err(|err| invalid(&describe(err.kind())))?;
        let kid = header
            .kid
            .filter(|kid| !kid.is_empty())
            .ok_or_else(|| invalid("token header has no kid"))?;
        let key = self.keys.key(&kid).await.map_err(|err| match err {
            KeyError::UnknownKid => invalid("no key with the token's kid"),
            KeyError::Unavailable(cause) => {
                OperatorTokenError::Unavailable(Box::new(KeyError::Unavailable(cause)))
            }
        })?;
        let verified =
            decode::<Map<String, Value>>(token, &key.key, &self.validation(key.algorithm))
                .map_err(|err| invalid(&describe(err.kind())))?;
        // jsonwebtoken accepts an `iss` array holding the issuer among others; RFC 7519
        // makes `iss` one string, and the configured issuer must be exactly it.
        if self.issuer.is_some() && !verified.claims.get("iss").is_some_and(Value::is_string) {
            return Err(invalid("malformed claim iss"));
        }
        claims::operator(&verified.claims, self.resource.as_deref()).map_err(|err| match err {
            ClaimsError::NoSubject => invalid("token has no subject (sub)"),
            ClaimsError::NoRole => {
                tracing::info!(
                    subject = claims::subject(&verified.claims).unwrap_or_default(),
                    "operator token maps to no releasy role"
                );
                OperatorTokenError::NoRole
            }
        })
    }
}

fn invalid(reason: &str) -> OperatorTokenError {
    tracing::debug!(reason, "operator token refused");
    OperatorTokenError::Invalid(reason.to_owned())
}

/// A short reason for a refused token, without any of its content.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "bad signature".to_owned(),
        ErrorKind::ExpiredSignature => "token expired".to_owned(),
        ErrorKind::ImmatureSignature => "token not yet valid (nbf)".to_owned(),
        ErrorKind::InvalidIssuer => "wrong issuer".to_owned(),
        ErrorKind::InvalidAudience => "wrong audience".to_owned(),
        ErrorKind::InvalidAlgorithm => "algorithm does not match the key".to_owned(),
        ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            "refused algorithm".to_owned()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim {claim}"),
        ErrorKind::InvalidClaimFormat(claim) => format!("malformed claim {claim}"),
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => "malformed token".to_owned(),
        _ => "token cannot be verified with its key".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::clock::ManualClock;
    use crate::keyset::KeySet;

    #[derive(Debug)]
    struct NoKeys;

    #[async_trait]
    impl JwksSource for NoKeys {
        async fn fetch(&self) -> Result<KeySet, crate::fetch::FetchError> {
            Ok(KeySet::default())
        }
    }

    fn verifier(config: JwtConfig) -> JwtOperatorVerifier {
        JwtOperatorVerifier::with_source(config, Arc::new(NoKeys), Arc::new(ManualClock::new()))
    }

    fn set(items: &[&str]) -> HashSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn configured_issuer_and_audience_are_required_and_checked() {
        let mut config = JwtConfig::new("http://idp/jwks");
        config.issuer = Some("https://idp".into());
        config.audience = Some("releasy".into());
        config.leeway_seconds = 30;
        let validation = verifier(config).validation(Algorithm::ES256);
        assert_eq!(validation.algorithms, vec![Algorithm::ES256]);
        assert_eq!(validation.required_spec_claims, set(&["exp", "iss", "aud"]));
        assert_eq!(validation.iss, Some(set(&["https://idp"])));
        assert_eq!(validation.aud, Some(set(&["releasy"])));
        assert!(validation.validate_exp && validation.validate_nbf && validation.validate_aud);
        assert_eq!(validation.leeway, 30);
    }

    #[test]
    fn without_issuer_and_audience_only_time_is_checked() {
        let validation = verifier(JwtConfig::new("http://idp/jwks")).validation(Algorithm::RS256);
        assert_eq!(validation.required_spec_claims, set(&["exp"]));
        assert_eq!(validation.iss, None);
        assert!(!validation.validate_aud);
        assert!(validation.validate_exp && validation.validate_nbf);
        assert_eq!(
            validation.leeway, 0,
            "jsonwebtoken's default of 60 s is not kept"
        );
    }

    #[tokio::test]
    async fn malformed_tokens_and_missing_kids_are_invalid_without_a_fetch() {
        let verifier = verifier(JwtConfig::new("http://idp/jwks"));
        for token in [
            "a.b.c",
            "..",
            "eyJhbGciOiJub25lIn0.e30.",
            "eyJhbGciOiJSUzI1NiJ9.e30.sig",
        ] {
            assert!(
                matches!(
                    verifier.verify(token).await,
                    Err(OperatorTokenError::Invalid(_))
                ),
                "{token}"
            );
        }
        assert_eq!(verifier.key_cache().fetches(), 0);
    }

    #[tokio::test]
    async fn a_key_set_without_usable_keys_is_unavailable() {
        let verifier = verifier(JwtConfig::new("http://idp/jwks"));
        // {"alg":"RS256","kid":"k"}
        let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.sig";
        assert!(matches!(
            verifier.verify(token).await,
            Err(OperatorTokenError::Unavailable(_))
        ));
    }
}
