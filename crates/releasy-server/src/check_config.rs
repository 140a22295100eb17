//! `releasy-server check-config`: the effective configuration, one `RELEASY_*` variable
//! per line with secrets masked, and the checks that a loadable configuration can still
//! fail. Nothing is connected to: it answers "what would the server run with", so it can
//! run in a deployment pipeline before the database or the store exists. The files the
//! database URL names for TLS are read, as the server would at startup.

use std::io::{self, Write};

use crate::bootstrap::ADMIN_KEY_FILE;
use crate::settings::{DEFAULT_PUBLIC_BASE_URL, LogFormat, Settings};
use crate::storage::SIGNING_KEY_FILE;
use releasy_domain::ports::ErrorChain;

/// The shortest admin key accepted without complaint. Customer keys are 256-bit random;
/// the admin key is the one secret a person chooses, and the one that rules them all.
pub const ADMIN_KEY_MIN_CHARS: usize = 32;

/// Something wrong with settings that loaded: `serve` warns about it, `check-config`
/// fails on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The `RELEASY_*` variable at fault.
    pub variable: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// What is wrong with `settings` beyond what loading them checks.
pub fn findings(settings: &Settings) -> Vec<Finding> {
    let mut found = Vec::new();
    if let Some(directive) = settings.log_directive.as_deref()
        && let Err(err) = tracing_subscriber::EnvFilter::try_new(directive)
    {
        found.push(Finding {
            variable: "RELEASY_LOG".to_owned(),
            message: format!(
                "does not parse ({err}); the server would ignore it and log at RELEASY_LOG_LEVEL"
            ),
        });
    }
    if let Some(key) = &settings.admin_api_key {
        let length = key.chars().count();
        if length < ADMIN_KEY_MIN_CHARS {
            found.push(Finding {
                variable: "RELEASY_ADMIN_API_KEY".to_owned(),
                message: format!(
                    "is {length} characters long; use at least {ADMIN_KEY_MIN_CHARS} random ones (for example `openssl rand -base64 32`)"
                ),
            });
        }
    }
    if let Err(err) = settings.database_url.check_tls_files() {
        found.push(Finding {
            variable: "RELEASY_DATABASE_URL".to_owned(),
            message: ErrorChain(&err).to_string(),
        });
    }
    if let Some(everyone) = settings.trusted_proxies.catch_all() {
        found.push(Finding {
            variable: "RELEASY_TRUSTED_PROXIES".to_owned(),
            message: format!(
                "trusts {everyone}, every address: any client can name its own address in X-Forwarded-For, and pass the keys' address rules, escape the failure limit and write what it likes into the audit trail and the download ledger; list the proxies' own ranges"
            ),
        });
    }
    if let Some(message) = links_to_where_nothing_listens(settings) {
        found.push(Finding {
            variable: "RELEASY_PUBLIC_BASE_URL".to_owned(),
            message,
        });
    }
    let known: Vec<&str> = effective(settings)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for unknown in &settings.unknown_settings {
        let message = match closest(unknown, &known) {
            Some(meant) => {
                format!("is no setting of the server and is ignored; did you mean {meant}?")
            }
            None => "is no setting of the server and is ignored".to_owned(),
        };
        found.push(Finding {
            variable: unknown.clone(),
            message,
        });
    }
    found
}

/// When the public base URL is the default (unset, or set to it as the Debian package's
/// file does) and the server listens on another port than its: every download link and
/// embedded-store upload URL would point where this server does not answer. Another
/// URL is taken as meant (a proxy or a port mapping on the same host may answer there).
fn links_to_where_nothing_listens(settings: &Settings) -> Option<String> {
    if settings.public_base_url != DEFAULT_PUBLIC_BASE_URL {
        return None;
    }
    let public = url::Url::parse(&settings.public_base_url).ok()?;
    let port = public.port_or_known_default()?;
    let listening = settings.bind_addr.port();
    (port != listening).then(|| {
        format!(
            "is the default, {}, but the server listens on port {listening} (RELEASY_BIND_ADDR): every download link and upload URL would point where it does not answer; set it to the address clients reach the server at",
            settings.public_base_url
        )
    })
}

