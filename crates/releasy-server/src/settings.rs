//! Configuration: defaults < optional TOML file < `RELEASY_*` environment, read with the
//! `config` crate into plain text, then checked into [`Settings`] with errors that name
//! the offending variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use releasy_domain::audit::AuditRetention;
use releasy_domain::delivery::LedgerRetention;
use releasy_domain::rate_limit::{RateBudget, RateBudgets, TrustedProxies};
use releasy_storage_s3::{S3Config, S3ConfigError};
use releasy_store_diesel::DatabaseUrl;
use serde::Deserialize;

/// A setting is missing or invalid; `variable` is its `RELEASY_*` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable (or file key, upper-cased) at fault.
    pub variable: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn new(variable: &str, message: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            message: message.into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people.
    Human,
    /// One JSON object per line.
    Json,
}

/// Operator JWT verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSettings {
    /// Where the JWKS is.
    pub jwks_url: String,
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Expected `aud`.
    pub audience: Option<String>,
    /// Client whose `resource_access.<resource>.roles` count.
    pub resource: Option<String>,
    /// How long fetched keys are cached.
    pub jwks_ttl_seconds: u64,
    /// Clock leeway for `exp` and `nbf`.
    pub leeway_seconds: u64,
}

/// Checked settings of one server.
#[derive(Clone)]
pub struct Settings {
    /// What the sources set that is no setting of the server (a misspelt variable, a
    /// file key it does not know), as `RELEASY_*` names: ignored, and reported by
    /// `check-config` and at startup.
    pub unknown_settings: Vec<String>,
    /// Listen address.
    pub bind_addr: SocketAddr,
    /// Log level.
    pub log_level: tracing::Level,
    /// Log format.
    pub log_format: LogFormat,
    /// `RELEASY_LOG`: a full filter directive (`info,releasy_http=debug`) that overrides
    /// `log_level` when set.
    pub log_directive: Option<String>,
    /// Folder of the embedded defaults (SQLite file, generated secrets, artifacts).
    pub data_dir: PathBuf,
    /// The database; a SQLite file in `data_dir` when not configured.
    pub database_url: DatabaseUrl,
    /// Pool size.
    pub database_max_connections: usize,
    /// The admin bootstrap key.
    pub admin_api_key: Option<String>,
    /// The admin key being rotated out, still accepted while set.
    pub admin_api_key_previous: Option<String>,
    /// Mixed into key hashes.
    pub api_key_pepper: Option<String>,
    /// The pepper being rotated out (empty: the deployment had none): keys hashed
    /// under it are accepted and hashed again, tokens resolve until they expire.
    pub api_key_pepper_previous: Option<String>,
    /// Operator JWTs, when enabled.
    pub operator: Option<OperatorSettings>,
    /// Longest download token lifetime.
    pub download_token_ttl_seconds: i64,
    /// Base of the URLs this server hands out.
    pub public_base_url: String,
    /// S3 storage, when configured (otherwise the embedded filesystem store).
    pub s3: Option<S3Config>,
    /// Lifetime of presigned upload URLs.
    pub presign_expires_seconds: i64,
    /// The longest lifetime of a resolved download link.
    pub download_url_ttl_seconds: i64,
    /// Files declared larger are uploaded in parts of this size.
    pub artifact_part_size_bytes: u64,
    /// Unregistered uploads older than this are aborted and their bytes deleted.
    pub artifact_upload_ttl_seconds: i64,
    /// Registration reads objects up to this size through SHA-256 itself; larger ones
    /// (whose digest the store did not record) are verified in the background.
    pub artifact_inline_verify_max_bytes: u64,
    /// How often each instance looks for artifacts pending verification.
    pub artifact_verify_interval_seconds: u64,
    /// Whether presigned S3 uploads carry `If-None-Match: *`, so no URL replaces a
    /// stored object.
    pub artifact_conditional_put: bool,
    /// Whether every product's releases are sealed when published (a product may ask
    /// for it on its own through its policy).
    pub immutable_releases: bool,
    /// Signs the embedded store's URLs; generated into the data directory when unset.
    pub storage_signing_secret: Option<String>,
    /// The signing secret being rotated out: URLs it signed are still honoured.
    pub storage_signing_secret_previous: Option<String>,
    /// How long audit events may wait in the write-behind queue, in milliseconds.
    pub audit_flush_interval_ms: u64,
    /// How long audit events are kept (`RELEASY_AUDIT_RETENTION_DAYS`; 0: forever).
    pub audit_retention: AuditRetention,
    /// Whether downloads are recorded in the ledger (`RELEASY_DOWNLOAD_LOG`, default
    /// true).
    pub download_log: bool,
    /// How long download ledger rows are kept, in whole UTC days
    /// (`RELEASY_DOWNLOAD_LOG_RETENTION_DAYS`; 0: forever).
    pub download_log_retention: LedgerRetention,
    /// Rows each kind of cached answer may hold; 0 turns the read cache off.
    pub cache_rows: u64,
    /// How long a graceful shutdown lets requests in flight finish, in seconds.
    pub shutdown_grace_seconds: u64,
    /// Failed authentications an address may make a minute before further failures get
    /// 429; `None` (0) counts none.
    pub auth_failure_limit: Option<NonZeroU32>,
    /// Request budgets by key type; none unless configured.
    pub rate_limits: RateBudgets,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// How long a client may take to send a request's line and headers, in ms.
    pub request_head_timeout_ms: u64,
    /// The longest a request body may send nothing, in seconds.
    pub body_idle_timeout_seconds: u64,
    /// The most bytes a request's line and headers may hold.
    pub max_header_bytes: usize,
    /// The most connections one instance holds open at once.
    pub max_connections: usize,
    /// Whether `GET /metrics` is served on the public listener (`RELEASY_METRICS`).
    pub metrics_public: bool,
    /// A listener of its own for `GET /metrics` (`RELEASY_METRICS_BIND_ADDR`).
    pub metrics_bind_addr: Option<SocketAddr>,
    /// The OTLP/HTTP collector traces are sent to (`RELEASY_OTLP_ENDPOINT`); none are
    /// recorded without it.
    pub otlp_endpoint: Option<String>,
}

