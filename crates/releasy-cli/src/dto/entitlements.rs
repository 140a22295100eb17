//! Entitlement bodies.

use serde::{Deserialize, Serialize};

/// `POST /v1/admin/customers/{id}/entitlements`.
#[derive(Debug, Serialize)]
pub struct CreateEntitlement {
    /// Product.
    pub product: String,
    /// Start (Unix seconds).
    pub starts_at: i64,
    /// End (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
    /// Any JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// `PATCH .../entitlements/{id}`: absent fields stay, `Some(None)` sends `null`.
#[derive(Debug, Default, Serialize)]
pub struct UpdateEntitlement {
    /// New product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// New start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    /// New end; `Some(None)` makes it open-ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Option<i64>>,
    /// New metadata; `Some(None)` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Option<serde_json::Value>>,
}

/// An entitlement.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entitlement {
    /// Entitlement id.
    pub id: String,
    /// Its customer.
    pub customer_id: String,
    /// Product.
    pub product: String,
    /// Start (Unix seconds).
    pub starts_at: i64,
    /// End (Unix seconds).
    pub ends_at: Option<i64>,
    /// Metadata.
    pub metadata: Option<serde_json::Value>,
}

/// `GET .../entitlements`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EntitlementList {
    /// The entitlements.
    pub entitlements: Vec<Entitlement>,
    /// Page size used.
    pub limit: i64,
    /// Offset used.
    pub offset: i64,
}
