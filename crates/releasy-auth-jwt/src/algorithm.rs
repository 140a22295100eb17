//! Which signature algorithm a published key verifies.
//!
//! The algorithm is a property of the key the identity provider published (its `alg`,
//! or, when absent, its key type and curve), never of the token: a token's header only
//! names the key (`kid`), and a token whose header claims another algorithm is refused.
//! That closes the classic attacks: `alg: none`, and an HMAC token "signed" with the
//! provider's public key as the secret.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};

/// The algorithms Releasy accepts. Everything else is refused: `none`, every HMAC
/// algorithm (`HS*`), `PS384` and `PS512`.
pub const ACCEPTED: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a published key cannot verify operator tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnusableKey {
    /// A symmetric (`oct`) key: HMAC is never accepted.
    #[error("symmetric (oct) keys are refused")]
    Symmetric,
    /// A key type or curve Releasy does not verify with (P-521, X25519, ...).
    #[error("unsupported key type or curve")]
    UnsupportedKeyType,
    /// The key's `alg` is not one of [`ACCEPTED`] (an HMAC, encryption or unknown
    /// algorithm).
    #[error("algorithm {0} is not accepted")]
    RefusedAlgorithm(String),
    /// The key's `alg` does not fit its key type (say `ES256` on an RSA key).
    #[error("algorithm {0} does not match the key type")]
    Mismatch(String),
}

/// The key material's kind, as far as the choice of algorithm goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    fn of(jwk: &Jwk) -> Result<Self, UnusableKey> {
        match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Ok(Self::Rsa),
            AlgorithmParameters::EllipticCurve(params) => match params.curve {
                EllipticCurve::P256 => Ok(Self::P256),
                EllipticCurve::P384 => Ok(Self::P384),
                _ => Err(UnusableKey::UnsupportedKeyType),
            },
            AlgorithmParameters::OctetKeyPair(params) => match params.curve {
                EllipticCurve::Ed25519 => Ok(Self::Ed25519),
                _ => Err(UnusableKey::UnsupportedKeyType),
            },
            AlgorithmParameters::OctetKey(_) => Err(UnusableKey::Symmetric),
            _ => Err(UnusableKey::UnsupportedKeyType),
        }
    }

    /// The algorithm a key of this kind verifies when it names none.
    fn default_algorithm(self) -> Algorithm {
        match self {
            Self::Rsa => Algorithm::RS256,
            Self::P256 => Algorithm::ES256,
            Self::P384 => Algorithm::ES384,
            Self::Ed25519 => Algorithm::EdDSA,
        }
    }

    fn fits(self, algorithm: Algorithm) -> bool {
        match self {
            Self::Rsa => matches!(
                algorithm,
                Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256
            ),
            Self::P256 => algorithm == Algorithm::ES256,
            Self::P384 => algorithm == Algorithm::ES384,
            Self::Ed25519 => algorithm == Algorithm::EdDSA,
        }
    }
}

/// The one algorithm tokens signed with `jwk` must use: the key's `alg` when present,
/// otherwise the natural one for its type (`RSA` → RS256, `EC` P-256 → ES256, `EC`
/// P-384 → ES384, `OKP` Ed25519 → EdDSA).
///
/// # Errors
/// [`UnusableKey`] for symmetric keys, unsupported key types and curves, algorithms
/// outside [`ACCEPTED`], and an `alg` that does not fit the key type.
pub fn for_key(jwk: &Jwk) -> Result<Algorithm, UnusableKey> {
    let kind = KeyKind::of(jwk)?;
    let Some(declared) = jwk.common.key_algorithm else {
        return Ok(kind.default_algorithm());
    };
    let algorithm = accepted(declared)?;
    if kind.fits(algorithm) {
        Ok(algorithm)
    } else {
        Err(UnusableKey::Mismatch(declared.to_string()))
    }
}