impl Settings {
    /// Whether metrics are recorded at all: only when something serves them.
    pub fn metrics_enabled(&self) -> bool {
        self.metrics_public || self.metrics_bind_addr.is_some()
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind_addr", &self.bind_addr)
            .field("log_level", &self.log_level)
            .field("log_directive", &self.log_directive)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.redacted())
            .field(
                "admin_api_key",
                &self.admin_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "api_key_pepper",
                &self.api_key_pepper.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "api_key_pepper_previous",
                &self.api_key_pepper_previous.as_ref().map(|_| "<redacted>"),
            )
            .field("operator", &self.operator)
            .field("public_base_url", &self.public_base_url)
            .field("s3", &self.s3)
            .field(
                "storage_signing_secret",
                &self.storage_signing_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "storage_signing_secret_previous",
                &self
                    .storage_signing_secret_previous
                    .as_ref()
                    .map(|_| "<redacted>"),
            )
            .field(
                "admin_api_key_previous",
                &self.admin_api_key_previous.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Settings under the `RELEASY_` prefix that others read, not the server's own: the
/// CLI's, which may share the server's environment.
const READ_ELSEWHERE: [&str; 5] = ["url", "api_key", "config", "operator_token", "profile"];

/// Whether `key` (after `RELEASY_`) is one of the variables Kubernetes gives a pod for
/// each Service whose name starts with `releasy` (`RELEASY_SERVICE_HOST`,
/// `RELEASY_PORT_80_TCP_ADDR`, `RELEASY_POSTGRESQL_SERVICE_PORT`, ...) unless the pod
/// sets `enableServiceLinks: false`: not a misspelt setting. Each family is known by
/// its `…SERVICE_HOST`, which must be there too (`service_hosts`, lowercase full
/// names), so a lone `RELEASY_PORT=9000` is still reported.
fn is_service_link(key: &str, service_hosts: &[String]) -> bool {
    ["service_host", "service_port", "port"]
        .iter()
        .flat_map(|marker| {
            key.match_indices(marker).filter_map(|(at, _)| {
                let (before, rest) = (&key[..at], &key[at + marker.len()..]);
                let shaped = (rest.is_empty() || rest.starts_with('_'))
                    && (before.is_empty() || before.ends_with('_'));
                shaped.then_some(before)
            })
        })
        .any(|prefix| {
            service_hosts
                .iter()
                .any(|host| *host == format!("releasy_{prefix}service_host"))
        })
}

/// Every setting as text, exactly as the sources gave it.
#[derive(Debug, Default, Deserialize)]
struct RawSettings {
    bind_addr: Option<String>,
    log: Option<String>,
    log_level: Option<String>,
    log_format: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    database_max_connections: Option<String>,
    admin_api_key: Option<String>,
    admin_api_key_previous: Option<String>,
    api_key_pepper: Option<String>,
    api_key_pepper_previous: Option<String>,
    operator_jwks_url: Option<String>,
    operator_issuer: Option<String>,
    operator_audience: Option<String>,
    operator_resource: Option<String>,
    operator_jwks_ttl_seconds: Option<String>,
    operator_jwt_leeway_seconds: Option<String>,
    download_token_ttl_seconds: Option<String>,
    download_url_ttl_seconds: Option<String>,
    public_base_url: Option<String>,
    artifact_bucket: Option<String>,
    artifact_region: Option<String>,
    artifact_endpoint: Option<String>,
    artifact_access_key: Option<String>,
    artifact_secret_key: Option<String>,
    artifact_path_style: Option<String>,
    artifact_presign_expires_seconds: Option<String>,
    artifact_part_size_bytes: Option<String>,
    artifact_upload_ttl_seconds: Option<String>,
    artifact_inline_verify_max_bytes: Option<String>,
    artifact_verify_interval_seconds: Option<String>,
    artifact_conditional_put: Option<String>,
    immutable_releases: Option<String>,
    storage_signing_secret: Option<String>,
    storage_signing_secret_previous: Option<String>,
    audit_flush_interval_ms: Option<String>,
    audit_retention_days: Option<String>,
    download_log: Option<String>,
    download_log_retention_days: Option<String>,
    cache_rows: Option<String>,
    shutdown_grace_seconds: Option<String>,
    auth_failure_limit: Option<String>,
    rate_limit_human: Option<String>,
    rate_limit_ci: Option<String>,
    rate_limit_integration: Option<String>,
    trusted_proxies: Option<String>,
    request_head_timeout_ms: Option<String>,
    body_idle_timeout_seconds: Option<String>,
    max_header_bytes: Option<String>,
    metrics: Option<String>,
    metrics_bind_addr: Option<String>,
    otlp_endpoint: Option<String>,
    max_connections: Option<String>,
}

/// The default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "releasy-data";
/// The config file read when present and no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "releasy.toml";

impl Settings {
    /// Reads the optional file (`file`, or `releasy.toml` when present) and the
    /// environment (`env`: the process environment when `None`, a fixed map in tests).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first invalid or missing variable.
    pub fn load(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let file_source = match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::new(
                        "--config",
                        format!("{} is not a readable file", path.display()),
                    ));
                }
                File::from(path).format(FileFormat::Toml).required(true)
            }
            None => File::new(DEFAULT_CONFIG_FILE, FileFormat::Toml).required(false),
        };
        let mut ignored = Vec::new();
        let env = without_blank_values(env);
        let service_hosts: Vec<String> = env
            .keys()
            .filter(|name| name.ends_with("SERVICE_HOST"))
            .map(|name| name.to_ascii_lowercase())
            .collect();
        let raw: RawSettings = Config::builder()
            .add_source(file_source)
            .add_source(
                Environment::with_prefix("RELEASY")
                    .prefix_separator("_")
                    .separator("__")
                    .source(Some(env)),
            )
            .build()
            .and_then(|config| {
                serde_ignored::deserialize(config, |path| ignored.push(path.to_string()))
            })
            .map_err(|e| ConfigError::new("config", without_quoted_lines(&e.to_string())))?;
        let mut settings = Self::check(raw)?;
        settings.unknown_settings = ignored
            .iter()
            .filter(|key| {
                !READ_ELSEWHERE.contains(&key.as_str()) && !is_service_link(key, &service_hosts)
            })
            .map(|key| format!("RELEASY_{}", key.to_ascii_uppercase().replace('.', "__")))
            .collect();
        // In a stable order: the sources are read in no particular one.
        settings.unknown_settings.sort();
        settings.unknown_settings.dedup();
        Ok(settings)
    }

    fn check(raw: RawSettings) -> Result<Self, ConfigError> {
        let admin_api_key = text(raw.admin_api_key);
        let admin_api_key_previous = text(raw.admin_api_key_previous);
        if admin_api_key_previous.is_some() && admin_api_key.is_none() {
            return Err(ConfigError::new(
                "RELEASY_ADMIN_API_KEY_PREVIOUS",
                "is a rotation's old key: set RELEASY_ADMIN_API_KEY to the new one too",
            ));
        }
        let api_key_pepper = text(raw.api_key_pepper);
        let api_key_pepper_previous = previous_pepper(raw.api_key_pepper_previous);
        if api_key_pepper_previous.is_some() && api_key_pepper.is_none() {
            return Err(ConfigError::new(
                "RELEASY_API_KEY_PEPPER_PREVIOUS",
                "is a rotation's old pepper: set RELEASY_API_KEY_PEPPER to the new one too",
            ));
        }
        let data_dir =
            PathBuf::from(text(raw.data_dir).unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned()));
        let database_url = match text(raw.database_url) {
            Some(url) => DatabaseUrl::parse(&url)
                .map_err(|e| ConfigError::new("RELEASY_DATABASE_URL", e.to_string()))?,
            None => DatabaseUrl::sqlite_file(data_dir.join("releasy.db")),
        };
        let public_base_url =
            text(raw.public_base_url).unwrap_or_else(|| DEFAULT_PUBLIC_BASE_URL.to_owned());
        http_url("RELEASY_PUBLIC_BASE_URL", &public_base_url)?;
        let public_base_url = public_base_url.trim_end_matches('/').to_owned();
        let presign_expires_seconds = number(
            "RELEASY_ARTIFACT_PRESIGN_EXPIRES_SECONDS",
            raw.artifact_presign_expires_seconds,
            900,
            1..=7 * 86_400,
        )?;
        Ok(Self {
            unknown_settings: Vec::new(),
            bind_addr: text(raw.bind_addr)
                .unwrap_or_else(|| "0.0.0.0:8080".to_owned())
                .parse()
                .map_err(|_| {
                    ConfigError::new("RELEASY_BIND_ADDR", "must be an address like 0.0.0.0:8080")
                })?,
            metrics_public: boolean("RELEASY_METRICS", raw.metrics)?,
            metrics_bind_addr: text(raw.metrics_bind_addr)
                .map(|addr| {
                    addr.parse().map_err(|_| {
                        ConfigError::new(
                            "RELEASY_METRICS_BIND_ADDR",
                            "must be an address like 127.0.0.1:9100",
                        )
                    })
                })
                .transpose()?,
            otlp_endpoint: text(raw.otlp_endpoint)
                .map(|endpoint| http_url("RELEASY_OTLP_ENDPOINT", &endpoint).map(|()| endpoint))
                .transpose()?,
            log_level: log_level(raw.log_level)?,
            log_directive: text(raw.log),
            log_format: match text(raw.log_format).as_deref() {
                None | Some("human") => LogFormat::Human,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(ConfigError::new(
                        "RELEASY_LOG_FORMAT",
                        format!("must be human or json (got `{other}`)"),
                    ));
                }
            },
            data_dir,
            database_url,
            database_max_connections: number(
                "RELEASY_DATABASE_MAX_CONNECTIONS",
                raw.database_max_connections,
                5,
                1..=1000,
            )? as usize,
            admin_api_key,
            admin_api_key_previous,
            api_key_pepper,
            api_key_pepper_previous,
            operator: operator(
                raw.operator_jwks_url,
                raw.operator_issuer,
                raw.operator_audience,
                raw.operator_resource,
                raw.operator_jwks_ttl_seconds,
                raw.operator_jwt_leeway_seconds,
            )?,
            download_token_ttl_seconds: number(
                "RELEASY_DOWNLOAD_TOKEN_TTL_SECONDS",
                raw.download_token_ttl_seconds,
                600,
                1..=7 * 86_400,
            )?,
            download_url_ttl_seconds: number(
                "RELEASY_DOWNLOAD_URL_TTL_SECONDS",
                raw.download_url_ttl_seconds,
                300,
                1..=7 * 86_400,
            )?,
            public_base_url,
            s3: s3(
                raw.artifact_bucket,
                raw.artifact_region,
                raw.artifact_endpoint,
                raw.artifact_access_key,
                raw.artifact_secret_key,
                raw.artifact_path_style,
            )?,
            presign_expires_seconds,
            artifact_part_size_bytes: number(
                "RELEASY_ARTIFACT_PART_SIZE_BYTES",
                raw.artifact_part_size_bytes,
                64 * MIB,
                5 * MIB..=5 * 1024 * MIB,
            )? as u64,
            artifact_upload_ttl_seconds: upload_ttl(
                raw.artifact_upload_ttl_seconds,
                presign_expires_seconds,
            )?,
            artifact_inline_verify_max_bytes: number(
                "RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES",
                raw.artifact_inline_verify_max_bytes,
                1024 * MIB,
                0..=5 * 1024 * 1024 * MIB,
            )? as u64,
            artifact_verify_interval_seconds: number(
                "RELEASY_ARTIFACT_VERIFY_INTERVAL_SECONDS",
                raw.artifact_verify_interval_seconds,
                2,
                1..=3600,
            )? as u64,
            artifact_conditional_put: boolean(
                "RELEASY_ARTIFACT_CONDITIONAL_PUT",
                raw.artifact_conditional_put,
            )?,
            immutable_releases: boolean("RELEASY_IMMUTABLE_RELEASES", raw.immutable_releases)?,
            storage_signing_secret: signing_secret(
                "RELEASY_STORAGE_SIGNING_SECRET",
                raw.storage_signing_secret,
            )?,
            storage_signing_secret_previous: signing_secret(
                "RELEASY_STORAGE_SIGNING_SECRET_PREVIOUS",
                raw.storage_signing_secret_previous,
            )?,
            audit_flush_interval_ms: number(
                "RELEASY_AUDIT_FLUSH_INTERVAL_MS",
                raw.audit_flush_interval_ms,
                50,
                1..=60_000,
            )? as u64,
            audit_retention: AuditRetention::days(number(
                "RELEASY_AUDIT_RETENTION_DAYS",
                raw.audit_retention_days,
                i64::from(AuditRetention::DEFAULT_DAYS),
                0..=36_500,
            )? as u32),
            download_log: text(raw.download_log.clone()).is_none()
                || boolean("RELEASY_DOWNLOAD_LOG", raw.download_log)?,
            download_log_retention: LedgerRetention::days(number(
                "RELEASY_DOWNLOAD_LOG_RETENTION_DAYS",
                raw.download_log_retention_days,
                i64::from(LedgerRetention::DEFAULT_DAYS),
                0..=36_500,
            )? as u32),
            cache_rows: number("RELEASY_CACHE_ROWS", raw.cache_rows, 10_000, 0..=10_000_000)?
                as u64,
            shutdown_grace_seconds: number(
                "RELEASY_SHUTDOWN_GRACE_SECONDS",
                raw.shutdown_grace_seconds,
                30,
                0..=3600,
            )? as u64,
            request_head_timeout_ms: number(
                "RELEASY_REQUEST_HEAD_TIMEOUT_MS",
                raw.request_head_timeout_ms,
                5_000,
                100..=60_000,
            )? as u64,
            body_idle_timeout_seconds: number(
                "RELEASY_BODY_IDLE_TIMEOUT_SECONDS",
                raw.body_idle_timeout_seconds,
                30,
                1..=3_600,
            )? as u64,
            // A generous bound; the HTTP server itself refuses heads over 128 KiB.
            max_header_bytes: number(
                "RELEASY_MAX_HEADER_BYTES",
                raw.max_header_bytes,
                16 * 1024,
                1_024..=32 * 1024,
            )? as usize,
            max_connections: number(
                "RELEASY_MAX_CONNECTIONS",
                raw.max_connections,
                25_000,
                1..=1_000_000,
            )? as usize,
            auth_failure_limit: NonZeroU32::new(number(
                "RELEASY_AUTH_FAILURE_LIMIT",
                raw.auth_failure_limit,
                100,
                0..=1_000_000,
            )? as u32),
            rate_limits: RateBudgets {
                human: budget("RELEASY_RATE_LIMIT_HUMAN", raw.rate_limit_human)?,
                ci: budget("RELEASY_RATE_LIMIT_CI", raw.rate_limit_ci)?,
                integration: budget("RELEASY_RATE_LIMIT_INTEGRATION", raw.rate_limit_integration)?,
            },
            trusted_proxies: TrustedProxies::parse(&text(raw.trusted_proxies).unwrap_or_default())
                .map_err(|e| ConfigError::new("RELEASY_TRUSTED_PROXIES", e.to_string()))?,
        })
    }
}

