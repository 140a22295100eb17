//! The TLS parameters of a PostgreSQL URL, read as libpq reads them, and the URL handed
//! to the driver, tokio-postgres, which knows only `sslmode=disable|prefer|require` and
//! refuses the other parameters.

use std::borrow::Cow;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::url::InvalidDatabaseUrl;

/// How a connection uses TLS: libpq's `sslmode`, with `allow` read as `prefer`, and
/// `require` with a root certificate read as `verify-ca`, as libpq does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SslMode {
    /// No TLS. Releasy's default when the URL names no `sslmode` (libpq's is `prefer`):
    /// a URL that worked before TLS was supported connects as it did.
    Disable,
    /// TLS when the server offers it, without checking its certificate.
    Prefer,
    /// TLS, without checking the server's certificate.
    Require,
    /// TLS, the server's certificate signed by a trusted root, whatever name it holds.
    VerifyCa,
    /// TLS, the server's certificate signed by a trusted root and naming the host.
    VerifyFull,
}

/// The roots a server's certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrustedRoots {
    /// The PEM certificates in a file (`sslrootcert=/path`).
    File(PathBuf),
    /// The operating system's trust store (`sslrootcert=system`, and the default).
    System,
}

/// A client certificate and its key, both PEM files (`sslcert`, `sslkey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientCertificate {
    /// The certificate, followed by any intermediates.
    pub(crate) chain: PathBuf,
    /// Its private key, unencrypted.
    pub(crate) key: PathBuf,
}

/// What a connection needs to use TLS (never [`SslMode::Disable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsParameters {
    pub(crate) mode: SslMode,
    /// The roots to verify against (`verify-ca`, `verify-full`).
    pub(crate) roots: TrustedRoots,
    pub(crate) client: Option<ClientCertificate>,
}

/// A PostgreSQL URL split into what the driver reads and what Releasy's TLS reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PostgresUrl {
    /// The URL without the parameters the driver does not know, its `sslmode` one the
    /// driver knows (`require` for the verifying modes: verifying is the connector's).
    pub(crate) driver_url: String,
    /// `None`: no TLS.
    pub(crate) tls: Option<TlsParameters>,
}

/// The libpq parameters on TLS that are refused, and why. The driver would refuse
/// them too, at the first connection, as unknown.
const REFUSED: [(&str, &str); 4] = [
    (
        "sslpassword",
        "encrypted client keys are not supported; give `sslkey` an unencrypted key readable only by the server's user",
    ),
    ("sslcrl", "certificate revocation lists are not supported"),
    (
        "sslcrldir",
        "certificate revocation lists are not supported",
    ),
    (
        "sslcertmode",
        "not supported; a client certificate is sent when `sslcert` and `sslkey` are given",
    ),
];

/// Reads `url`'s TLS parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
/// `sslnegotiation`).
///
/// # Errors
/// [`InvalidDatabaseUrl::PostgresParameter`] naming a parameter of unknown value, one
/// that is refused, or one the rest of the URL makes pointless or contradicts
/// (`sslrootcert` without a mode that verifies, `sslcert` without `sslkey`,
/// `sslnegotiation=direct` without a mode that requires TLS).
pub(crate) fn read(url: &str) -> Result<PostgresUrl, InvalidDatabaseUrl> {
    let (base, query) = split_query(url);
    let mut mode = None;
    let mut roots = None;
    let (mut chain, mut key) = (None, None);
    let mut direct = false;
    let mut kept = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let (name, value) = (decode(name), decode(value));
        let refuse = |reason| InvalidDatabaseUrl::PostgresParameter {
            // A refused parameter's value may be a secret (`sslpassword`).
            parameter: if REFUSED.iter().any(|(refused, _)| *refused == name) {
                name.to_string()
            } else {
                piece.to_owned()
            },
            reason,
        };
        match &*name {
            "sslmode" => mode = Some(ssl_mode(&value).ok_or_else(|| refuse(UNKNOWN_MODE))?),
            "sslrootcert" => roots = Some(trusted_roots(&value).ok_or_else(|| refuse(NO_PATH))?),
            "sslcert" => chain = Some(path(&value).ok_or_else(|| refuse(NO_PATH))?),
            "sslkey" => key = Some(path(&value).ok_or_else(|| refuse(NO_PATH))?),
            "sslnegotiation" => {
                direct = match &*value {
                    "postgres" => false,
                    "direct" => true,
                    _ => return Err(refuse("unknown value (postgres or direct)")),
                };
                kept.push(piece);
            }
            _ => {
                if let Some((_, reason)) = REFUSED.iter().find(|(refused, _)| *refused == name) {
                    return Err(refuse(reason));
                }
                kept.push(piece);
            }
        }
    }
    let mode = mode.unwrap_or(SslMode::Disable);
    let client = match (chain, key) {
        (None, None) => None,
        (Some(chain), Some(key)) => Some(ClientCertificate { chain, key }),
        (Some(_), None) => return Err(contradiction("sslcert", "needs `sslkey`, its key")),
        (None, Some(_)) => return Err(contradiction("sslkey", "needs `sslcert`, its certificate")),
    };
    if mode == SslMode::Disable {
        for (given, parameter) in [
            (roots.is_some(), "sslrootcert"),
            (client.is_some(), "sslcert"),
            (direct, "sslnegotiation"),
        ] {
            if given {
                return Err(contradiction(parameter, WITHOUT_TLS));
            }
        }
        return Ok(PostgresUrl {
            driver_url: with_parameters(base, &kept, "disable"),
            tls: None,
        });
    }
    if mode == SslMode::Prefer && roots.is_some() {
        // libpq would ignore it: a connection meant to be verified would not be.
        return Err(contradiction("sslrootcert", ROOTS_UNUSED));
    }
    if mode == SslMode::Prefer && direct {
        return Err(contradiction("sslnegotiation", DIRECT_NEEDS_TLS));
    }
    // libpq: `require` with a root certificate verifies as `verify-ca`.
    let mode = if mode == SslMode::Require && roots.is_some() {
        SslMode::VerifyCa
    } else {
        mode
    };
    let driver_mode = if mode == SslMode::Prefer {
        "prefer"
    } else {
        "require"
    };
    Ok(PostgresUrl {
        driver_url: with_parameters(base, &kept, driver_mode),
        tls: Some(TlsParameters {
            mode,
            roots: roots.unwrap_or(TrustedRoots::System),
            client,
        }),
    })
}