fn accepted(declared: KeyAlgorithm) -> Result<Algorithm, UnusableKey> {
    Algorithm::try_from(declared)
        .ok()
        .filter(|algorithm| ACCEPTED.contains(algorithm))
        .ok_or_else(|| UnusableKey::RefusedAlgorithm(declared.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RSA_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    fn jwk(value: serde_json::Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    fn rsa(alg: Option<&str>) -> Jwk {
        let mut v = json!({"kty": "RSA", "kid": "k", "n": RSA_N, "e": "AQAB"});
        if let Some(alg) = alg {
            v["alg"] = json!(alg);
        }
        jwk(v)
    }

    #[test]
    fn the_keys_alg_is_used_when_present() {
        for (alg, expected) in [
            ("RS256", Algorithm::RS256),
            ("RS384", Algorithm::RS384),
            ("RS512", Algorithm::RS512),
            ("PS256", Algorithm::PS256),
        ] {
            assert_eq!(for_key(&rsa(Some(alg))), Ok(expected), "{alg}");
        }
        let ec = |crv: &str, alg: &str| {
            jwk(json!({"kty": "EC", "crv": crv, "alg": alg, "x": "AA", "y": "AA"}))
        };
        assert_eq!(for_key(&ec("P-256", "ES256")), Ok(Algorithm::ES256));
        assert_eq!(for_key(&ec("P-384", "ES384")), Ok(Algorithm::ES384));
        let ed = jwk(json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": "AA"}));
        assert_eq!(for_key(&ed), Ok(Algorithm::EdDSA));
    }

    #[test]
    fn the_key_type_decides_when_alg_is_absent() {
        assert_eq!(for_key(&rsa(None)), Ok(Algorithm::RS256));
        let p256 = jwk(json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}));
        assert_eq!(for_key(&p256), Ok(Algorithm::ES256));
        let p384 = jwk(json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}));
        assert_eq!(for_key(&p384), Ok(Algorithm::ES384));
        let ed = jwk(json!({"kty": "OKP", "crv": "Ed25519", "x": "AA"}));
        assert_eq!(for_key(&ed), Ok(Algorithm::EdDSA));
    }

    #[test]
    fn hmac_and_other_algorithms_are_refused() {
        for alg in ["HS256", "HS384", "HS512"] {
            let oct = jwk(json!({"kty": "oct", "k": "c2VjcmV0", "alg": alg}));
            assert_eq!(for_key(&oct), Err(UnusableKey::Symmetric), "{alg}");
            // An HMAC alg on an RSA key is refused too.
            assert!(
                matches!(
                    for_key(&rsa(Some(alg))),
                    Err(UnusableKey::RefusedAlgorithm(_))
                ),
                "{alg}"
            );
        }
        let oct = jwk(json!({"kty": "oct", "k": "c2VjcmV0"}));
        assert_eq!(for_key(&oct), Err(UnusableKey::Symmetric));
        for alg in ["PS384", "PS512", "RSA-OAEP", "RSA-OAEP-256", "none", "XYZ"] {
            assert!(
                matches!(
                    for_key(&rsa(Some(alg))),
                    Err(UnusableKey::RefusedAlgorithm(_))
                ),
                "{alg}"
            );
        }
    }

    #[test]
    fn an_alg_that_does_not_fit_the_key_is_refused() {
        assert!(matches!(
            for_key(&rsa(Some("ES256"))),
            Err(UnusableKey::Mismatch(_))
        ));
        assert!(matches!(
            for_key(&rsa(Some("EdDSA"))),
            Err(UnusableKey::Mismatch(_))
        ));
        let p256_as_384 =
            jwk(json!({"kty": "EC", "crv": "P-256", "alg": "ES384", "x": "AA", "y": "AA"}));
        assert!(matches!(
            for_key(&p256_as_384),
            Err(UnusableKey::Mismatch(_))
        ));
        let ed_as_rs = jwk(json!({"kty": "OKP", "crv": "Ed25519", "alg": "RS256", "x": "AA"}));
        assert!(matches!(for_key(&ed_as_rs), Err(UnusableKey::Mismatch(_))));
    }

    #[test]
    fn unsupported_curves_are_refused() {
        let p521 = jwk(json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}));
        assert_eq!(for_key(&p521), Err(UnusableKey::UnsupportedKeyType));
    }

    #[test]
    fn the_accepted_list_has_no_hmac() {
        assert!(
            ACCEPTED
                .iter()
                .all(|a| a.family() != jsonwebtoken::AlgorithmFamily::Hmac)
        );
    }
}
