//! Download ledger bodies: rows, pages, statistics.

use releasy_domain::delivery::{DownloadRecord, DownloadStat, StatsKey, iso_date};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /v1/admin/downloads` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadListQuery {
    /// Rows of this customer.
    pub customer_id: Option<String>,
    /// Rows of this product.
    pub product: Option<String>,
    /// Rows of this version.
    pub version: Option<String>,
    /// Rows of this artifact.
    pub artifact_id: Option<String>,
    /// Rows that ended this way: `issued`, `redirected` (a link handed out), or a
    /// refusal: `suspended`, `expired`, `address_not_allowed`, `not_available`,
    /// `yanked`, `not_verified`, `used_up`, `quota_exceeded`.
    pub outcome: Option<String>,
    /// At or after (Unix seconds).
    #[param(value_type = Option<i64>)]
    pub from: Option<String>,
    /// At or before (Unix seconds).
    #[param(value_type = Option<i64>)]
    pub to: Option<String>,
    /// Page size, 1 to 200 (default 50); ignored by a CSV export, which streams every
    /// row.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `csv` streams every matching row as CSV (as `Accept: text/csv` does); `json`
    /// (the default) answers one page.
    pub format: Option<String>,
}

/// `GET /v1/downloads` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerDownloadsQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One ledger row: a token issued, or a resolve and how it ended.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DownloadRecordResponse {
    /// Row id.
    pub id: String,
    /// When (Unix seconds).
    pub at: i64,
    /// The token's customer.
    pub customer_id: String,
    /// The key that asked for the token (`null` for tokens issued before the ledger).
    pub api_key_id: Option<String>,
    /// The artifact.
    pub artifact_id: String,
    /// Its release.
    pub release_id: String,
    /// The release's product.
    pub product: String,
    /// The release's version.
    pub version: String,
    /// The artifact's platform.
    pub platform: String,
    /// The artifact's size in bytes.
    pub bytes: u64,
    /// The download token.
    pub token_id: String,
    /// The token's `purpose`, or `null`.
    pub purpose: Option<String>,
    /// The client's address (behind a trusted proxy, the client it names), or `null`.
    pub client_address: Option<String>,
    /// The client's `User-Agent` (at most 256 characters, control characters
    /// replaced by spaces), or `null`.
    pub user_agent: Option<String>,
    /// `issued`, `redirected`, or the refusal's reason.
    pub outcome: String,
}

impl From<DownloadRecord> for DownloadRecordResponse {
    fn from(r: DownloadRecord) -> Self {
        Self {
            id: r.id.to_string(),
            at: r.at.unix_seconds(),
            customer_id: r.customer_id.to_string(),
            api_key_id: r.api_key_id.map(|id| id.to_string()),
            artifact_id: r.subject.artifact_id.to_string(),
            release_id: r.subject.release_id.to_string(),
            product: r.subject.product.into_string(),
            version: r.subject.version.into_string(),
            platform: r.subject.platform.into_string(),
            bytes: r.subject.bytes,
            token_id: r.token_id.to_string(),
            purpose: r.purpose,
            client_address: r.requester.address.map(|ip| ip.to_string()),
            user_agent: r.requester.user_agent.map(|ua| ua.as_str().to_owned()),
            outcome: r.outcome.as_str().to_owned(),
        }
    }
}

impl DownloadRecordResponse {
    /// The CSV export's header: the JSON field names, in order.
    pub const CSV_HEADER: [&'static str; 15] = [
        "id",
        "at",
        "customer_id",
        "api_key_id",
        "artifact_id",
        "release_id",
        "product",
        "version",
        "platform",
        "bytes",
        "token_id",
        "purpose",
        "client_address",
        "user_agent",
        "outcome",
    ];

    /// The row's CSV fields, in [`Self::CSV_HEADER`] order; `null` is an empty field.
    /// Free text (`product`, `version`, `platform`, which a publisher chose; `purpose`
    /// and `user_agent`, which a client chose) that a spreadsheet would run as a formula
    /// gets a leading `'`.
    pub fn csv_fields(&self) -> [String; 15] {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        [
            self.id.clone(),
            self.at.to_string(),
            self.customer_id.clone(),
            text(&self.api_key_id),
            self.artifact_id.clone(),
            self.release_id.clone(),
            spreadsheet_safe(self.product.clone()),
            spreadsheet_safe(self.version.clone()),
            spreadsheet_safe(self.platform.clone()),
            self.bytes.to_string(),
            self.token_id.clone(),
            spreadsheet_safe(text(&self.purpose)),
            text(&self.client_address),
            spreadsheet_safe(text(&self.user_agent)),
            self.outcome.clone(),
        ]
    }
}

