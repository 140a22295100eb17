//! Operator commands: customers, keys, entitlements, products, audit events, the
//! download ledger.

use clap::{Args, Subcommand};

/// `releasy customer ...`.
#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Create a customer
    Create {
        /// Display name
        #[arg(long)]
        name: String,
        /// Plan, such as core or enterprise
        #[arg(long)]
        plan: Option<String>,
    },
    /// List customers, newest first
    List {
        /// Name contains this text (case-insensitive)
        #[arg(long)]
        name: Option<String>,
        /// Plan equals this text (case-insensitive)
        #[arg(long)]
        plan: Option<String>,
        /// Page size (1 to 200)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: Option<u32>,
        /// The next_cursor of the previous page
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Walk every page
        #[arg(long)]
        all: bool,
    },
    /// Show one customer
    Get {
        /// Customer id
        customer_id: String,
    },
    /// Suspend a customer: its keys and download links stop working at once
    Suspend {
        /// Customer id
        customer_id: String,
    },
    /// Lift a suspension
    Unsuspend {
        /// Customer id
        customer_id: String,
    },
}

/// `releasy key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a customer API key (the key is shown only once)
    Create {
        /// Customer id
        #[arg(long)]
        customer: String,
        /// A label
        #[arg(long)]
        name: Option<String>,
        /// A scope (repeat or separate with commas); every scope when omitted
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<String>,
        /// Expiry: Unix seconds, 2026-01-01 or 2026-01-01T00:00:00Z
        #[arg(long, value_parser = parse_time_arg)]
        expires_at: Option<i64>,
        /// Key type
        #[arg(long = "type", value_parser = ["human", "ci", "integration"])]
        key_type: Option<String>,
        /// A range the key may be used from, such as 203.0.113.0/24 (repeat or separate
        /// with commas); anywhere when omitted
        #[arg(long = "allowed-cidr", value_delimiter = ',')]
        allowed_cidrs: Vec<String>,
    },
    /// Revoke a key
    Revoke {
        /// Key id
        api_key_id: String,
    },
    /// List a customer's keys: settings and last use, never a secret
    List {
        /// Customer id
        #[arg(long)]
        customer: String,
    },
    /// Change a key's name or the addresses it may be used from
    Update {
        /// Key id
        api_key_id: String,
        /// New name
        #[arg(long, conflicts_with = "clear_name")]
        name: Option<String>,
        /// Remove the name
        #[arg(long)]
        clear_name: bool,
        /// A range the key may be used from (repeat or separate with commas); replaces
        /// the current list
        #[arg(
            long = "allowed-cidr",
            value_delimiter = ',',
            conflicts_with = "any_address"
        )]
        allowed_cidrs: Vec<String>,
        /// Let the key be used from any address
        #[arg(long)]
        any_address: bool,
    },
    /// Replace a key by a new one with the same settings; the old one keeps working for
    /// the overlap (the new key is shown only once)
    Rotate {
        /// Key id
        api_key_id: String,
        /// Seconds the old key keeps working, 0 to 2592000 [default: 86400, a day]
        #[arg(long)]
        overlap_seconds: Option<i64>,
    },
}

