//! The TLS parameters of a PostgreSQL URL, read as libpq reads them, and the URL handed
//! to the driver, tokio-postgres, which knows only `sslmode=disable|prefer|require` and
//! refuses the other parameters.

use std::borrow::Cow;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::url::InvalidDatabaseUrl;

/// How a connection uses TLS: libpq's `sslmode`, with `allow` read as `prefer`, and
/// `require` with a root certificate read as `verify-ca`, as libpq does. Ordered from
/// the weakest to the strongest (the rules compare modes).
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

/// The TLS versions a connection may use: rustls speaks 1.2 and 1.3, and
/// `ssl_min_protocol_version`, `ssl_max_protocol_version` narrow them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TlsVersions {
    pub(crate) tls12: bool,
    pub(crate) tls13: bool,
}

/// What a connection needs to use TLS (never [`SslMode::Disable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsParameters {
    pub(crate) mode: SslMode,
    /// The roots to verify against (`verify-ca`, `verify-full`).
    pub(crate) roots: TrustedRoots,
    pub(crate) client: Option<ClientCertificate>,
    /// Whether the host name is sent (`sslsni`, on by default).
    pub(crate) sni: bool,
    pub(crate) versions: TlsVersions,
}

/// A PostgreSQL URL split into what the driver reads and what Releasy's TLS reads.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PostgresUrl {
    /// The URL without the parameters the driver does not know, its `sslmode` one the
    /// driver knows (`require` for the verifying modes: verifying is the connector's).
    pub(crate) driver_url: String,
    /// `None`: no TLS.
    pub(crate) tls: Option<TlsParameters>,
}

impl std::fmt::Debug for PostgresUrl {
    /// Without the URL, which holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresUrl")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl PostgresUrl {
    /// The driver's URL asking for no TLS: where `prefer` goes when the TLS handshake
    /// fails, as libpq does.
    pub(crate) fn without_tls(&self) -> String {
        // The driver's URL ends with its `sslmode` (`with_parameters`).
        match self.driver_url.strip_suffix("sslmode=prefer") {
            Some(base) => format!("{base}sslmode=disable"),
            None => self.driver_url.clone(),
        }
    }
}

/// The libpq parameters on TLS that are refused, and why. The driver would refuse
/// them too, at the first connection, as unknown.
const REFUSED: [(&str, &str); 5] = [
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
    (
        "requirepeer",
        "not supported (it checks the user of a Unix socket's server process)",
    ),
];

/// Reads `url`'s TLS parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
/// `sslnegotiation`, `sslsni`, `ssl_min_protocol_version`, `ssl_max_protocol_version`,
/// and `gssencmode` insofar as it asks for nothing).
///
/// # Errors
/// [`InvalidDatabaseUrl::PostgresParameter`] naming a parameter of unknown value, one
/// that is refused, or one the rest of the URL makes pointless, weak or contradictory
/// (`sslrootcert` without a mode that uses it, `sslrootcert=system` or no root with
/// `verify-ca`, `sslcert` without `sslkey`, `sslnegotiation=direct` without a mode that
/// requires TLS, a TLS mode that requires TLS over a Unix socket).
pub(crate) fn read(url: &str) -> Result<PostgresUrl, InvalidDatabaseUrl> {
    let (base, query) = split_query(url);
    let mut given = Given::default();
    let mut kept = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let (name, value) = (decode(name), decode(value));
        if let Some((_, reason)) = REFUSED.iter().find(|(refused, _)| *refused == name) {
            // Named without its value, which may be a secret (`sslpassword`).
            return Err(contradiction(&name, reason));
        }
        let refuse = |reason| InvalidDatabaseUrl::PostgresParameter {
            parameter: piece.to_owned(),
            reason,
        };
        match &*name {
            "sslmode" => given.mode = Some(ssl_mode(&value).ok_or_else(|| refuse(UNKNOWN_MODE))?),
            "sslrootcert" => {
                given.roots = Some(trusted_roots(&value).ok_or_else(|| refuse(NO_PATH))?);
            }
            "sslcert" => given.chain = Some(path(&value).ok_or_else(|| refuse(NO_PATH))?),
            "sslkey" => given.key = Some(path(&value).ok_or_else(|| refuse(NO_PATH))?),
            "sslsni" => {
                given.sni = match &*value {
                    "0" => false,
                    "1" => true,
                    _ => return Err(refuse("unknown value (0 or 1)")),
                };
            }
            "ssl_min_protocol_version" => {
                given.min = Some(tls_version(&value).ok_or_else(|| refuse(UNKNOWN_VERSION))?);
            }
            "ssl_max_protocol_version" => {
                given.max = Some(tls_version(&value).ok_or_else(|| refuse(UNKNOWN_VERSION))?);
            }
            // libpq's default is `prefer`; no GSSAPI encryption is ever used here.
            "gssencmode" => match &*value {
                "disable" | "prefer" => {}
                _ => {
                    return Err(refuse(
                        "GSSAPI encryption is not supported (gssencmode=disable or prefer)",
                    ));
                }
            },
            "sslnegotiation" => {
                given.direct = match &*value {
                    "postgres" => false,
                    "direct" => true,
                    _ => return Err(refuse("unknown value (postgres or direct)")),
                };
                kept.push(piece);
            }
            "host" => {
                given.socket |= value.split(',').any(|host| host.starts_with('/'));
                given
                    .host_names
                    .extend(value.split(',').map(|host| host.trim().to_owned()));
                kept.push(piece);
            }
            "hostaddr" => {
                given.hostaddr = true;
                kept.push(piece);
            }
            _ => kept.push(piece),
        }
    }
    given.socket |= authority_hosts(base).any(|host| decode(host).starts_with('/'));
    let authority: Vec<&str> = authority_hosts(base).collect();
    if authority != [""] {
        given.host_names.extend(
            authority
                .iter()
                .map(|host| decode(host_name(host)).trim().to_owned()),
        );
    }
    let Some(tls) = given.tls()? else {
        return Ok(PostgresUrl {
            driver_url: with_parameters(base, &kept, "disable"),
            tls: None,
        });
    };
    let driver_mode = if tls.mode == SslMode::Prefer {
        "prefer"
    } else {
        "require"
    };
    Ok(PostgresUrl {
        driver_url: with_parameters(base, &kept, driver_mode),
        tls: Some(tls),
    })
}