const UNKNOWN_MODE: &str =
    "unknown mode (disable, allow, prefer, require, verify-ca or verify-full)";
const NO_PATH: &str = "names no file";
const WITHOUT_TLS: &str = "has no effect without TLS: add sslmode=verify-full (or verify-ca, require, prefer); without `sslmode` the connection does not use TLS";
const ROOTS_UNUSED: &str = "is not used by sslmode=prefer, which checks no certificate: use sslmode=verify-full (or verify-ca)";
const DIRECT_NEEDS_TLS: &str =
    "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full";

fn contradiction(parameter: &str, reason: &'static str) -> InvalidDatabaseUrl {
    InvalidDatabaseUrl::PostgresParameter {
        parameter: parameter.to_owned(),
        reason,
    }
}

fn ssl_mode(value: &str) -> Option<SslMode> {
    Some(match value {
        "disable" => SslMode::Disable,
        // libpq tries without TLS first, then with it; both end connected wherever
        // either works, and TLS first encrypts wherever the server offers it.
        "allow" | "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => return None,
    })
}

fn trusted_roots(value: &str) -> Option<TrustedRoots> {
    if value == "system" {
        return Some(TrustedRoots::System);
    }
    path(value).map(TrustedRoots::File)
}

fn path(value: &str) -> Option<PathBuf> {
    (!value.is_empty()).then(|| PathBuf::from(value))
}

fn decode(text: &str) -> Cow<'_, str> {
    percent_decode_str(text).decode_utf8_lossy()
}

/// `url` before its query, and the query. The query starts at the first `?` after the
/// host, which follows the first `@`, as the driver reads it (a password may hold a
/// `?`).
fn split_query(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let host_start = url[after_scheme..]
        .find('@')
        .map_or(after_scheme, |at| after_scheme + at + 1);
    match url[host_start..].find('?') {
        Some(at) => (&url[..host_start + at], &url[host_start + at + 1..]),
        None => (url, ""),
    }
}