/// A request budget such as `600/min`; unset (or `off`) means none.
fn budget(variable: &str, value: Option<String>) -> Result<Option<RateBudget>, ConfigError> {
    match text(value) {
        None => Ok(None),
        Some(off) if off.eq_ignore_ascii_case("off") => Ok(None),
        Some(budget) => RateBudget::parse(&budget)
            .map(Some)
            .map_err(|e| ConfigError::new(variable, e.to_string())),
    }
}

/// The environment's `RELEASY_*` variables (`env` in tests), without those set to
/// nothing: an empty variable counts as unset, so a config file's value stands
/// (`EnvironmentFile`s and manifests often set every variable, some empty). The one
/// exception is the previous pepper, for which empty means "there was none".
fn without_blank_values(env: Option<HashMap<String, String>>) -> HashMap<String, String> {
    let env = env.unwrap_or_else(|| {
        std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| name.starts_with("RELEASY_"))
            .collect()
    });
    env.into_iter()
        .filter(|(name, value)| {
            !value.trim().is_empty() || name == "RELEASY_API_KEY_PEPPER_PREVIOUS"
        })
        .collect()
}

/// Trimmed text; empty counts as unset.
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `RELEASY_API_KEY_PEPPER_PREVIOUS`: unlike other settings, set but empty means
/// something, "the deployment had no pepper", so a pepper can be introduced with
/// the same grace as it is changed.
fn previous_pepper(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned())
}

