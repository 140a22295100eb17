//! The test's identity provider keys (fixtures in `keys/`), the JWKS documents built from
//! them, and tokens minted with them.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The issuer the test servers require.
pub const ISSUER: &str = "https://idp.test/realms/releasy";
/// The audience the test servers require.
pub const AUDIENCE: &str = "releasy-api";
/// The client whose `resource_access` roles count.
pub const RESOURCE: &str = "releasy-console";

/// The public half of `rsa-1`, the classic HMAC attack's "secret".
pub const RSA_1_PUBLIC_PEM: &[u8] = include_bytes!("keys/rsa-1.pub.pem");

/// One published key: its `kid`, the algorithm its JWK names and the private key.
pub struct TestKey {
    pub kid: &'static str,
    pub alg: Algorithm,
    encoding: EncodingKey,
}

impl TestKey {
    fn new(kid: &'static str, alg: Algorithm, encoding: EncodingKey) -> Self {
        Self { kid, alg, encoding }
    }

    /// The JWK publishing this key's public half.
    pub fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        serde_json::to_value(jwk).unwrap()
    }

    /// A token with `claims`, signed with this key under its own `kid` and `alg`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.kid, self.alg, claims)
    }

    /// A token with `claims` signed with this key but with another header `kid`/`alg`.
    pub fn sign_as(&self, kid: &str, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

fn rsa(pem: &[u8]) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem).unwrap()
}

/// Every key the tests publish: `rsa-1` (under four kids, one per RSA algorithm),
/// `rsa-2`, P-256, P-384 and Ed25519.
pub struct Keys {
    pub rsa1: TestKey,
    pub rsa1_rs384: TestKey,
    pub rsa1_rs512: TestKey,
    pub rsa1_ps256: TestKey,
    pub rsa2: TestKey,
    pub es256: TestKey,
    pub es384: TestKey,
    pub eddsa: TestKey,
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let rsa1 = include_bytes!("keys/rsa-1.pem");
    Keys {
        rsa1: TestKey::new("rsa-1", Algorithm::RS256, rsa(rsa1)),
        rsa1_rs384: TestKey::new("rsa-1-rs384", Algorithm::RS384, rsa(rsa1)),
        rsa1_rs512: TestKey::new("rsa-1-rs512", Algorithm::RS512, rsa(rsa1)),
        rsa1_ps256: TestKey::new("rsa-1-ps256", Algorithm::PS256, rsa(rsa1)),
        rsa2: TestKey::new(
            "rsa-2",
            Algorithm::RS256,
            rsa(include_bytes!("keys/rsa-2.pem")),
        ),
        es256: TestKey::new(
            "ec-p256",
            Algorithm::ES256,
            EncodingKey::from_ec_pem(include_bytes!("keys/ec-p256.pem")).unwrap(),
        ),
        es384: TestKey::new(
            "ec-p384",
            Algorithm::ES384,
            EncodingKey::from_ec_pem(include_bytes!("keys/ec-p384.pem")).unwrap(),
        ),
        eddsa: TestKey::new(
            "ed25519",
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(include_bytes!("keys/ed25519.pem")).unwrap(),
        ),
    }
});

/// A JWKS document publishing `keys`.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>() })
}

/// The JWKS the tests start from: every key except `rsa-2` (kept back for rotation).
pub fn default_jwks() -> Value {
    let keys = &*KEYS;
    jwks(&[
        &keys.rsa1,
        &keys.rsa1_rs384,
        &keys.rsa1_rs512,
        &keys.rsa1_ps256,
        &keys.es256,
        &keys.es384,
        &keys.eddsa,
    ])
}

/// The wall clock in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims the test servers accept, with `roles` in the top-level `roles` claim.
pub fn claims(roles: &[&str]) -> Value {
    json!({
        "sub": "operator-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 600,
        "roles": roles,
    })
}

/// An accepted RS256 token for `roles`.
pub fn token(roles: &[&str]) -> String {
    KEYS.rsa1.sign(&claims(roles))
}

/// An unsigned token (`alg: none`) with `claims`, claiming `kid`.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