/// `releasy entitlement ...`.
#[derive(Debug, Subcommand)]
pub enum EntitlementCommand {
    /// Entitle a customer to a product
    Grant {
        /// Customer id
        #[arg(long)]
        customer: String,
        /// Product
        #[arg(long)]
        product: String,
        /// Start: Unix seconds or a date [default: 0, always]
        #[arg(long, value_parser = parse_time_arg, default_value = "0")]
        starts_at: i64,
        /// End: Unix seconds or a date [default: open-ended]
        #[arg(long, value_parser = parse_time_arg)]
        ends_at: Option<i64>,
        /// Metadata, a JSON object
        #[arg(long, value_parser = parse_json_object)]
        metadata: Option<serde_json::Value>,
        /// Grant only these channels, comma-separated (stable, rc, beta, alpha, dev)
        /// [default: every channel]
        #[arg(long, value_delimiter = ',')]
        channels: Option<Vec<String>>,
        /// Grant only versions matching this semver requirement, such as '>=2.0, <3'
        /// [default: every version]
        #[arg(long)]
        versions: Option<String>,
        /// Keep the releases published before the end available after it
        #[arg(long)]
        perpetual_fallback: bool,
        /// Limit downloads through this entitlement per period [default: no limit]
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// List a customer's entitlements
    List {
        /// Customer id
        #[arg(long)]
        customer: String,
        /// Only this product
        #[arg(long)]
        product: Option<String>,
        /// Page size (1 to 200)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: Option<u32>,
        /// Entitlements to skip
        #[arg(long)]
        offset: Option<u64>,
    },
    /// Change an entitlement
    Update {
        /// Customer id
        #[arg(long)]
        customer: String,
        /// Entitlement id
        entitlement_id: String,
        /// New product
        #[arg(long)]
        product: Option<String>,
        /// New start
        #[arg(long, value_parser = parse_time_arg)]
        starts_at: Option<i64>,
        /// New end
        #[arg(long, value_parser = parse_time_arg, conflicts_with = "no_end")]
        ends_at: Option<i64>,
        /// Make it open-ended
        #[arg(long)]
        no_end: bool,
        /// New metadata, a JSON object
        #[arg(long, value_parser = parse_json_object, conflicts_with = "clear_metadata")]
        metadata: Option<serde_json::Value>,
        /// Remove the metadata
        #[arg(long)]
        clear_metadata: bool,
        /// Grant only these channels, comma-separated
        #[arg(long, value_delimiter = ',', conflicts_with = "all_channels")]
        channels: Option<Vec<String>>,
        /// Grant every channel again
        #[arg(long)]
        all_channels: bool,
        /// Grant only versions matching this semver requirement
        #[arg(long, conflicts_with = "all_versions")]
        versions: Option<String>,
        /// Grant every version again
        #[arg(long)]
        all_versions: bool,
        /// Keep (true) or stop keeping (false) the releases published before the end
        #[arg(long, value_name = "BOOL")]
        perpetual_fallback: Option<bool>,
        /// A new download quota, replacing the old one whole
        #[command(flatten)]
        quota: QuotaArgs,
        /// Remove the download quota: no limit
        #[arg(long, conflicts_with_all = ["quota_downloads", "quota_bytes", "quota_period"])]
        no_quota: bool,
    },
    /// Remove an entitlement
    Revoke {
        /// Customer id
        #[arg(long)]
        customer: String,
        /// Entitlement id
        entitlement_id: String,
    },
    /// Explain whether a customer may have one release now, and why
    Access {
        /// Customer id
        #[arg(long)]
        customer: String,
        /// Product
        #[arg(long)]
        product: String,
        /// The release's version
        #[arg(long)]
        version: String,
    },
}

/// An entitlement's download quota: at most N downloads and/or SIZE bytes per day or
/// month (UTC).
#[derive(Debug, Clone, clap::Args)]
pub struct QuotaArgs {
    /// Downloads allowed per period
    #[arg(long, value_name = "N", requires = "quota_period", value_parser = clap::value_parser!(u64).range(1..))]
    pub quota_downloads: Option<u64>,
    /// Bytes allowed per period: a number of bytes, or with a unit (500MB, 50GiB)
    #[arg(long, value_name = "SIZE", requires = "quota_period", value_parser = parse_byte_size)]
    pub quota_bytes: Option<u64>,
    /// The quota's period: day (UTC) or month (calendar month, UTC)
    #[arg(long, value_name = "PERIOD", value_parser = ["day", "month"])]
    pub quota_period: Option<String>,
}

/// `releasy product ...`.
#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// List products by name, with release counts and latest versions
    List {
        /// Page size (1 to 200)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: Option<u32>,
        /// Products to skip
        #[arg(long)]
        offset: Option<u64>,
    },
    /// Show a product's release policy, or set it
    Policy {
        /// The product
        product: String,
        /// Seal its releases when published (true), or stop sealing new ones (false)
        #[arg(long, value_name = "BOOL")]
        immutable_releases: Option<bool>,
    },
}