const MIB: i64 = 1024 * 1024;

/// Where links point when `RELEASY_PUBLIC_BASE_URL` is unset (SPEC).
pub(crate) const DEFAULT_PUBLIC_BASE_URL: &str = "http://127.0.0.1:8080";

/// `RELEASY_ARTIFACT_UPLOAD_TTL_SECONDS`: at most 30 days, and never shorter than an
/// upload URL lives (an upload is not swept while its URLs work). Unset, a day, or an
/// hour more than upload URLs live when that is longer (an hour to register an upload
/// that ended as its URL expired): a deployment that set only
/// `RELEASY_ARTIFACT_PRESIGN_EXPIRES_SECONDS` (up to 7 days, as the reference allows)
/// starts as it did.
fn upload_ttl(value: Option<String>, presign_expires_seconds: i64) -> Result<i64, ConfigError> {
    const VARIABLE: &str = "RELEASY_ARTIFACT_UPLOAD_TTL_SECONDS";
    let default = (presign_expires_seconds + 3_600).max(86_400);
    let ttl = number(VARIABLE, value, default, 1..=30 * 86_400)?;
    if ttl < presign_expires_seconds {
        return Err(ConfigError::new(
            VARIABLE,
            format!(
                "must be at least RELEASY_ARTIFACT_PRESIGN_EXPIRES_SECONDS ({presign_expires_seconds}): an upload is not swept while its URLs work"
            ),
        ));
    }
    Ok(ttl)
}

/// A signing secret, when set: at least 32 characters.
fn signing_secret(variable: &str, value: Option<String>) -> Result<Option<String>, ConfigError> {
    match text(value) {
        Some(secret) if secret.len() < 32 => {
            Err(ConfigError::new(variable, "must be at least 32 characters"))
        }
        other => Ok(other),
    }
}

fn number(
    variable: &str,
    value: Option<String>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let Some(value) = text(value) else {
        return Ok(default);
    };
    value
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                format!(
                    "must be a whole number from {} to {} (got `{value}`)",
                    range.start(),
                    range.end()
                ),
            )
        })
}

fn boolean(variable: &str, value: Option<String>) -> Result<bool, ConfigError> {
    match text(value).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(ConfigError::new(
            variable,
            format!("must be true or false (got `{other}`)"),
        )),
    }
}

