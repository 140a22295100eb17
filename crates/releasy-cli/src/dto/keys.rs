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
    /// Where it may be used from (anywhere when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_cidrs: Option<Vec<String>>,
}

/// `PATCH /v1/admin/keys/{id}`: `Some(None)` sends `null` (clears the field).
#[derive(Debug, Serialize)]
pub struct UpdateKey {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Option<String>>,
    /// New address rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_cidrs: Option<Option<Vec<String>>>,
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
    /// Its address rule, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_cidrs: Option<Vec<String>>,
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

/// A key as `GET /v1/admin/customers/{id}/keys` lists it (never a secret).
#[derive(Debug, Serialize, Deserialize)]
pub struct KeySummary {
    /// Key id.
    pub api_key_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Its label.
    pub name: Option<String>,
    /// Its type.
    pub key_type: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was issued.
    pub created_at: i64,
    /// Its expiry.
    pub expires_at: Option<i64>,
    /// When it was (or, after a rotation, will be) revoked.
    pub revoked_at: Option<i64>,
    /// Its last recorded use.
    pub last_used_at: Option<i64>,
    /// The client address of that use.
    pub last_used_address: Option<String>,
    /// Where it may be used from (anywhere when absent).
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
}

/// `GET /v1/admin/customers/{id}/keys`.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyList {
    /// Newest first.
    pub keys: Vec<KeySummary>,
}

/// `POST /v1/admin/keys/{id}/rotate`.
#[derive(Debug, Serialize)]
pub struct RotateKey {
    /// How long the old key keeps working (the server's default, a day, when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlap_seconds: Option<i64>,
}

/// The successor key (shown only once) and when the old one stops.
#[derive(Debug, Serialize, Deserialize)]
pub struct RotatedKey {
    /// The new key.
    #[serde(flatten)]
    pub key: CreatedKey,
    /// The key it replaces.
    pub replaces_api_key_id: String,
    /// When the replaced key stops working.
    pub replaced_key_revoked_at: i64,
}