/// The TLS parameters as the URL gave them.
#[derive(Debug)]
struct Given {
    mode: Option<SslMode>,
    roots: Option<TrustedRoots>,
    chain: Option<PathBuf>,
    key: Option<PathBuf>,
    direct: bool,
    sni: bool,
    min: Option<u8>,
    max: Option<u8>,
    /// Whether a host is a Unix socket's folder.
    socket: bool,
    /// The names of the hosts in the URL's authority and `host=` (one may be empty:
    /// `a.example,:5433`).
    host_names: Vec<String>,
    /// Whether `hostaddr=` gives the addresses to connect to.
    hostaddr: bool,
}

impl Default for Given {
    fn default() -> Self {
        Self {
            mode: None,
            roots: None,
            chain: None,
            key: None,
            direct: false,
            sni: true,
            min: None,
            max: None,
            socket: false,
            host_names: Vec::new(),
            hostaddr: false,
        }
    }
}

impl Given {
    /// What the connection needs for TLS, `None` for none, or why the parameters
    /// cannot be honoured together.
    fn tls(self) -> Result<Option<TlsParameters>, InvalidDatabaseUrl> {
        let client = match (self.chain, self.key) {
            (None, None) => None,
            (Some(chain), Some(key)) => Some(ClientCertificate { chain, key }),
            (Some(_), None) => return Err(contradiction("sslcert", "needs `sslkey`, its key")),
            (None, Some(_)) => {
                return Err(contradiction("sslkey", "needs `sslcert`, its certificate"));
            }
        };
        // libpq 16: trusting the system's roots makes `verify-full` the default.
        let mode = self
            .mode
            .unwrap_or(if self.roots == Some(TrustedRoots::System) {
                SslMode::VerifyFull
            } else {
                SslMode::Disable
            });
        if mode == SslMode::Disable {
            for (given, parameter) in [
                (self.roots.is_some(), "sslrootcert"),
                (client.is_some(), "sslcert"),
                (self.direct, "sslnegotiation"),
            ] {
                if given {
                    return Err(contradiction(parameter, WITHOUT_TLS));
                }
            }
            return Ok(None);
        }
        if self.roots == Some(TrustedRoots::System) && mode != SslMode::VerifyFull {
            return Err(contradiction("sslrootcert", SYSTEM_ROOTS_NEED_THE_NAME));
        }
        if mode == SslMode::VerifyCa && self.roots.is_none() {
            return Err(contradiction("sslmode", VERIFY_CA_NEEDS_ITS_ROOT));
        }
        if mode == SslMode::Prefer && self.roots.is_some() {
            return Err(contradiction("sslrootcert", ROOTS_UNUSED));
        }
        if mode == SslMode::Prefer && self.direct {
            return Err(contradiction("sslnegotiation", DIRECT_NEEDS_TLS));
        }
        if self.socket && mode >= SslMode::Require {
            let asked_by = if self.mode.is_some() {
                "sslmode"
            } else {
                "sslrootcert"
            };
            return Err(contradiction(asked_by, NO_TLS_OVER_A_SOCKET));
        }
        let unnamed = self.host_names.is_empty() || self.host_names.iter().any(String::is_empty);
        if self.hostaddr && unnamed && mode >= SslMode::Require {
            return Err(contradiction("hostaddr", NO_NAME_FOR_TLS));
        }
        let (min, max) = (self.min.unwrap_or(2), self.max.unwrap_or(3));
        let versions = TlsVersions {
            tls12: (min..=max).contains(&2),
            tls13: (min..=max).contains(&3),
        };
        if !versions.tls12 && !versions.tls13 {
            let narrowed_by = match (self.min, self.max) {
                (Some(_), Some(_)) => "ssl_min_protocol_version, ssl_max_protocol_version",
                (Some(_), None) => "ssl_min_protocol_version",
                _ => "ssl_max_protocol_version",
            };
            return Err(contradiction(narrowed_by, NO_VERSION_LEFT));
        }
        // libpq: `require` with a root certificate verifies as `verify-ca`.
        let mode = if mode == SslMode::Require && self.roots.is_some() {
            SslMode::VerifyCa
        } else {
            mode
        };
        Ok(Some(TlsParameters {
            mode,
            roots: self.roots.unwrap_or(TrustedRoots::System),
            client,
            sni: self.sni,
            versions,
        }))
    }
}

