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
    /// Only these channels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// Only versions matching this requirement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<String>,
    /// Keep what was published before the end.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub perpetual_fallback: bool,
    /// A download quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_quota: Option<DownloadQuota>,
}

/// An entitlement's download quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadQuota {
    /// Downloads per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloads: Option<u64>,
    /// Bytes per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// `day` or `month`.
    pub period: String,
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
    /// New channels; `Some(None)` grants every channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Option<Vec<String>>>,
    /// New versions; `Some(None)` grants every version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Option<String>>,
    /// New perpetual fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perpetual_fallback: Option<bool>,
    /// New download quota; `Some(None)` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_quota: Option<Option<DownloadQuota>>,
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
    /// The channels granted; `None`: every channel (and servers before scopes).
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    /// The versions granted; `None`: every version.
    #[serde(default)]
    pub versions: Option<String>,
    /// Whether what was published before the end stays available.
    #[serde(default)]
    pub perpetual_fallback: bool,
    /// The download quota; `None`: no limit (and servers before quotas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_quota: Option<DownloadQuota>,
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

/// `GET /v1/admin/customers/{id}/access`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Access {
    /// The customer.
    pub customer_id: String,
    /// The release asked about.
    pub release: AccessRelease,
    /// Whether the customer may have it.
    pub allowed: bool,
    /// Why.
    pub reasons: Vec<AccessReason>,
}

/// The release an access answer is about.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessRelease {
    /// Release id.
    pub id: String,
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// Channel.
    pub channel: String,
    /// Status.
    pub status: String,
    /// Publication time.
    pub published_at: Option<i64>,
    /// Yank time.
    pub yanked_at: Option<i64>,
}

/// One reason of an access answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessReason {
    /// What decided.
    pub code: String,
    /// Whether it allows the release.
    pub allows: bool,
    /// The entitlement it is about.
    pub entitlement_id: Option<String>,
    /// In words.
    pub message: String,
}
