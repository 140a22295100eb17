//! API key bodies.

use releasy_domain::Timestamp;
use releasy_domain::api_key::{AllowedNetworks, ApiKey, AuthenticatedKey, IssuedKey, RotatedKey};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /v1/admin/keys`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateKeyRequest {
    /// The customer the key acts for.
    pub customer_id: String,
    /// A label (trimmed); a blank one is no label.
    #[serde(default)]
    pub name: Option<String>,
    /// Scopes; every scope when omitted. Spaces around a name do not count, blank names
    /// are left out and duplicates collapse (at least one must be left).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Expiry (Unix seconds, in the future).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// `human` (default), `ci` or `integration`, in any ASCII case.
    #[serde(default)]
    pub key_type: Option<String>,
    /// Where the key (and the download tokens it asks for) may be used from: 1 to 100
    /// CIDR ranges or addresses, IPv4 or IPv6; anywhere when omitted or `null`.
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
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
    /// Its address rule; present only when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_cidrs: Option<Vec<String>>,
}

impl From<IssuedKey> for CreateKeyResponse {
    fn from(issued: IssuedKey) -> Self {
        Self {
            api_key_id: issued.key.id.to_string(),
            api_key: issued.secret.expose().to_owned(),
            customer_id: issued.key.customer_id.to_string(),
            key_type: issued.key.key_type.as_str().to_owned(),
            scopes: issued.key.scopes.names(),
            expires_at: issued.key.expires_at.map(|t| t.unix_seconds()),
            allowed_cidrs: cidrs(issued.key.allowed_networks.as_ref()),
        }
    }
}

/// A customer's key as an operator sees it: its settings and its use, never its secret
/// or hash.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeySummary {
    /// Key id.
    pub api_key_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Its label, or `null`.
    pub name: Option<String>,
    /// Its type.
    pub key_type: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was issued (Unix seconds).
    pub created_at: i64,
    /// Its expiry, or `null`.
    pub expires_at: Option<i64>,
    /// When it was revoked, or `null`. A time in the future is a revocation a rotation
    /// scheduled: the key works until then.
    pub revoked_at: Option<i64>,
    /// When it last authenticated a request (recorded at most once a minute), or `null`.
    pub last_used_at: Option<i64>,
    /// The client address of that use (behind a trusted proxy, the client it names), or
    /// `null`.
    pub last_used_address: Option<String>,
    /// Where it may be used from, or `null` for anywhere.
    pub allowed_cidrs: Option<Vec<String>>,
}

impl From<ApiKey> for KeySummary {
    fn from(key: ApiKey) -> Self {
        Self {
            api_key_id: key.id.to_string(),
            customer_id: key.customer_id.to_string(),
            name: key.name.map(|n| n.as_str().to_owned()),
            key_type: key.key_type.as_str().to_owned(),
            scopes: key.scopes.names(),
            created_at: key.created_at.unix_seconds(),
            expires_at: key.expires_at.map(Timestamp::unix_seconds),
            revoked_at: key.revoked_at.map(Timestamp::unix_seconds),
            last_used_at: key.last_used_at.map(Timestamp::unix_seconds),
            last_used_address: key.last_used_address.map(|a| a.to_string()),
            allowed_cidrs: cidrs(key.allowed_networks.as_ref()),
        }
    }
}

/// The ranges of an address rule, as they read back.
fn cidrs(networks: Option<&AllowedNetworks>) -> Option<Vec<String>> {
    networks.map(|n| n.ranges().collect())
}

/// `PATCH /v1/admin/keys/{api_key_id}`: at least one field. A field it does not know is
/// refused, not ignored: a misspelt `allowed_cidrs` would leave a key open to every
/// address while the answer looked like success.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    /// New label (not blank); `null` removes it.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// New address rule (1 to 100 CIDR ranges or addresses); `null` allows every
    /// address. Applies from the key's next request; tokens already issued keep the rule
    /// they were issued with.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_cidrs: Option<Option<Vec<String>>>,
}

/// `GET /v1/admin/customers/{customer_id}/keys` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// Items to skip.
    #[param(value_type = Option<i64>)]
    pub offset: Option<String>,
}

/// A page of a customer's keys, newest first, revoked ones included.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyListResponse {
    /// The keys.
    pub keys: Vec<KeySummary>,
    /// The page size used.
    pub limit: i64,
    /// The offset used.
    pub offset: i64,
}

/// `POST /v1/admin/keys/{api_key_id}/rotate`. A field it does not know is refused, not
/// ignored: a misspelt `overlap_seconds: 0` (cutting a leaked key off now) would leave
/// it working for a day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// How long the old key keeps working: 0 to 2592000 seconds (30 days); 86400 (a
    /// day) when omitted.
    #[serde(default)]
    pub overlap_seconds: Option<i64>,
}

/// The successor key (`api_key` is shown only here) and when the old one stops.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RotateKeyResponse {
    /// The new key, as `POST /v1/admin/keys` answers it.
    #[serde(flatten)]
    pub key: CreateKeyResponse,
    /// The key it replaces.
    pub replaces_api_key_id: String,
    /// When the replaced key stops working (Unix seconds): now plus the overlap.
    pub replaced_key_revoked_at: i64,
}

impl From<RotatedKey> for RotateKeyResponse {
    fn from(rotated: RotatedKey) -> Self {
        Self {
            key: rotated.successor.into(),
            replaces_api_key_id: rotated.replaced_key_id.to_string(),
            replaced_key_revoked_at: rotated.replaced_key_revoked_at.unix_seconds(),
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