/// `text`, with a leading `'` when a spreadsheet would read it as a formula (OWASP's
/// advice against CSV injection).
fn spreadsheet_safe(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// A page of ledger rows, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DownloadListResponse {
    /// The rows.
    pub downloads: Vec<DownloadRecordResponse>,
    /// The page size used.
    pub limit: i64,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/admin/downloads/stats` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadStatsQuery {
    /// `product`, `version`, `artifact`, `customer` or `day` (UTC).
    pub group_by: Option<String>,
    /// Only this product.
    pub product: Option<String>,
    /// Only this customer.
    pub customer_id: Option<String>,
    /// From the UTC day of this instant (Unix seconds).
    #[param(value_type = Option<i64>)]
    pub from: Option<String>,
    /// To the UTC day of this instant, included (Unix seconds).
    #[param(value_type = Option<i64>)]
    pub to: Option<String>,
    // The listing's filters that statistics cannot apply, read only to refuse them:
    // totals that silently ignored one would not be what they claim.
    /// Refused: group by version instead.
    #[param(ignore)]
    pub version: Option<String>,
    /// Refused: group by artifact instead.
    #[param(ignore)]
    pub artifact_id: Option<String>,
    /// Refused unless `redirected`: statistics count successful downloads only.
    #[param(ignore)]
    pub outcome: Option<String>,
}

impl DownloadStatsQuery {
    /// The first listing filter given that statistics cannot apply, and what to do
    /// instead.
    pub fn unsupported_filter(&self) -> Option<(&'static str, &'static str)> {
        [
            ("version", &self.version, "group by version instead"),
            (
                "artifact_id",
                &self.artifact_id,
                "group by artifact instead",
            ),
            (
                "outcome",
                &self.outcome,
                "they count successful downloads only",
            ),
        ]
        .into_iter()
        .find_map(|(field, value, instead)| {
            // Empty values are ignored as everywhere (SPEC); `outcome=redirected` is
            // what statistics count anyway.
            let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
            (!(field == "outcome" && value == "redirected")).then_some((field, instead))
        })
    }
}

/// One group's counts; only the fields of the grouping are present.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DownloadStatResponse {
    /// The product (groupings `product`, `version`, `artifact`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The version (groupings `version`, `artifact`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The artifact (grouping `artifact`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    /// The artifact's platform (grouping `artifact`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The customer (grouping `customer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The UTC day, `YYYY-MM-DD` (grouping `day`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// Successful downloads: links handed out (`redirected`).
    pub downloads: u64,
    /// Distinct customers they went to.
    pub customers: u64,
    /// The bytes of the artifacts behind them.
    pub bytes: u64,
}

impl From<DownloadStat> for DownloadStatResponse {
    fn from(stat: DownloadStat) -> Self {
        let mut group = Self {
            product: None,
            version: None,
            artifact_id: None,
            platform: None,
            customer_id: None,
            day: None,
            downloads: stat.downloads,
            customers: stat.customers,
            bytes: stat.bytes,
        };
        match stat.key {
            StatsKey::Product(product) => group.product = Some(product.into_string()),
            StatsKey::Version(product, version) => {
                group.product = Some(product.into_string());
                group.version = Some(version.into_string());
            }
            StatsKey::Artifact {
                artifact_id,
                product,
                version,
                platform,
            } => {
                group.artifact_id = Some(artifact_id.to_string());
                group.product = Some(product.into_string());
                group.version = Some(version.into_string());
                group.platform = Some(platform.into_string());
            }
            StatsKey::Customer(customer) => group.customer_id = Some(customer.to_string()),
            StatsKey::Day(day) => group.day = Some(iso_date(day)),
        }
        group
    }
}

/// Statistics, one entry per group: days in calendar order, other groupings most
/// downloads first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DownloadStatsResponse {
    /// The grouping used.
    pub group_by: String,
    /// The groups.
    pub groups: Vec<DownloadStatResponse>,
}