/// A parse error of the config file without the lines it quotes: the TOML parser shows
/// the failing line under a caret, and that line may hold a secret (a password in
/// `database_url`, the admin key). What is left names the line, the column and why.
fn without_quoted_lines(message: &str) -> String {
    message
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            let quoted = line.trim_start_matches(|c: char| c.is_ascii_digit());
            !(quoted.trim_start().starts_with('|'))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Refuses what is not an http(s) URL with a host, naming what it got without showing
/// it: a rejected URL may carry credentials or a token.
fn http_url(variable: &str, value: &str) -> Result<(), ConfigError> {
    let got = match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            return Ok(());
        }
        Ok(url) if matches!(url.scheme(), "http" | "https") => "a URL without a host".to_owned(),
        Ok(url) => format!("a `{}:` URL", url.scheme()),
        Err(_) => "something that is not a URL".to_owned(),
    };
    Err(ConfigError::new(
        variable,
        format!("must be an http:// or https:// URL (got {got})"),
    ))
}

fn log_level(value: Option<String>) -> Result<tracing::Level, ConfigError> {
    let value = text(value).unwrap_or_else(|| "info".to_owned());
    match value.to_ascii_lowercase().as_str() {
        "trace" => Ok(tracing::Level::TRACE),
        "debug" => Ok(tracing::Level::DEBUG),
        "info" => Ok(tracing::Level::INFO),
        "warn" => Ok(tracing::Level::WARN),
        "error" => Ok(tracing::Level::ERROR),
        _ => Err(ConfigError::new(
            "RELEASY_LOG_LEVEL",
            format!("must be one of trace, debug, info, warn, error (got `{value}`)"),
        )),
    }
}

fn operator(
    jwks_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    ttl: Option<String>,
    leeway: Option<String>,
) -> Result<Option<OperatorSettings>, ConfigError> {
    // Checked whether or not sign-in is configured: a value that means nothing is an
    // error before it is needed.
    let jwks_ttl_seconds =
        number("RELEASY_OPERATOR_JWKS_TTL_SECONDS", ttl, 300, 1..=86_400)? as u64;
    let leeway_seconds =
        number("RELEASY_OPERATOR_JWT_LEEWAY_SECONDS", leeway, 0, 0..=3_600)? as u64;
    let Some(jwks_url) = text(jwks_url) else {
        return Ok(None);
    };
    http_url("RELEASY_OPERATOR_JWKS_URL", &jwks_url)?;
    Ok(Some(OperatorSettings {
        jwks_url,
        issuer: text(issuer),
        audience: text(audience),
        resource: text(resource),
        jwks_ttl_seconds,
        leeway_seconds,
    }))
}