const UNKNOWN_MODE: &str =
    "unknown mode (disable, allow, prefer, require, verify-ca or verify-full)";
const UNKNOWN_VERSION: &str = "unknown version (TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)";
const NO_PATH: &str = "names no file";
const WITHOUT_TLS: &str = "has no effect without TLS: add sslmode=verify-full (or another mode that uses TLS); without `sslmode` the connection does not use TLS";
const ROOTS_UNUSED: &str = "guards nothing with sslmode=prefer, which goes on without TLS when the handshake fails: use sslmode=verify-full (or verify-ca)";
const DIRECT_NEEDS_TLS: &str =
    "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full";
const SYSTEM_ROOTS_NEED_THE_NAME: &str = "sslrootcert=system trusts every public authority, so only sslmode=verify-full, which also checks the host name, may use it (as libpq rules)";
const VERIFY_CA_NEEDS_ITS_ROOT: &str = "sslmode=verify-ca checks no name, so it needs the database's own root: name it with sslrootcert=/path/to/root.pem (with the system's store any publicly trusted certificate would pass)";
const NO_TLS_OVER_A_SOCKET: &str = "TLS is not used over a Unix socket (libpq ignores sslmode there): drop sslmode, or connect over TCP";
const NO_NAME_FOR_TLS: &str = "TLS needs the server's name to send and check: name the host too (in the URL, or host=), hostaddr then only says where to connect";
const NO_VERSION_LEFT: &str =
    "leaves no TLS version the server can use (rustls speaks TLSv1.2 and TLSv1.3)";

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

