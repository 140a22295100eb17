//! Download ledger bodies.

use serde::{Deserialize, Serialize};

/// One ledger row.
#[derive(Debug, Serialize, Deserialize)]
pub struct LedgerRow {
    /// Row id.
    pub id: String,
    /// When (Unix seconds).
    pub at: i64,
    /// The token's customer.
    pub customer_id: String,
    /// The key that asked for the token.
    pub api_key_id: Option<String>,
    /// The artifact.
    pub artifact_id: String,
    /// Its release.
    pub release_id: String,
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// The platform.
    pub platform: String,
    /// The artifact's size.
    pub bytes: u64,
    /// The token.
    pub token_id: String,
    /// The token's purpose.
    pub purpose: Option<String>,
    /// The client's address.
    pub client_address: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// `issued`, `redirected`, or the refusal's reason.
    pub outcome: String,
}

/// `GET /v1/admin/downloads`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LedgerPage {
    /// The rows, newest first.
    pub downloads: Vec<LedgerRow>,
    /// Page size used.
    pub limit: i64,
    /// Where the next page starts.
    pub next_cursor: Option<String>,
}

/// One statistics group: only the grouping's key fields are present.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatGroup {
    /// The product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    /// The artifact's platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// Successful downloads.
    pub downloads: u64,
    /// Distinct customers.
    pub customers: u64,
    /// Bytes.
    pub bytes: u64,
}

/// `GET /v1/admin/downloads/stats`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stats {
    /// The grouping.
    pub group_by: String,
    /// The groups.
    pub groups: Vec<StatGroup>,
}