/// `releasy audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first
    List {
        /// About this customer
        #[arg(long)]
        customer: Option<String>,
        /// By this actor, such as api_key
        #[arg(long)]
        actor: Option<String>,
        /// This event, such as api_key.auth
        #[arg(long)]
        event: Option<String>,
        /// At or after: Unix seconds or a date
        #[arg(long, value_parser = parse_time_arg)]
        from: Option<i64>,
        /// At or before: Unix seconds, or a date (to its end)
        #[arg(long, value_parser = parse_end_time_arg)]
        to: Option<i64>,
        /// Page size (1 to 200)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: Option<u32>,
        /// Events to skip
        #[arg(long)]
        offset: Option<u64>,
    },
}

/// Which ledger rows: every filter is optional.
#[derive(Debug, Args)]
pub struct LedgerFilter {
    /// Rows of this customer
    #[arg(long)]
    pub customer: Option<String>,
    /// Rows of this product
    #[arg(long)]
    pub product: Option<String>,
    /// Rows of this version
    #[arg(long)]
    pub version: Option<String>,
    /// Rows of this artifact
    #[arg(long)]
    pub artifact: Option<String>,
    /// Rows that ended this way: issued, redirected, or a refusal such as expired
    #[arg(long)]
    pub outcome: Option<String>,
    /// At or after: Unix seconds or a date
    #[arg(long, value_parser = parse_time_arg)]
    pub from: Option<i64>,
    /// At or before: Unix seconds, or a date (to its end)
    #[arg(long, value_parser = parse_end_time_arg)]
    pub to: Option<i64>,
}

/// `releasy downloads ...`.
#[derive(Debug, Subcommand)]
pub enum DownloadsCommand {
    /// List ledger rows, newest first: tokens issued, links followed, refusals
    List {
        /// Which rows
        #[command(flatten)]
        filter: LedgerFilter,
        /// Page size (1 to 200)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: Option<u32>,
        /// Continue after this position (the `next_cursor` of the previous page)
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Successful downloads, distinct customers and bytes per group
    Stats {
        /// product, version, artifact, customer or day
        #[arg(long, value_parser = ["product", "version", "artifact", "customer", "day"])]
        group_by: String,
        /// Only this product
        #[arg(long)]
        product: Option<String>,
        /// Only this customer
        #[arg(long)]
        customer: Option<String>,
        /// From this instant's UTC day: Unix seconds or a date
        #[arg(long, value_parser = parse_time_arg)]
        from: Option<i64>,
        /// To this instant's UTC day, included: Unix seconds or a date
        #[arg(long, value_parser = parse_time_arg)]
        to: Option<i64>,
    },
    /// Stream every matching row as CSV, to standard output or a file
    Export {
        /// CSV (the one export format)
        #[arg(long, required = true)]
        csv: bool,
        /// Which rows
        #[command(flatten)]
        filter: LedgerFilter,
        /// Write to this file instead of standard output
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

fn parse_time_arg(raw: &str) -> Result<i64, String> {
    crate::output::parse_time(raw)
}

fn parse_end_time_arg(raw: &str) -> Result<i64, String> {
    crate::output::parse_end_time(raw)
}

fn parse_byte_size(raw: &str) -> Result<u64, String> {
    parse_size::parse_size(raw).map_err(|e| format!("{e} (a number of bytes, or 500MB, 50GiB)"))
}

fn parse_json_object(raw: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("must be a JSON object, such as '{\"seats\": 10}'".to_owned()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}