/// The known name closest to `unknown`, when it is close enough to be a misspelling
/// of it (a few letters apart).
fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|name| (strsim::levenshtein(unknown, name), *name))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// `url` with its password and its query, if it has them, masked: a collector URL
/// may carry a password, a JWKS URL an access token in its query.
fn without_secrets(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.password().is_some() {
        // Setting a password fails only on URLs that cannot have one.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        parsed.set_query(Some("***"));
    }
    parsed.to_string()
}

/// Every setting as `(variable, shown value)`, in the order of docs/configuration.md.
/// Secrets show only whether they are set; a
/// database, collector or JWKS URL's password (and the latter two's query) is masked.
pub fn effective(settings: &Settings) -> Vec<(&'static str, String)> {
    let data_dir = settings.data_dir.display();
    let operator = settings.operator.as_ref();
    let s3 = settings.s3.as_ref();
    let unset = |meaning: &str| format!("(unset: {meaning})");
    let budget_line = |budget: Option<releasy_domain::rate_limit::RateBudget>| {
        budget.map_or_else(|| unset("no budget"), |budget| budget.to_string())
    };
    let mut lines = vec![
        ("RELEASY_BIND_ADDR", settings.bind_addr.to_string()),
        (
            "RELEASY_LOG_LEVEL",
            settings.log_level.to_string().to_ascii_lowercase(),
        ),
        (
            "RELEASY_LOG_FORMAT",
            match settings.log_format {
                LogFormat::Human => "human".to_owned(),
                LogFormat::Json => "json".to_owned(),
            },
        ),
        ("RELEASY_DATA_DIR", data_dir.to_string()),
        ("RELEASY_DATABASE_URL", settings.database_url.redacted()),
        (
            "RELEASY_DATABASE_MAX_CONNECTIONS",
            settings.database_max_connections.to_string(),
        ),
        (
            "RELEASY_ADMIN_API_KEY",
            match (&settings.admin_api_key, operator) {
                (Some(key), _) => secret(key),
                (None, Some(_)) => unset("only operator tokens administer"),
                (None, None) => unset(&format!(
                    "generated into {data_dir}/{ADMIN_KEY_FILE} on first start"
                )),
            },
        ),
        (
            "RELEASY_ADMIN_API_KEY_PREVIOUS",
            settings
                .admin_api_key_previous
                .as_deref()
                .map_or_else(|| unset("no rotation in progress"), secret),
        ),
        (
            "RELEASY_API_KEY_PEPPER",
            settings
                .api_key_pepper
                .as_deref()
                .map_or_else(|| unset("key hashes are not peppered"), secret),
        ),
        (
            "RELEASY_API_KEY_PEPPER_PREVIOUS",
            match settings.api_key_pepper_previous.as_deref() {
                None => unset("no rotation in progress"),
                Some("") => {
                    "(set, empty: keys hashed without a pepper are accepted and hashed again)"
                        .to_owned()
                }
                Some(previous) => secret(previous),
            },
        ),
        (
            "RELEASY_OPERATOR_JWKS_URL",
            operator.map_or_else(
                || unset("operator sign-in is off"),
                |o| without_secrets(&o.jwks_url),
            ),
        ),
    ];
    if let Some(operator) = operator {
        let any = |value: &Option<String>| value.clone().unwrap_or_else(|| unset("any"));
        lines.extend([
            ("RELEASY_OPERATOR_ISSUER", any(&operator.issuer)),
            ("RELEASY_OPERATOR_AUDIENCE", any(&operator.audience)),
            (
                "RELEASY_OPERATOR_RESOURCE",
                operator
                    .resource
                    .clone()
                    .unwrap_or_else(|| unset("realm roles only")),
            ),
            (
                "RELEASY_OPERATOR_JWKS_TTL_SECONDS",
                operator.jwks_ttl_seconds.to_string(),
            ),
            (
                "RELEASY_OPERATOR_JWT_LEEWAY_SECONDS",
                operator.leeway_seconds.to_string(),
            ),
        ]);
    }
    lines.extend([
        (
            "RELEASY_DOWNLOAD_TOKEN_TTL_SECONDS",
            settings.download_token_ttl_seconds.to_string(),
        ),
        (
            "RELEASY_DOWNLOAD_URL_TTL_SECONDS",
            settings.download_url_ttl_seconds.to_string(),
        ),
        ("RELEASY_PUBLIC_BASE_URL", settings.public_base_url.clone()),
        (
            "RELEASY_ARTIFACT_BUCKET",
            s3.map_or_else(
                || {
                    unset(&format!(
                        "artifacts go to the embedded store in {data_dir}/objects"
                    ))
                },
                |s3| s3.bucket.clone(),
            ),
        ),
    ]);
    if let Some(s3) = s3 {
        lines.extend([
            ("RELEASY_ARTIFACT_REGION", s3.region.clone()),
            // Not a secret to AWS, but half of a credential: kept out of pipeline logs.
            ("RELEASY_ARTIFACT_ACCESS_KEY", secret(&s3.access_key)),
            ("RELEASY_ARTIFACT_SECRET_KEY", secret(&s3.secret_key)),
            (
                "RELEASY_ARTIFACT_ENDPOINT",
                s3.endpoint
                    .clone()
                    .unwrap_or_else(|| unset("AWS S3 for the region")),
            ),
            ("RELEASY_ARTIFACT_PATH_STYLE", s3.path_style.to_string()),
        ]);
    }
    lines.extend([
        (
            "RELEASY_ARTIFACT_PRESIGN_EXPIRES_SECONDS",
            settings.presign_expires_seconds.to_string(),
        ),
        (
            "RELEASY_ARTIFACT_PART_SIZE_BYTES",
            settings.artifact_part_size_bytes.to_string(),
        ),
        (
            "RELEASY_ARTIFACT_UPLOAD_TTL_SECONDS",
            settings.artifact_upload_ttl_seconds.to_string(),
        ),
        (
            "RELEASY_ARTIFACT_INLINE_VERIFY_MAX_BYTES",
            settings.artifact_inline_verify_max_bytes.to_string(),
        ),
        (
            "RELEASY_ARTIFACT_VERIFY_INTERVAL_SECONDS",
            settings.artifact_verify_interval_seconds.to_string(),
        ),
        (
            "RELEASY_IMMUTABLE_RELEASES",
            settings.immutable_releases.to_string(),
        ),
        (
            "RELEASY_ARTIFACT_CONDITIONAL_PUT",
            settings.artifact_conditional_put.to_string(),
        ),
        (
            "RELEASY_STORAGE_SIGNING_SECRET",
            settings.storage_signing_secret.as_deref().map_or_else(
                || unset(&format!("generated into {data_dir}/{SIGNING_KEY_FILE}")),
                secret,
            ),
        ),
        (
            "RELEASY_STORAGE_SIGNING_SECRET_PREVIOUS",
            settings
                .storage_signing_secret_previous
                .as_deref()
                .map_or_else(|| unset("no rotation in progress"), secret),
        ),
        (
            "RELEASY_AUDIT_FLUSH_INTERVAL_MS",
            settings.audit_flush_interval_ms.to_string(),
        ),
        (
            "RELEASY_AUDIT_RETENTION_DAYS",
            settings
                .audit_retention
                .days_kept()
                .map_or_else(|| "0 (kept forever)".to_owned(), |days| days.to_string()),
        ),
        ("RELEASY_DOWNLOAD_LOG", settings.download_log.to_string()),
        (
            "RELEASY_DOWNLOAD_LOG_RETENTION_DAYS",
            settings
                .download_log_retention
                .days_kept()
                .map_or_else(|| "0 (kept forever)".to_owned(), |days| days.to_string()),
        ),
        ("RELEASY_CACHE_ROWS", settings.cache_rows.to_string()),
        ("RELEASY_METRICS", settings.metrics_public.to_string()),
        (
            "RELEASY_METRICS_BIND_ADDR",
            settings
                .metrics_bind_addr
                .map_or_else(|| unset("no metrics listener"), |addr| addr.to_string()),
        ),
        (
            "RELEASY_OTLP_ENDPOINT",
            settings
                .otlp_endpoint
                .as_deref()
                .map_or_else(|| unset("no traces"), without_secrets),
        ),
        (
            "RELEASY_SHUTDOWN_GRACE_SECONDS",
            settings.shutdown_grace_seconds.to_string(),
        ),
        (
            "RELEASY_REQUEST_HEAD_TIMEOUT_MS",
            settings.request_head_timeout_ms.to_string(),
        ),
        (
            "RELEASY_BODY_IDLE_TIMEOUT_SECONDS",
            settings.body_idle_timeout_seconds.to_string(),
        ),
        (
            "RELEASY_MAX_HEADER_BYTES",
            settings.max_header_bytes.to_string(),
        ),
        (
            "RELEASY_MAX_CONNECTIONS",
            settings.max_connections.to_string(),
        ),
        (
            "RELEASY_AUTH_FAILURE_LIMIT",
            settings.auth_failure_limit.map_or_else(
                || "0 (off)".to_owned(),
                |limit| format!("{limit} a minute per address"),
            ),
        ),
        (
            "RELEASY_RATE_LIMIT_HUMAN",
            budget_line(settings.rate_limits.human),
        ),
        (
            "RELEASY_RATE_LIMIT_CI",
            budget_line(settings.rate_limits.ci),
        ),
        (
            "RELEASY_RATE_LIMIT_INTEGRATION",
            budget_line(settings.rate_limits.integration),
        ),
        (
            "RELEASY_TRUSTED_PROXIES",
            if settings.trusted_proxies.is_empty() {
                unset("X-Forwarded-For is ignored")
            } else {
                settings.trusted_proxies.to_string()
            },
        ),
        (
            "RELEASY_LOG",
            settings
                .log_directive
                .clone()
                .unwrap_or_else(|| unset("RELEASY_LOG_LEVEL decides")),
        ),
    ]);
    lines
}