fn with_parameters(base: &str, kept: &[&str], driver_mode: &str) -> String {
    let mut url = format!("{base}?");
    for piece in kept {
        url.push_str(piece);
        url.push('&');
    }
    url.push_str("sslmode=");
    url.push_str(driver_mode);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(url: &str) -> TlsParameters {
        read(url).unwrap().tls.expect("TLS")
    }

    fn refused(url: &str) -> (String, &'static str) {
        match read(url).unwrap_err() {
            InvalidDatabaseUrl::PostgresParameter { parameter, reason } => (parameter, reason),
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn without_sslmode_there_is_no_tls_as_before() {
        let url = read("postgres://u:p@h:5432/db?application_name=x").unwrap();
        assert_eq!(url.tls, None);
        assert_eq!(
            url.driver_url,
            "postgres://u:p@h:5432/db?application_name=x&sslmode=disable"
        );
        assert_eq!(
            read("postgres://h/db").unwrap().driver_url,
            "postgres://h/db?sslmode=disable"
        );
    }

    #[test]
    fn every_libpq_mode_is_read() {
        assert_eq!(read("postgres://h/db?sslmode=disable").unwrap().tls, None);
        for (mode, expected, driver) in [
            ("allow", SslMode::Prefer, "prefer"),
            ("prefer", SslMode::Prefer, "prefer"),
            ("require", SslMode::Require, "require"),
            ("verify-ca", SslMode::VerifyCa, "require"),
            ("verify-full", SslMode::VerifyFull, "require"),
        ] {
            let url = read(&format!("postgresql://h/db?sslmode={mode}")).unwrap();
            assert_eq!(url.tls.expect(mode).mode, expected, "{mode}");
            assert_eq!(
                url.driver_url,
                format!("postgresql://h/db?sslmode={driver}")
            );
        }
        let (parameter, reason) = refused("postgres://h/db?sslmode=verify_full");
        assert_eq!(parameter, "sslmode=verify_full");
        assert_eq!(reason, UNKNOWN_MODE);
    }

    #[test]
    fn roots_default_to_the_system_store_and_a_file_may_be_named() {
        assert_eq!(
            tls("postgres://h/db?sslmode=verify-full").roots,
            TrustedRoots::System
        );
        assert_eq!(
            tls("postgres://h/db?sslmode=verify-full&sslrootcert=system").roots,
            TrustedRoots::System
        );
        let named = tls("postgres://h/db?sslrootcert=%2Fetc%2Fdb%20ca.pem&sslmode=verify-ca");
        assert_eq!(named.roots, TrustedRoots::File("/etc/db ca.pem".into()));
        assert_eq!(named.mode, SslMode::VerifyCa);
    }

    #[test]
    fn require_with_a_root_certificate_verifies_the_chain_as_libpq_does() {
        let parameters = tls("postgres://h/db?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(parameters.mode, SslMode::VerifyCa);
        assert_eq!(
            tls("postgres://h/db?sslmode=require").mode,
            SslMode::Require
        );
    }

    #[test]
    fn the_driver_gets_what_it_knows_and_nothing_else() {
        let url = read(
            "postgres://u:pa?ss@h/db?sslcert=/c.pem&connect_timeout=5&sslkey=/k.pem&sslmode=verify-full&sslnegotiation=direct",
        )
        .unwrap();
        assert_eq!(
            url.driver_url,
            "postgres://u:pa?ss@h/db?connect_timeout=5&sslnegotiation=direct&sslmode=require"
        );
        assert_eq!(
            url.tls.unwrap().client,
            Some(ClientCertificate {
                chain: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
    }

    #[test]
    fn parameters_in_a_password_are_no_parameters() {
        let url = read("postgres://u:x?sslmode=require@h/db").unwrap();
        assert_eq!(url.tls, None);
        assert_eq!(
            url.driver_url,
            "postgres://u:x?sslmode=require@h/db?sslmode=disable"
        );
    }

    #[test]
    fn tls_parameters_without_tls_are_refused() {
        for (url, parameter) in [
            ("postgres://h/db?sslrootcert=/ca.pem", "sslrootcert"),
            (
                "postgres://h/db?sslmode=disable&sslcert=/c&sslkey=/k",
                "sslcert",
            ),
            ("postgres://h/db?sslnegotiation=direct", "sslnegotiation"),
        ] {
            assert_eq!(refused(url), (parameter.to_owned(), WITHOUT_TLS), "{url}");
        }
        assert_eq!(
            refused("postgres://h/db?sslmode=prefer&sslrootcert=/ca.pem"),
            ("sslrootcert".to_owned(), ROOTS_UNUSED)
        );
        assert_eq!(
            refused("postgres://h/db?sslmode=prefer&sslnegotiation=direct"),
            ("sslnegotiation".to_owned(), DIRECT_NEEDS_TLS)
        );
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_the_key_its_certificate() {
        assert_eq!(
            refused("postgres://h/db?sslmode=require&sslcert=/c").0,
            "sslcert"
        );
        assert_eq!(
            refused("postgres://h/db?sslmode=require&sslkey=/k").0,
            "sslkey"
        );
        assert_eq!(
            refused("postgres://h/db?sslmode=require&sslkey=").1,
            NO_PATH
        );
    }

    #[test]
    fn refused_parameters_are_named_without_their_values() {
        let (parameter, reason) = refused("postgres://h/db?sslmode=require&sslpassword=s3cret");
        assert_eq!(parameter, "sslpassword");
        assert!(reason.contains("encrypted client keys"), "{reason}");
        assert_eq!(refused("postgres://h/db?sslcrl=/crl.pem").0, "sslcrl");
        assert_eq!(
            refused("postgres://h/db?sslnegotiation=tls").0,
            "sslnegotiation=tls"
        );
    }
}