/// `TLSv1.<n>` as `n` (TLS 1.0 is 0).
fn tls_version(value: &str) -> Option<u8> {
    Some(match value {
        "TLSv1" => 0,
        "TLSv1.1" => 1,
        "TLSv1.2" => 2,
        "TLSv1.3" => 3,
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

/// `host` without its port (`[::1]:5432` is `[::1]`, `:5433` is empty).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// The hosts of the URL's authority (after its user information, before its path),
/// ports and brackets left on.
fn authority_hosts(base: &str) -> impl Iterator<Item = &str> {
    let after_scheme = base.find("://").map_or(0, |at| at + 3);
    let rest = &base[after_scheme..];
    let rest = rest.split_once('@').map_or(rest, |(_, hosts)| hosts);
    let hosts = rest.split_once('/').map_or(rest, |(hosts, _)| hosts);
    hosts.split(',')
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
            (
                "verify-ca&sslrootcert=/ca.pem",
                SslMode::VerifyCa,
                "require",
            ),
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

    /// libpq 16's rule: the system's roots vouch for every public name, so only a mode
    /// that checks the name may trust them.
    #[test]
    fn the_system_roots_are_trusted_only_where_the_name_is_checked() {
        for mode in ["prefer", "require", "verify-ca"] {
            assert_eq!(
                refused(&format!(
                    "postgres://h/db?sslmode={mode}&sslrootcert=system"
                )),
                ("sslrootcert".to_owned(), SYSTEM_ROOTS_NEED_THE_NAME),
                "{mode}"
            );
        }
        assert_eq!(
            refused("postgres://h/db?sslmode=verify-ca"),
            ("sslmode".to_owned(), VERIFY_CA_NEEDS_ITS_ROOT)
        );
        // And trusting them without a mode asks for verify-full.
        let parameters = tls("postgres://h/db?sslrootcert=system");
        assert_eq!(parameters.mode, SslMode::VerifyFull);
        assert_eq!(parameters.roots, TrustedRoots::System);
    }

    #[test]
    fn tls_over_a_unix_socket_is_refused_and_prefer_goes_without() {
        for url in [
            "postgres://u@%2Frun%2Fpostgresql/db?sslmode=require",
            "postgres://u@/db?host=%2Frun%2Fpostgresql&sslmode=verify-full",
            "postgres://u@db.internal,%2Ftmp:5433/db?sslmode=require",
            "postgres://u@/db?host=db.internal,%2Ftmp&sslmode=require",
        ] {
            assert_eq!(
                refused(url),
                ("sslmode".to_owned(), NO_TLS_OVER_A_SOCKET),
                "{url}"
            );
        }
        read("postgres://u@%2Frun%2Fpostgresql/db?sslmode=prefer").unwrap();
        // Decoded once, as the driver does: `%252F` is a host named `%2F…`.
        read("postgres://u@/db?host=%252Ftmp&sslmode=require").unwrap();
        read("postgres://u@%2Frun%2Fpostgresql/db").unwrap();
    }

    #[test]
    fn an_address_without_a_name_cannot_require_tls() {
        assert_eq!(
            refused("postgres://u@/db?hostaddr=10.0.0.5&sslmode=require"),
            ("hostaddr".to_owned(), NO_NAME_FOR_TLS)
        );
        assert_eq!(
            refused("postgres://u@:5433/db?hostaddr=10.0.0.5&sslmode=verify-full").0,
            "hostaddr"
        );
        read("postgres://u@db.example.com/db?hostaddr=10.0.0.5&sslmode=verify-full").unwrap();
        read("postgres://u@/db?host=db.example.com&hostaddr=10.0.0.5&sslmode=require").unwrap();
        read("postgres://u@/db?hostaddr=10.0.0.5&sslmode=prefer").unwrap();
        // Every host needs its name: the second here has none.
        assert_eq!(
            refused("postgres://u@a.example,:5433/db?hostaddr=10.0.0.5,10.0.0.6&sslmode=require").0,
            "hostaddr"
        );
        assert_eq!(
            refused("postgres://u@/db?host=%20&hostaddr=10.0.0.5&sslmode=require").0,
            "hostaddr"
        );
        read("postgres://u@[::1]:5432/db?hostaddr=::1&sslmode=verify-full").unwrap();
    }

    #[test]
    fn versions_sni_and_gssencmode_are_read() {
        let all = tls("postgres://h/db?sslmode=require");
        assert_eq!(
            all.versions,
            TlsVersions {
                tls12: true,
                tls13: true
            }
        );
        assert!(all.sni);
        let only13 =
            tls("postgres://h/db?sslmode=require&ssl_min_protocol_version=TLSv1.3&sslsni=0");
        assert_eq!(
            only13.versions,
            TlsVersions {
                tls12: false,
                tls13: true
            }
        );
        assert!(!only13.sni);
        let only12 = tls(
            "postgres://h/db?sslmode=require&ssl_min_protocol_version=TLSv1&ssl_max_protocol_version=TLSv1.2",
        );
        assert_eq!(
            only12.versions,
            TlsVersions {
                tls12: true,
                tls13: false
            }
        );
        assert_eq!(
            refused("postgres://h/db?sslmode=require&ssl_max_protocol_version=TLSv1.1").0,
            "ssl_max_protocol_version"
        );
        assert_eq!(
            refused("postgres://h/db?sslmode=require&ssl_min_protocol_version=SSLv3").1,
            UNKNOWN_VERSION
        );
        let url = read("postgres://h/db?gssencmode=prefer&sslsni=1&sslmode=require").unwrap();
        assert_eq!(url.driver_url, "postgres://h/db?sslmode=require");
        assert_eq!(
            refused("postgres://h/db?gssencmode=require").0,
            "gssencmode=require"
        );
    }

    #[test]
    fn prefer_falls_back_to_the_same_url_without_tls() {
        let url = read("postgres://u:p@h/db?application_name=x&sslmode=prefer").unwrap();
        assert_eq!(
            url.without_tls(),
            "postgres://u:p@h/db?application_name=x&sslmode=disable"
        );
        assert!(!format!("{url:?}").contains("u:p"), "{url:?}");
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