/// A secret shows only that it is set, and its length (which tells a truncated paste).
fn secret(value: &str) -> String {
    format!("(set, {} characters, hidden)", value.chars().count())
}

/// Writes the effective configuration to `out` and each finding to `problems`; `true`
/// when there is none.
///
/// # Errors
/// When either output cannot be written.
pub fn run(settings: &Settings, out: &mut dyn Write, problems: &mut dyn Write) -> io::Result<bool> {
    let lines = effective(settings);
    let width = lines.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in &lines {
        writeln!(out, "{name:width$}  {value}")?;
    }
    let found = findings(settings);
    for finding in &found {
        writeln!(
            problems,
            "releasy-server check-config: {}: {}",
            finding.variable, finding.message
        )?;
    }
    Ok(found.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::path::Path;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(None, Some(env)).unwrap()
    }

    fn shown(settings: &Settings) -> HashMap<&'static str, String> {
        effective(settings).into_iter().collect()
    }

    const EVERYTHING: &[(&str, &str)] = &[
        ("RELEASY_LOG", "info,releasy_http=debug"),
        (
            "RELEASY_ADMIN_API_KEY",
            "an-admin-key-of-forty-characters-0123456",
        ),
        ("RELEASY_API_KEY_PEPPER", "pepper-secret"),
        (
            "RELEASY_DATABASE_URL",
            "postgres://releasy:db-secret@db/releasy",
        ),
        (
            "RELEASY_OPERATOR_JWKS_URL",
            "https://idp:jwks-secret@idp.example.com/jwks?token=jwks-token",
        ),
        ("RELEASY_OPERATOR_ISSUER", "https://idp.example.com"),
        ("RELEASY_ARTIFACT_BUCKET", "artifacts"),
        ("RELEASY_ARTIFACT_REGION", "eu-west-1"),
        ("RELEASY_ARTIFACT_ACCESS_KEY", "AKIAEXAMPLE"),
        ("RELEASY_ARTIFACT_SECRET_KEY", "s3-secret"),
        ("RELEASY_ARTIFACT_ENDPOINT", "http://minio:9000"),
        (
            "RELEASY_OTLP_ENDPOINT",
            "https://tenant:otlp-secret@otel.example.com",
        ),
        (
            "RELEASY_STORAGE_SIGNING_SECRET",
            "signing-secret-of-at-least-32-characters",
        ),
    ];

    #[test]
    fn secrets_show_only_that_they_are_set() {
        let all = effective(&settings(EVERYTHING));
        for secret in [
            "AKIAEXAMPLE",
            "an-admin-key",
            "pepper-secret",
            "db-secret",
            "s3-secret",
            "signing-secret",
            "otlp-secret",
            "jwks-secret",
            "jwks-token",
        ] {
            assert!(
                all.iter().all(|(_, value)| !value.contains(secret)),
                "{secret} shown in {all:?}"
            );
        }
        let shown: HashMap<_, _> = all.into_iter().collect();
        assert_eq!(
            shown["RELEASY_ADMIN_API_KEY"],
            "(set, 40 characters, hidden)"
        );
        assert_eq!(
            shown["RELEASY_ARTIFACT_SECRET_KEY"],
            "(set, 9 characters, hidden)"
        );
        assert_eq!(
            shown["RELEASY_DATABASE_URL"],
            "postgres://releasy:***@db/releasy"
        );
        assert_eq!(
            shown["RELEASY_ARTIFACT_ACCESS_KEY"],
            "(set, 11 characters, hidden)"
        );
        assert_eq!(shown["RELEASY_OPERATOR_ISSUER"], "https://idp.example.com");
        assert_eq!(shown["RELEASY_OPERATOR_AUDIENCE"], "(unset: any)");
        assert_eq!(
            shown["RELEASY_OTLP_ENDPOINT"],
            "https://tenant:***@otel.example.com/"
        );
        assert_eq!(
            shown["RELEASY_OPERATOR_JWKS_URL"],
            "https://idp:***@idp.example.com/jwks?***"
        );
    }

    #[test]
    fn defaults_are_shown_with_what_unset_means() {
        let shown = shown(&settings(&[]));
        assert_eq!(shown["RELEASY_BIND_ADDR"], "0.0.0.0:8080");
        assert_eq!(shown["RELEASY_LOG_LEVEL"], "info");
        assert_eq!(
            shown["RELEASY_DATABASE_URL"],
            "sqlite://releasy-data/releasy.db"
        );
        assert_eq!(
            shown["RELEASY_ADMIN_API_KEY"],
            "(unset: generated into releasy-data/admin-api-key on first start)"
        );
        assert!(
            shown["RELEASY_ARTIFACT_BUCKET"]
                .starts_with("(unset: artifacts go to the embedded store")
        );
        assert_eq!(shown["RELEASY_ARTIFACT_PART_SIZE_BYTES"], "67108864");
        assert!(
            !shown.contains_key("RELEASY_ARTIFACT_SECRET_KEY"),
            "no S3, no S3 details"
        );
    }

    #[test]
    fn every_documented_variable_is_shown_when_its_feature_is_on() {
        let docs = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
        )
        .unwrap();
        // Table rows name variables as `RELEASY_X`, or `RELEASY_X`, `_Y` for a family.
        let mut documented = BTreeSet::new();
        for row in docs.lines().filter(|l| l.starts_with("| `RELEASY_")) {
            let first_cell = row.split('|').nth(1).unwrap();
            let mut family = String::new();
            for name in first_cell
                .split('`')
                .filter(|n| n.starts_with("RELEASY_") || n.starts_with('_'))
            {
                if name.starts_with("RELEASY_") {
                    family = name[..name.rfind('_').unwrap()].to_owned();
                    documented.insert(name.to_owned());
                } else {
                    documented.insert(format!("{family}{name}"));
                }
            }
        }
        let shown: BTreeSet<String> = effective(&settings(EVERYTHING))
            .into_iter()
            .map(|(name, _)| name.to_owned())
            .collect();
        let missing: Vec<_> = documented.difference(&shown).collect();
        assert!(missing.is_empty(), "documented but not shown: {missing:?}");
        let undocumented: Vec<_> = shown.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "shown but not documented: {undocumented:?}"
        );
    }

    #[test]
    fn the_default_public_url_on_another_port_than_the_listener_is_a_finding() {
        // Unset, or spelt out as the Debian package's settings file does.
        let spelt_out = [
            ("RELEASY_BIND_ADDR", "0.0.0.0:9000"),
            ("RELEASY_PUBLIC_BASE_URL", "http://127.0.0.1:8080/"),
        ];
        assert_eq!(findings(&settings(&spelt_out)).len(), 1);
        let moved = settings(&[("RELEASY_BIND_ADDR", "0.0.0.0:9000")]);
        let found = findings(&moved);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].variable, "RELEASY_PUBLIC_BASE_URL");
        assert!(
            found[0]
                .message
                .contains("http://127.0.0.1:8080, but the server listens on port 9000"),
            "{}",
            found[0].message
        );
        for fine in [
            vec![],
            vec![("RELEASY_BIND_ADDR", "127.0.0.1:8080")],
            // A proxy or a port mapping on the same host answers where it says.
            vec![
                ("RELEASY_BIND_ADDR", "0.0.0.0:9000"),
                ("RELEASY_PUBLIC_BASE_URL", "http://localhost"),
            ],
            vec![
                ("RELEASY_BIND_ADDR", "0.0.0.0:9000"),
                ("RELEASY_PUBLIC_BASE_URL", "http://127.0.0.1:9000"),
            ],
        ] {
            assert!(findings(&settings(&fine)).is_empty(), "{fine:?}");
        }
    }

    #[test]
    fn a_short_admin_key_is_a_finding() {
        let weak = settings(&[("RELEASY_ADMIN_API_KEY", "changeme")]);
        let found = findings(&weak);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].variable, "RELEASY_ADMIN_API_KEY");
        assert!(
            found[0].message.contains("is 8 characters long"),
            "{}",
            found[0].message
        );
        assert!(findings(&settings(EVERYTHING)).is_empty());
        assert!(
            findings(&settings(&[])).is_empty(),
            "a generated key is long enough"
        );

        let (mut out, mut problems) = (Vec::new(), Vec::new());
        assert!(!run(&weak, &mut out, &mut problems).unwrap());
        let problems = String::from_utf8(problems).unwrap();
        assert!(problems.starts_with("releasy-server check-config: RELEASY_ADMIN_API_KEY: is 8"));
        assert!(!String::from_utf8(out).unwrap().contains("changeme"));
    }

    /// The files a database URL names for TLS are read, as startup would: a missing
    /// root certificate fails the check, not the deployment's first start.
    #[test]
    fn a_tls_file_the_server_cannot_read_is_a_finding() {
        let missing = settings(&[(
            "RELEASY_DATABASE_URL",
            "postgres://db/releasy?sslmode=verify-full&sslrootcert=/nowhere/root.pem",
        )]);
        let found = findings(&missing);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].variable, "RELEASY_DATABASE_URL");
        assert!(
            found[0]
                .message
                .starts_with("cannot set up TLS to PostgreSQL: cannot read root certificates from /nowhere/root.pem"),
            "{}",
            found[0].message
        );
        let files = tempfile::tempdir().unwrap();
        let roots = files.path().join("root.pem");
        std::fs::write(&roots, "not a certificate").unwrap();
        let unusable = settings(&[(
            "RELEASY_DATABASE_URL",
            &format!(
                "postgres://db/releasy?sslmode=verify-full&sslrootcert={}",
                roots.display()
            ),
        )]);
        assert_eq!(findings(&unusable).len(), 1);
        let plain = settings(&[(
            "RELEASY_DATABASE_URL",
            "postgres://db/releasy?sslmode=require",
        )]);
        assert_eq!(findings(&plain), []);
    }

    #[test]
    fn trusting_every_address_as_a_proxy_is_a_finding() {
        let everyone = settings(&[("RELEASY_TRUSTED_PROXIES", "10.0.0.0/8, 0.0.0.0/0")]);
        let found = findings(&everyone);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].variable, "RELEASY_TRUSTED_PROXIES");
        assert!(
            found[0]
                .message
                .starts_with("trusts 0.0.0.0/0, every address"),
            "{}",
            found[0].message
        );
        let proxies = settings(&[("RELEASY_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8")]);
        assert_eq!(findings(&proxies), []);
    }

    #[test]
    fn a_setting_the_server_does_not_know_is_a_finding_with_what_was_meant() {
        let typo = settings(&[
            ("RELEASY_DATABSE_URL", "postgres://db/releasy"),
            ("RELEASY_NOT_A_SETTING_AT_ALL", "1"),
        ]);
        let found = findings(&typo);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].variable, "RELEASY_DATABSE_URL");
        assert!(
            found[0]
                .message
                .ends_with("did you mean RELEASY_DATABASE_URL?"),
            "{}",
            found[0].message
        );
        assert_eq!(found[1].variable, "RELEASY_NOT_A_SETTING_AT_ALL");
        assert_eq!(
            found[1].message,
            "is no setting of the server and is ignored"
        );
        let (mut out, mut problems) = (Vec::new(), Vec::new());
        assert!(!run(&typo, &mut out, &mut problems).unwrap());
    }

    #[test]
    fn a_log_directive_that_does_not_parse_is_a_finding() {
        let found = findings(&settings(&[("RELEASY_LOG", "info,releasy_http=loud")]));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].variable, "RELEASY_LOG");
        assert!(
            found[0].message.contains("does not parse"),
            "{}",
            found[0].message
        );
    }
}
