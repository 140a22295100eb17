//! API key bodies.

use serde::{Deserialize, Serialize};

/// `POST /v1/admin/keys`.
#[derive(Debug, Serialize)]
pub struct CreateKey {
    /// The customer.
    pub customer_id: String,
    /// A label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Scopes (every scope when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Expiry (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// `human`, `ci` or `integration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
}

/// The new key; `api_key` is shown only once.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatedKey {
    /// Key id.
    pub api_key_id: String,
    /// The raw key.
    pub api_key: String,
    /// Its customer.
    pub customer_id: String,
    /// Its type.
    pub key_type: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its expiry.
    pub expires_at: Option<i64>,
}

/// `POST /v1/admin/keys/revoke`.
#[derive(Debug, Serialize)]
pub struct RevokeKey {
    /// The key.
    pub api_key_id: String,
}

/// The revoked key.
#[derive(Debug, Serialize, Deserialize)]
pub struct RevokedKey {
    /// Its id.
    pub api_key_id: String,
}
