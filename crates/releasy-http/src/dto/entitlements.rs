//! Entitlement bodies.

use releasy_domain::entitlement::Entitlement;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /v1/admin/customers/{customer_id}/entitlements`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateEntitlementRequest {
    /// Product.
    pub product: String,
    /// Start (Unix seconds, >= 0; 0 means "always").
    pub starts_at: i64,
    /// End (Unix seconds, >= starts_at), or `null` for open-ended.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// Any JSON object.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// `PATCH .../entitlements/{entitlement_id}`: every field optional; `null` clears
/// `ends_at` or `metadata`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateEntitlementRequest {
    /// New product.
    #[serde(default)]
    pub product: Option<String>,
    /// New start.
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// New end; `null` makes it open-ended.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<i64>)]
    pub ends_at: Option<Option<i64>>,
    /// New metadata; `null` removes it.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Value>>,
}

/// An entitlement.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntitlementResponse {
    /// Entitlement id.
    pub id: String,
    /// Its customer.
    pub customer_id: String,
    /// Product.
    pub product: String,
    /// Start (Unix seconds).
    pub starts_at: i64,
    /// End (Unix seconds), or `null`.
    pub ends_at: Option<i64>,
    /// Metadata object, or `null`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

impl From<Entitlement> for EntitlementResponse {
    fn from(e: Entitlement) -> Self {
        Self {
            id: e.id.to_string(),
            customer_id: e.customer_id.to_string(),
            product: e.product.into_string(),
            starts_at: e.window.starts_at().unix_seconds(),
            ends_at: e.window.ends_at().map(|t| t.unix_seconds()),
            metadata: e.metadata.map(|m| m.to_value()),
        }
    }
}

/// `GET .../entitlements` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntitlementListQuery {
    /// Exactly this product.
    pub product: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// Items to skip.
    #[param(value_type = Option<i64>)]
    pub offset: Option<String>,
}

/// A page of entitlements, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntitlementListResponse {
    /// The entitlements.
    pub entitlements: Vec<EntitlementResponse>,
    /// The page size used.
    pub limit: i64,
    /// The offset used.
    pub offset: i64,
}