fn s3(
    bucket: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    access_key: Option<String>,
    secret_key: Option<String>,
    path_style: Option<String>,
) -> Result<Option<S3Config>, ConfigError> {
    let (bucket, region, endpoint, access_key, secret_key) = (
        text(bucket),
        text(region),
        text(endpoint),
        text(access_key),
        text(secret_key),
    );
    let required = [
        ("RELEASY_ARTIFACT_BUCKET", &bucket),
        ("RELEASY_ARTIFACT_REGION", &region),
        ("RELEASY_ARTIFACT_ACCESS_KEY", &access_key),
        ("RELEASY_ARTIFACT_SECRET_KEY", &secret_key),
    ];
    let missing: Vec<&str> = required
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| *name)
        .collect();
    // Checked whether or not S3 is configured: a value that means nothing is an error
    // before it is needed.
    let path_style = boolean("RELEASY_ARTIFACT_PATH_STYLE", path_style)?;
    // Path style alone changes nothing (templates often set every variable to its
    // default); an endpoint alone means S3 was meant, so the missing four are named.
    if missing.len() == required.len() && endpoint.is_none() {
        return Ok(None);
    }
    if !missing.is_empty() {
        return Err(ConfigError::new(
            &missing.join(", "),
            "missing: the S3 storage variables RELEASY_ARTIFACT_BUCKET, _REGION, _ACCESS_KEY and _SECRET_KEY are set together or not at all",
        ));
    }
    if let Some(endpoint) = &endpoint {
        http_url("RELEASY_ARTIFACT_ENDPOINT", endpoint)?;
    }
    let (Some(bucket), Some(region), Some(access_key), Some(secret_key)) =
        (bucket, region, access_key, secret_key)
    else {
        return Ok(None);
    };
    let config = S3Config {
        bucket,
        region,
        endpoint,
        access_key,
        secret_key,
        path_style,
    };
    // The store's own checks, here so that they stop startup before anything is
    // opened. The messages name what is wrong, not the values: an endpoint may carry
    // credentials.
    match config.validate() {
        Ok(()) => Ok(Some(config)),
        Err(S3ConfigError::UnknownRegion(_)) => Err(ConfigError::new(
            "RELEASY_ARTIFACT_REGION",
            "is not an AWS region this server knows: set RELEASY_ARTIFACT_ENDPOINT to the store's URL to sign for another",
        )),
        Err(S3ConfigError::InvalidEndpoint(_)) => Err(ConfigError::new(
            "RELEASY_ARTIFACT_ENDPOINT",
            "must be the store's base URL, http(s)://host[:port], without a path, query or user info",
        )),
        Err(other) => Err(ConfigError::new(
            "RELEASY_ARTIFACT_*",
            format!("refused by the S3 store: {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(None, Some(env))
    }

    #[test]
    fn no_configuration_gives_the_embedded_defaults() {
        let s = load(&[]).unwrap();
        assert_eq!(s.bind_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(
            s.database_url,
            DatabaseUrl::sqlite_file(PathBuf::from("releasy-data/releasy.db"))
        );
        assert_eq!(s.database_max_connections, 5);
        assert_eq!(s.download_token_ttl_seconds, 600);
        assert_eq!(s.presign_expires_seconds, 900);
        assert_eq!(s.download_url_ttl_seconds, 300);
        assert_eq!(s.artifact_part_size_bytes, 64 * 1024 * 1024);
        assert_eq!(s.artifact_upload_ttl_seconds, 86_400);
        assert_eq!(s.artifact_inline_verify_max_bytes, 1024 * 1024 * 1024);
        assert_eq!(s.artifact_verify_interval_seconds, 2);
        assert!(
            !s.artifact_conditional_put,
            "old clients send no upload_headers"
        );
        assert!(
            !s.immutable_releases,
            "the reference lets published releases change"
        );
        assert_eq!(s.cache_rows, 10_000);
        assert_eq!(s.audit_retention.days_kept(), Some(400));
        assert_eq!(s.download_log_retention.days_kept(), Some(400));
        assert!(s.download_log, "the ledger is on by default");
        assert_eq!(s.shutdown_grace_seconds, 30);
        assert_eq!(s.auth_failure_limit, NonZeroU32::new(100));
        assert_eq!(
            s.rate_limits,
            RateBudgets::default(),
            "the reference has no budgets: an upgrade must not refuse a busy customer"
        );
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.public_base_url, "http://127.0.0.1:8080");
        assert!(s.s3.is_none() && s.operator.is_none() && s.admin_api_key.is_none());
    }

    #[test]
    fn environment_variables_map_to_settings() {
        let s = load(&[
            ("RELEASY_BIND_ADDR", "127.0.0.1:9000"),
            ("RELEASY_DATABASE_URL", "postgres://u:p@h/db"),
            ("RELEASY_DATABASE_MAX_CONNECTIONS", "12"),
            ("RELEASY_ADMIN_API_KEY", "k"),
            ("RELEASY_DATA_DIR", "/srv/releasy"),
            ("RELEASY_PUBLIC_BASE_URL", "https://releases.example.com/"),
            ("RELEASY_IMMUTABLE_RELEASES", "true"),
            ("RELEASY_AUDIT_RETENTION_DAYS", "0"),
            ("RELEASY_DOWNLOAD_LOG_RETENTION_DAYS", "30"),
            ("RELEASY_DOWNLOAD_LOG", "false"),
        ])
        .unwrap();
        assert!(!s.download_log);
        assert_eq!(s.download_log_retention.days_kept(), Some(30));
        assert_eq!(s.bind_addr.port(), 9000);
        assert_eq!(
            s.audit_retention.days_kept(),
            None,
            "0 keeps events forever"
        );
        assert!(s.immutable_releases);
        assert_eq!(
            s.database_url,
            DatabaseUrl::Postgres("postgres://u:p@h/db".into())
        );
        assert_eq!(s.database_max_connections, 12);
        assert_eq!(s.admin_api_key.as_deref(), Some("k"));
        assert_eq!(s.data_dir, PathBuf::from("/srv/releasy"));
        assert_eq!(s.public_base_url, "https://releases.example.com");
    }

    #[test]
    fn a_sqlite_url_with_the_references_parameters_names_its_file() {
        let s = load(&[("RELEASY_DATABASE_URL", "sqlite://data/releasy.db?mode=rwc")]).unwrap();
        assert_eq!(s.database_url, DatabaseUrl::sqlite_file("data/releasy.db"));
    }

    #[test]
    fn rate_limits_read_budgets_proxies_and_an_off_switch() {
        let s = load(&[
            ("RELEASY_AUTH_FAILURE_LIMIT", "0"),
            ("RELEASY_RATE_LIMIT_HUMAN", "600/min"),
            ("RELEASY_RATE_LIMIT_CI", "Off"),
            ("RELEASY_RATE_LIMIT_INTEGRATION", "20/s"),
            ("RELEASY_TRUSTED_PROXIES", "10.0.0.0/8 fd00::/8"),
        ])
        .unwrap();
        assert_eq!(s.auth_failure_limit, None);
        assert_eq!(
            s.rate_limits.human,
            Some(RateBudget::parse("600/min").unwrap())
        );
        assert_eq!(s.rate_limits.ci, None);
        assert_eq!(
            s.rate_limits.integration.map(|b| b.to_string()).as_deref(),
            Some("20/s")
        );
        assert!(s.trusted_proxies.trusts("10.1.2.3".parse().unwrap()));
        assert!(s.trusted_proxies.trusts("fd00::7".parse().unwrap()));
    }

    #[test]
    fn upload_urls_living_past_a_day_lengthen_the_default_upload_lifetime() {
        let s = load(&[("RELEASY_ARTIFACT_PRESIGN_EXPIRES_SECONDS", "172800")]).unwrap();
        assert_eq!(s.presign_expires_seconds, 172_800);
        assert_eq!(s.artifact_upload_ttl_seconds, 172_800 + 3_600);
        let err = load(&[
            ("RELEASY_ARTIFACT_PRESIGN_EXPIRES_SECONDS", "172800"),
            ("RELEASY_ARTIFACT_UPLOAD_TTL_SECONDS", "86400"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "RELEASY_ARTIFACT_UPLOAD_TTL_SECONDS");
    }

    #[test]
    fn invalid_values_name_their_variable() {
        for (var, value) in [
            ("RELEASY_LOG_LEVEL", "loud"),
            ("RELEASY_BIND_ADDR", "nowhere"),
            ("RELEASY_DATABASE_URL", "mysql://x"),
            ("RELEASY_PUBLIC_BASE_URL", "not a url"),
            ("RELEASY_OPERATOR_JWKS_URL", "ftp://idp/jwks"),
            ("RELEASY_DATABASE_MAX_CONNECTIONS", "0"),
            ("RELEASY_DOWNLOAD_TOKEN_TTL_SECONDS", "ten"),
            ("RELEASY_DOWNLOAD_URL_TTL_SECONDS", "0"),
            ("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5242879"),
            ("RELEASY_ARTIFACT_PART_SIZE_BYTES", "5368709121"),
            ("RELEASY_ARTIFACT_UPLOAD_TTL_SECONDS", "899"),
            ("RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES", "-1"),
            ("RELEASY_ARTIFACT_VERIFY_INTERVAL_SECONDS", "0"),
            ("RELEASY_ARTIFACT_CONDITIONAL_PUT", "sometimes"),
            ("RELEASY_IMMUTABLE_RELEASES", "maybe"),
            ("RELEASY_STORAGE_SIGNING_SECRET", "too-short"),
            ("RELEASY_AUDIT_FLUSH_INTERVAL_MS", "0"),
            ("RELEASY_AUDIT_RETENTION_DAYS", "-1"),
            ("RELEASY_AUDIT_RETENTION_DAYS", "36501"),
            ("RELEASY_DOWNLOAD_LOG_RETENTION_DAYS", "-1"),
            ("RELEASY_DOWNLOAD_LOG", "sometimes"),
            ("RELEASY_DOWNLOAD_LOG_RETENTION_DAYS", "36501"),
            ("RELEASY_CACHE_ROWS", "-1"),
            ("RELEASY_SHUTDOWN_GRACE_SECONDS", "3601"),
            ("RELEASY_DATABASE_URL", "sqlite://data/releasy.db?mode=ro"),
            ("RELEASY_DATABASE_URL", "sqlite://data/releasy.db?foo=bar"),
            ("RELEASY_AUTH_FAILURE_LIMIT", "-1"),
            ("RELEASY_AUTH_FAILURE_LIMIT", "many"),
            ("RELEASY_RATE_LIMIT_HUMAN", "600"),
            ("RELEASY_RATE_LIMIT_CI", "0/min"),
            ("RELEASY_RATE_LIMIT_INTEGRATION", "600/fortnight"),
            ("RELEASY_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
            ("RELEASY_OTLP_ENDPOINT", "collector:4318"),
            ("RELEASY_OTLP_ENDPOINT", "grpc://collector:4317"),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}: {err}");
        }
    }

    #[test]
    fn a_partial_storage_set_names_the_missing_variables() {
        let err = load(&[
            ("RELEASY_ARTIFACT_BUCKET", "b"),
            ("RELEASY_ARTIFACT_REGION", "r"),
        ])
        .unwrap_err();
        assert_eq!(
            err.variable,
            "RELEASY_ARTIFACT_ACCESS_KEY, RELEASY_ARTIFACT_SECRET_KEY"
        );
        let err = load(&[("RELEASY_ARTIFACT_ENDPOINT", "http://minio:9000")]).unwrap_err();
        assert!(err.variable.contains("RELEASY_ARTIFACT_BUCKET"));
        for path_style in ["false", "true"] {
            let embedded = load(&[("RELEASY_ARTIFACT_PATH_STYLE", path_style)]).unwrap();
            assert!(embedded.s3.is_none(), "path style alone is not S3");
        }
        // A value that means nothing is refused, S3 (or operator sign-in) or not.
        for (variable, value) in [
            ("RELEASY_ARTIFACT_PATH_STYLE", "maybe"),
            ("RELEASY_OPERATOR_JWKS_TTL_SECONDS", "abc"),
            ("RELEASY_OPERATOR_JWT_LEEWAY_SECONDS", "-1"),
        ] {
            let err = load(&[(variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable);
        }
        let s = load(&[
            ("RELEASY_ARTIFACT_BUCKET", "b"),
            ("RELEASY_ARTIFACT_REGION", "us-east-1"),
            ("RELEASY_ARTIFACT_ACCESS_KEY", "a"),
            ("RELEASY_ARTIFACT_SECRET_KEY", "s"),
            ("RELEASY_ARTIFACT_PATH_STYLE", "true"),
        ])
        .unwrap();
        assert!(s.s3.unwrap().path_style);
    }

    /// What the S3 store would refuse at startup is refused with the settings, before
    /// the database is opened: an unknown region without an endpoint (R2's `auto`), an
    /// endpoint with a path. The message does not show the endpoint (it may carry
    /// credentials).
    #[test]
    fn storage_settings_the_store_refuses_are_configuration_errors() {
        let s3 = |region: &str, endpoint: Option<&str>| {
            let mut vars = vec![
                ("RELEASY_ARTIFACT_BUCKET", "b"),
                ("RELEASY_ARTIFACT_REGION", region),
                ("RELEASY_ARTIFACT_ACCESS_KEY", "a"),
                ("RELEASY_ARTIFACT_SECRET_KEY", "s"),
            ];
            vars.extend(endpoint.map(|e| ("RELEASY_ARTIFACT_ENDPOINT", e)));
            load(&vars)
        };
        let err = s3("auto", None).unwrap_err();
        assert_eq!(err.variable, "RELEASY_ARTIFACT_REGION");
        let err = s3("us-east-1", Some("http://minio:9000/s3")).unwrap_err();
        assert_eq!(err.variable, "RELEASY_ARTIFACT_ENDPOINT");
        let err = s3("us-east-1", Some("https://user:hunter2@minio:9000")).unwrap_err();
        assert_eq!(err.variable, "RELEASY_ARTIFACT_ENDPOINT");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(s3("auto", Some("https://account.r2.cloudflarestorage.com")).is_ok());
        assert!(s3("eu-central-1", None).is_ok());
    }

    /// A misspelt variable or file key is ignored and named (the database URL's typo
    /// would run each instance on a SQLite file of its own); `RELEASY_LOG` (a setting
    /// of its own) and the CLI's variables, which may share the environment, are not.
    #[test]
    fn settings_the_server_does_not_know_are_named() {
        let s = load(&[
            ("RELEASY_DATABSE_URL", "postgres://db/releasy"),
            ("RELEASY_LOG", "debug"),
            ("RELEASY_URL", "https://releasy.example.com"),
            ("RELEASY_API_KEY", "releasy_x"),
            ("RELEASY_PROFILE", "prod"),
        ])
        .unwrap();
        assert_eq!(s.unknown_settings, ["RELEASY_DATABSE_URL"]);
        // What Kubernetes gives a pod for Services named `releasy` and
        // `releasy-postgresql` (a chart's database).
        let linked = load(&[
            ("RELEASY_SERVICE_HOST", "10.0.0.1"),
            ("RELEASY_SERVICE_PORT", "80"),
            ("RELEASY_SERVICE_PORT_HTTP", "80"),
            ("RELEASY_PORT", "tcp://10.0.0.1:80"),
            ("RELEASY_PORT_80_TCP", "tcp://10.0.0.1:80"),
            ("RELEASY_PORT_80_TCP_ADDR", "10.0.0.1"),
            ("RELEASY_POSTGRESQL_SERVICE_HOST", "10.0.0.2"),
            ("RELEASY_POSTGRESQL_SERVICE_PORT", "5432"),
            ("RELEASY_POSTGRESQL_PORT_5432_TCP_PORT", "5432"),
        ])
        .unwrap();
        assert!(
            linked.unknown_settings.is_empty(),
            "{:?}",
            linked.unknown_settings
        );
        assert!(load(&[]).unwrap().unknown_settings.is_empty());
        // Without its Service's host, a port is a guess at a setting (the bind
        // address), reported.
        let guess = load(&[("RELEASY_PORT", "9000")]).unwrap();
        assert_eq!(guess.unknown_settings, ["RELEASY_PORT"]);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("releasy.toml");
        std::fs::write(&path, "bind_adr = \"127.0.0.1:7000\"\n").unwrap();
        let from_file = Settings::load(Some(&path), Some(HashMap::new())).unwrap();
        assert_eq!(from_file.unknown_settings, ["RELEASY_BIND_ADR"]);
    }

    #[test]
    fn a_config_file_is_read_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("releasy.toml");
        std::fs::write(
            &path,
            "bind_addr = \"127.0.0.1:7000\"\nlog_level = \"debug\"\ndatabase_max_connections = 3\n",
        )
        .unwrap();
        let env = HashMap::from([("RELEASY_LOG_LEVEL".to_owned(), "warn".to_owned())]);
        let s = Settings::load(Some(&path), Some(env)).unwrap();
        assert_eq!(s.bind_addr.port(), 7000);
        assert_eq!(s.database_max_connections, 3);
        assert_eq!(s.log_level, tracing::Level::WARN);
    }

    /// `log` in the file is the directive, as `RELEASY_LOG` is (it was once left to the
    /// logger, which read only the environment: a file's `log` was ignored unreported).
    #[test]
    fn a_log_directive_is_read_from_the_file_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("releasy.toml");
        std::fs::write(&path, "log = \"info,releasy_http=debug\"\n").unwrap();
        let from_file = Settings::load(Some(&path), Some(HashMap::new())).unwrap();
        assert_eq!(
            from_file.log_directive.as_deref(),
            Some("info,releasy_http=debug")
        );
        assert!(from_file.unknown_settings.is_empty(), "{from_file:?}");
        let env = HashMap::from([("RELEASY_LOG".to_owned(), "warn".to_owned())]);
        let both = Settings::load(Some(&path), Some(env)).unwrap();
        assert_eq!(both.log_directive.as_deref(), Some("warn"));
    }

    #[test]
    fn an_empty_variable_leaves_the_config_files_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("releasy.toml");
        std::fs::write(
            &path,
            "bind_addr = \"127.0.0.1:7000\"\napi_key_pepper = \"from-the-file\"\n\
             database_url = \"sqlite:///srv/releasy.db\"\n",
        )
        .unwrap();
        let env = HashMap::from([
            ("RELEASY_BIND_ADDR".to_owned(), String::new()),
            ("RELEASY_API_KEY_PEPPER".to_owned(), "  ".to_owned()),
            ("RELEASY_DATABASE_URL".to_owned(), String::new()),
        ]);
        let s = Settings::load(Some(&path), Some(env)).unwrap();
        assert_eq!(s.bind_addr.port(), 7000);
        assert_eq!(s.api_key_pepper.as_deref(), Some("from-the-file"));
        assert_eq!(
            s.database_url,
            DatabaseUrl::parse("sqlite:///srv/releasy.db").unwrap()
        );
    }

    #[test]
    fn the_example_config_file_in_deploy_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/releasy.toml.example");
        let s = Settings::load(Some(&path), Some(HashMap::new())).unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.database_max_connections, 10);
        assert_eq!(s.public_base_url, "https://releases.example.com");
    }

    #[test]
    fn a_previous_pepper_needs_a_current_one_and_may_be_empty() {
        let err = load(&[("RELEASY_API_KEY_PEPPER_PREVIOUS", "old")]).unwrap_err();
        assert_eq!(err.variable, "RELEASY_API_KEY_PEPPER_PREVIOUS");
        let rotating = load(&[
            ("RELEASY_API_KEY_PEPPER", "new"),
            ("RELEASY_API_KEY_PEPPER_PREVIOUS", "old"),
        ])
        .unwrap();
        assert_eq!(rotating.api_key_pepper_previous.as_deref(), Some("old"));
        let introduced = load(&[
            ("RELEASY_API_KEY_PEPPER", "new"),
            ("RELEASY_API_KEY_PEPPER_PREVIOUS", ""),
        ])
        .unwrap();
        assert_eq!(
            introduced.api_key_pepper_previous.as_deref(),
            Some(""),
            "set but empty: the deployment had no pepper"
        );
        assert_eq!(load(&[]).unwrap().api_key_pepper_previous, None);
    }

    #[test]
    fn a_previous_admin_key_needs_a_current_one_and_secrets_are_checked() {
        let err = load(&[("RELEASY_ADMIN_API_KEY_PREVIOUS", "old")]).unwrap_err();
        assert_eq!(err.variable, "RELEASY_ADMIN_API_KEY_PREVIOUS");
        let rotating = load(&[
            ("RELEASY_ADMIN_API_KEY", "new"),
            ("RELEASY_ADMIN_API_KEY_PREVIOUS", "old"),
        ])
        .unwrap();
        assert_eq!(rotating.admin_api_key_previous.as_deref(), Some("old"));
        let err = load(&[("RELEASY_STORAGE_SIGNING_SECRET_PREVIOUS", "short")]).unwrap_err();
        assert_eq!(err.variable, "RELEASY_STORAGE_SIGNING_SECRET_PREVIOUS");
        let hostile = load(&[("RELEASY_MAX_HEADER_BYTES", "100")]).unwrap_err();
        assert_eq!(hostile.variable, "RELEASY_MAX_HEADER_BYTES");
        let defaults = load(&[]).unwrap();
        assert_eq!(
            (
                defaults.request_head_timeout_ms,
                defaults.body_idle_timeout_seconds,
                defaults.max_header_bytes,
                defaults.max_connections
            ),
            (5_000, 30, 16_384, 25_000)
        );
    }

    /// A config file that does not parse is named by line and column, never by its
    /// text: the failing line may hold a password or a key.
    #[test]
    fn a_file_that_does_not_parse_is_refused_without_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("releasy.toml");
        std::fs::write(
            &path,
            "database_url = \"postgres://releasy:pa\\ss-w0rd@db/releasy\"\n",
        )
        .unwrap();
        let err = Settings::load(Some(&path), Some(HashMap::new())).unwrap_err();
        let shown = err.to_string();
        assert!(!shown.contains("ss-w0rd"), "{shown}");
        assert!(shown.contains("line 1"), "{shown}");
    }

    #[test]
    fn a_rejected_url_is_not_shown() {
        for (value, got) in [
            ("grpcs://tenant:T0KEN@otel:4317", "a `grpcs:` URL"),
            ("file:///etc/T0KEN", "a `file:` URL"),
            ("not a url T0KEN", "something that is not a URL"),
        ] {
            let err = http_url("RELEASY_OTLP_ENDPOINT", value).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(got), "{shown}");
            assert!(!shown.contains("T0KEN"), "{shown}");
        }
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Settings::load(
            Some(Path::new("/nonexistent/releasy.toml")),
            Some(HashMap::new()),
        )
        .unwrap_err();
        assert_eq!(err.variable, "--config");
    }
}
