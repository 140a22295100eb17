//! Entitlement bodies.

use releasy_domain::ValidationError;
use releasy_domain::entitlement::{
    AccessExplanation, AccessReason, DownloadQuota, Entitlement, QuotaPeriod,
};
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
    /// The channels granted (`stable`, `rc`, `beta`, `alpha`, `dev`); absent or
    /// `null` grants every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["stable", "rc"]))]
    pub channels: Option<Vec<String>>,
    /// The versions granted, as a semver requirement (`>=2.0, <3`); absent or `null`
    /// grants every version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = ">=2.0, <3")]
    pub versions: Option<String>,
    /// Whether releases published before `ends_at` stay available after it (default
    /// false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perpetual_fallback: Option<bool>,
    /// A limit on downloads through this entitlement per period; absent or `null`: no
    /// limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_quota: Option<DownloadQuotaBody>,
}

/// An entitlement's download quota: at most `downloads` downloads (resolves that hand
/// out a link) and at most `bytes` bytes (each download counted at its artifact's size)
/// per `period`, a UTC day or a calendar month in UTC. At least one limit. Any other
/// field is refused: a misspelt limit must not leave the quota without it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuotaBody {
    /// Downloads per period (1 or more), or absent/`null` for no download limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64, example = 100)]
    pub downloads: Option<u64>,
    /// Bytes per period (1 or more), or absent/`null` for no byte limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        minimum = 1,
        maximum = 9_223_372_036_854_775_807_i64,
        example = 53_687_091_200_i64
    )]
    pub bytes: Option<u64>,
    /// `day` or `month`.
    #[schema(example = "month")]
    pub period: String,
}

impl DownloadQuotaBody {
    /// The quota, through the domain's rules.
    ///
    /// # Errors
    /// [`ValidationError`] on `download_quota` or one of its fields.
    pub fn parse(&self) -> Result<DownloadQuota, ValidationError> {
        DownloadQuota::new(
            self.downloads,
            self.bytes,
            QuotaPeriod::parse(&self.period)?,
        )
    }
}

impl From<DownloadQuota> for DownloadQuotaBody {
    fn from(quota: DownloadQuota) -> Self {
        Self {
            downloads: quota.downloads(),
            bytes: quota.bytes(),
            period: quota.period().as_str().to_owned(),
        }
    }
}

/// `PATCH .../entitlements/{entitlement_id}`: every field optional; `null` clears
/// `ends_at`, `metadata`, `channels` (every channel) or `versions` (every version).
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
    /// New channels; `null` grants every channel.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub channels: Option<Option<Vec<String>>>,
    /// New version requirement; `null` grants every version.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<String>)]
    pub versions: Option<Option<String>>,
    /// New perpetual fallback.
    #[serde(default)]
    pub perpetual_fallback: Option<bool>,
    /// New download quota (replaces the old one whole); `null` removes the limit. The
    /// counts of the current period stay: raising a limit gives room at once.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<DownloadQuotaBody>)]
    pub download_quota: Option<Option<DownloadQuotaBody>>,
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
    /// The channels granted, most stable first; left out when every channel is (so
    /// an entitlement without a scope looks as it always did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// The versions granted (a semver requirement); left out when every version is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<String>,
    /// Whether releases published before `ends_at` stay available after it; left out
    /// when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub perpetual_fallback: bool,
    /// The download quota; left out when downloads are not limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_quota: Option<DownloadQuotaBody>,
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
            channels: e
                .scope
                .channels
                .map(|cs| cs.iter().map(|c| c.as_str().to_owned()).collect()),
            versions: e.scope.versions.map(|v| v.as_str().to_owned()),
            perpetual_fallback: e.scope.perpetual_fallback,
            download_quota: e.download_quota.map(DownloadQuotaBody::from),
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

/// `GET /v1/admin/customers/{customer_id}/access` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    /// The product.
    #[param(required = true)]
    pub product: Option<String>,
    /// The release's version.
    #[param(required = true)]
    pub version: Option<String>,
}

/// The release an access question is about.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessRelease {
    /// Release id.
    pub id: String,
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// Channel.
    pub channel: String,
    /// `draft` or `published`.
    pub status: String,
    /// When it was published (Unix seconds), or `null`.
    pub published_at: Option<i64>,
    /// When it was yanked (Unix seconds), or `null`.
    pub yanked_at: Option<i64>,
}

/// One reason of an access decision.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessReasonBody {
    /// What decided: `allowed`, `fallback_covers`, `no_entitlement`, `not_started`,
    /// `ended`, `channel_not_granted`, `version_not_granted`, `customer_suspended`,
    /// `release_not_published`, `release_yanked`.
    #[schema(example = "version_not_granted")]
    pub code: String,
    /// Whether this reason allows the release.
    pub allows: bool,
    /// The entitlement it is about, or `null` (customer, release, no entitlement).
    pub entitlement_id: Option<String>,
    /// The reason in words.
    #[schema(example = "entitlement 0b5e... grants only versions >=2.0, <3")]
    pub message: String,
}

impl From<AccessReason> for AccessReasonBody {
    fn from(reason: AccessReason) -> Self {
        Self {
            code: reason.code().to_owned(),
            allows: reason.allows(),
            entitlement_id: reason.entitlement().map(|id| id.to_string()),
            message: reason.to_string(),
        }
    }
}

/// Whether a customer may have a release now, and why.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessResponse {
    /// Its customer.
    pub customer_id: String,
    /// The release asked about.
    pub release: AccessRelease,
    /// Whether the customer's keys may list the release and get download tokens for
    /// it.
    pub allowed: bool,
    /// Why: the customer's and the release's state when they refuse, then one reason
    /// per entitlement to the product.
    pub reasons: Vec<AccessReasonBody>,
}

impl AccessResponse {
    /// The explanation, for `customer_id`.
    pub fn new(customer_id: String, explanation: AccessExplanation) -> Self {
        let release = explanation.release;
        Self {
            customer_id,
            release: AccessRelease {
                id: release.id.to_string(),
                channel: release.channel.as_str().to_owned(),
                status: release.status.as_str().to_owned(),
                published_at: release.published_at.map(|t| t.unix_seconds()),
                yanked_at: release.yank.as_ref().map(|y| y.at.unix_seconds()),
                product: release.product.into_string(),
                version: release.version.into_string(),
            },
            allowed: explanation.allowed,
            reasons: explanation.reasons.into_iter().map(Into::into).collect(),
        }
    }
}
