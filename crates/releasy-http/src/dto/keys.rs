//! API key bodies.

use releasy_domain::api_key::{AuthenticatedKey, IssuedKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/admin/keys`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateKeyRequest {
    /// The customer the key acts for.
    pub customer_id: String,
    /// A label.
    #[serde(default)]
    pub name: Option<String>,
    /// Scopes; every scope when omitted.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Expiry (Unix seconds, in the future).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// `human` (default), `ci` or `integration`.
    #[serde(default)]
    pub key_type: Option<String>,
}

/// The new key; `api_key` is shown only here.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateKeyResponse {
    /// Key id.
    pub api_key_id: String,
    /// The raw key, `releasy_...`.
    pub api_key: String,
    /// Its customer.
    pub customer_id: String,
    /// Its type.
    pub key_type: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its expiry, or `null`.
    pub expires_at: Option<i64>,
}

impl From<IssuedKey> for CreateKeyResponse {
    fn from(issued: IssuedKey) -> Self {
        Self {
            api_key_id: issued.key.id.to_string(),
            api_key: issued.secret.expose().to_owned(),
            customer_id: issued.key.customer_id.to_string(),
            key_type: issued.key.key_type.as_str().to_owned(),
            scopes: issued.key.scopes.names().map(str::to_owned).collect(),
            expires_at: issued.key.expires_at.map(|t| t.unix_seconds()),
        }
    }
}

/// `POST /v1/admin/keys/revoke`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokeKeyRequest {
    /// The key to revoke.
    pub api_key_id: String,
}

/// The revoked key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokeKeyResponse {
    /// Its id.
    pub api_key_id: String,
}

/// `POST /v1/auth/introspect`: the calling key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntrospectionResponse {
    /// Always `true` (an inactive key gets 401).
    pub active: bool,
    /// Key id.
    pub api_key_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Its type.
    pub key_type: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its expiry, or `null`.
    pub expires_at: Option<i64>,
}

impl From<AuthenticatedKey> for IntrospectionResponse {
    fn from(key: AuthenticatedKey) -> Self {
        Self {
            active: true,
            api_key_id: key.api_key_id.to_string(),
            customer_id: key.customer_id.to_string(),
            key_type: key.key_type.as_str().to_owned(),
            scopes: key.scopes.names().map(str::to_owned).collect(),
            expires_at: key.expires_at.map(|t| t.unix_seconds()),
        }
    }
}
