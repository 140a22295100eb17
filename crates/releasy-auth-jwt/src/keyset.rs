//! A fetched JWKS, reduced to the keys that can verify operator tokens, by `kid`.
//!
//! Keys are read one by one: a key Releasy cannot use (an encryption key, a symmetric
//! key, a refused algorithm, a curve it does not support, a malformed entry, one without
//! `kid`) is skipped with a debug log line, and never spoils the rest of the set.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::algorithm;

/// A key that verifies tokens, with the one algorithm those tokens must use.
#[derive(Clone)]
pub struct VerificationKey {
    /// The algorithm, from the published key (see [`algorithm::for_key`]).
    pub algorithm: Algorithm,
    /// The public key.
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The usable keys of one JWKS document, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<VerificationKey>>,
}

/// The document is not a JWKS at all.
#[derive(Debug, thiserror::Error)]
#[error("not a JWKS document: {0}")]
pub struct KeySetError(#[from] serde_json::Error);

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Reads a JWKS document (`{"keys": [...]}`), keeping the usable keys.
    ///
    /// # Errors
    /// [`KeySetError`] when the document is not JSON with a `keys` array. Unusable
    /// entries are skipped, not errors.
    pub fn parse(document: &[u8]) -> Result<Self, KeySetError> {
        let raw: RawKeySet = serde_json::from_slice(document)?;
        let mut keys = HashMap::new();
        for entry in raw.keys {
            match usable_key(entry) {
                Ok((kid, key)) => match keys.entry(kid) {
                    Entry::Vacant(slot) => {
                        slot.insert(Arc::new(key));
                    }
                    Entry::Occupied(taken) => {
                        tracing::debug!(kid = %taken.key(), "JWKS names a kid twice; the first key is used");
                    }
                },
                Err(reason) => tracing::debug!(%reason, "JWKS key skipped"),
            }
        }
        Ok(Self { keys })
    }

    /// The key named `kid`.
    pub fn get(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.keys.get(kid).cloned()
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn usable_key(entry: serde_json::Value) -> Result<(String, VerificationKey), String> {
    let jwk: Jwk = serde_json::from_value(entry).map_err(|e| format!("malformed key: {e}"))?;
    let kid = jwk
        .common
        .key_id
        .clone()
        .ok_or_else(|| "key without kid".to_owned())?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err(format!("key {kid} is for encryption"));
    }
    let algorithm = algorithm::for_key(&jwk).map_err(|e| format!("key {kid}: {e}"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("key {kid}: {e}"))?;
    Ok((kid, VerificationKey { algorithm, key }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RSA_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    fn parse(value: serde_json::Value) -> KeySet {
        KeySet::parse(value.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn usable_keys_are_kept_by_kid_and_the_rest_skipped() {
        let set = parse(json!({"keys": [
            {"kty": "RSA", "kid": "sig", "use": "sig", "alg": "RS384", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "plain", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc-no-alg", "use": "enc", "n": RSA_N, "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": RSA_N, "e": "AQAB"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "weird", "kid": "weird"},
            "not an object",
            {"kty": "RSA", "kid": "sig", "alg": "RS512", "n": RSA_N, "e": "AQAB"},
        ]}));
        assert_eq!(set.len(), 2);
        assert_eq!(set.get("sig").unwrap().algorithm, Algorithm::RS384);
        assert_eq!(set.get("plain").unwrap().algorithm, Algorithm::RS256);
        for skipped in ["enc", "enc-no-alg", "hmac", "p521", "weird"] {
            assert!(set.get(skipped).is_none(), "{skipped}");
        }
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        assert!(KeySet::parse(b"<html>").is_err());
        assert!(KeySet::parse(b"{\"keys\": 1}").is_err());
        assert!(KeySet::parse(b"{}").is_err());
        assert!(parse(json!({"keys": []})).is_empty());
    }
}
