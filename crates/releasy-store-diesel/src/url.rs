//! The database URL forms the contract accepts.

use std::path::PathBuf;

/// Where the database is. Its `Debug` shows the URL with the password replaced.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://...` or `postgresql://...`, kept as given.
    Postgres(String),
    /// `sqlite://relative/path` or `sqlite:///absolute/path` (optionally `?mode=rwc`):
    /// created when missing.
    SqliteFile(PathBuf),
    /// `sqlite://path?mode=rw`: a file that must already exist.
    SqliteExistingFile(PathBuf),
    /// `sqlite::memory:`: one private in-memory database, lost on exit.
    SqliteMemory,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// The URL is of no supported form, or asks SQLite for what the server cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDatabaseUrl {
    /// Not one of the forms.
    #[error(
        "unsupported database URL (expected postgres://, postgresql://, sqlite://path, sqlite:///abs/path or sqlite::memory:)"
    )]
    Form,
    /// A query parameter of a SQLite URL that is not honoured. Parameters are never
    /// folded into the file name: `data/releasy.db?mode=rwc` once opened a new, empty
    /// file of that name beside the real one.
    #[error("SQLite URL parameter `{parameter}`: {reason}")]
    SqliteParameter {
        /// The parameter as written.
        parameter: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A PostgreSQL URL's TLS parameter of unknown value, one that is not supported,
    /// or one the rest of the URL makes pointless or weak (`sslrootcert` without TLS or
    /// with `prefer`, `sslrootcert=system` below `verify-full`). Refused when read,
    /// rather than at the first connection.
    #[error("PostgreSQL URL parameter `{parameter}`: {reason}")]
    PostgresParameter {
        /// The parameter as written (only its name when its value may be a secret).
        parameter: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

/// How a SQLite file URL opens its file (`mode=`).
enum SqliteMode {
    ReadWriteCreate,
    ReadWrite,
    Memory,
}

impl DatabaseUrl {
    /// Reads a URL. A SQLite URL may carry the parameters SQLite's URLs use:
    /// `mode=rwc` (the default: create the file when missing), `mode=rw` (the file must
    /// exist), `mode=memory` (as `sqlite::memory:`) and `cache=private` (the default).
    ///
    /// # Errors
    /// [`InvalidDatabaseUrl::Form`] for any other form, or a SQLite URL without a path;
    /// [`InvalidDatabaseUrl::SqliteParameter`] naming a parameter that is unknown or
    /// that the server cannot honour (`mode=ro`, `cache=shared`);
    /// [`InvalidDatabaseUrl::PostgresParameter`] naming a PostgreSQL TLS parameter that
    /// is not supported or contradicts the rest (the files it names are read when the
    /// database is opened).
    pub fn parse(raw: &str) -> Result<Self, InvalidDatabaseUrl> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            crate::postgres::tls_parameters::read(raw)?;
            return Ok(Self::Postgres(raw.to_owned()));
        }
        if raw == "sqlite::memory:" {
            return Ok(Self::SqliteMemory);
        }
        let Some(rest) = raw.strip_prefix("sqlite://") else {
            return Err(InvalidDatabaseUrl::Form);
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(InvalidDatabaseUrl::Form);
        }
        let path = PathBuf::from(path);
        Ok(match sqlite_mode(query)? {
            SqliteMode::ReadWriteCreate => Self::SqliteFile(path),
            SqliteMode::ReadWrite => Self::SqliteExistingFile(path),
            SqliteMode::Memory => Self::SqliteMemory,
        })
    }

    /// A SQLite file URL for `path`.
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        Self::SqliteFile(path.into())
    }

    /// Reads the certificate and key files a PostgreSQL URL's TLS parameters name, as
    /// opening the database does, without connecting (for `check-config`). Other URLs
    /// name none.
    ///
    /// # Errors
    /// What [`crate::Database::open`] would report about them.
    pub fn check_tls_files(&self) -> Result<(), crate::SetupError> {
        match self {
            Self::Postgres(url) => crate::postgres::check_tls_files(url),
            Self::SqliteFile(_) | Self::SqliteExistingFile(_) | Self::SqliteMemory => Ok(()),
        }
    }

    /// The URL with any password replaced, safe to log.
    pub fn redacted(&self) -> String {
        match self {
            Self::Postgres(url) => redact_password(url),
            Self::SqliteFile(path) => format!("sqlite://{}", path.display()),
            Self::SqliteExistingFile(path) => format!("sqlite://{}?mode=rw", path.display()),
            Self::SqliteMemory => "sqlite::memory:".to_owned(),
        }
    }
}

/// The mode a SQLite URL's query asks for; every parameter is checked.
fn sqlite_mode(query: &str) -> Result<SqliteMode, InvalidDatabaseUrl> {
    let mut mode = SqliteMode::ReadWriteCreate;
    for parameter in query.split('&').filter(|p| !p.is_empty()) {
        let refuse = |reason| InvalidDatabaseUrl::SqliteParameter {
            parameter: parameter.to_owned(),
            reason,
        };
        match parameter.split_once('=').unwrap_or((parameter, "")) {
            ("mode", "rwc") => mode = SqliteMode::ReadWriteCreate,
            ("mode", "rw") => mode = SqliteMode::ReadWrite,
            ("mode", "memory") => mode = SqliteMode::Memory,
            ("mode", "ro") => {
                return Err(refuse(
                    "the server writes (migrations, audit events), so it cannot run on a read-only database",
                ));
            }
            ("cache", "private") => {}
            ("cache", "shared") => {
                return Err(refuse(
                    "the server keeps its own connection pool in WAL mode; a shared cache is not supported",
                ));
            }
            _ => {
                return Err(refuse(
                    "not supported (SQLite URLs take mode=rwc, mode=rw, mode=memory and cache=private)",
                ));
            }
        }
    }
    Ok(mode)
}

/// Query parameters libpq-style URLs may carry a secret in.
const SECRET_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

fn redact_password(url: &str) -> String {
    // The user information first: a password may hold a `?` (the driver reads it up
    // to the `@`), which must not be taken for the start of the query.
    let cut = cut_user_information(url);
    // What was taken for user information may have ended inside a password
    // parameter's value (`…?password=ab@cd`): the rest of that value is masked too.
    let rest = if cut.ends_in_secret {
        match cut.rest.split_once('&') {
            Some((_, after)) => format!("***&{after}"),
            None => "***".to_owned(),
        }
    } else {
        cut.rest.to_owned()
    };
    // Then every `&`-separated piece of the rest, not only those after its first `?`:
    // with an `@` in the query, what was taken for user information may have swallowed
    // that `?`.
    let rest: String = rest.split_inclusive('&').map(mask_secret_in).collect();
    format!("{}{rest}", cut.masked)
}

/// `piece` (one `&`-separated piece, its `&` kept) with a secret parameter's value
/// masked to the piece's end (the driver reads a value up to the next `&`, a `?` in
/// it included); the parameter may start the piece or follow a `?` in it.
fn mask_secret_in(piece: &str) -> String {
    let (body, delimiter) = match piece.strip_suffix('&') {
        Some(body) => (body, "&"),
        None => (piece, ""),
    };
    let mut start = 0;
    loop {
        let candidate = &body[start..];
        if let Some((name, _)) = candidate.split_once('=')
            && SECRET_PARAMETERS
                .iter()
                .any(|secret| name.eq_ignore_ascii_case(secret))
        {
            return format!("{}{name}=***{delimiter}", &body[..start]);
        }
        match candidate.find('?') {
            Some(at) => start += at + 1,
            None => return piece.to_owned(),
        }
    }
}

/// A URL cut after its user information.
struct UserInformationCut<'a> {
    /// `scheme://user:***@`, or nothing when the URL names no password.
    masked: String,
    /// What follows (the whole URL when nothing was masked).
    rest: &'a str,
    /// Whether what was masked ended inside a secret parameter's value, whose rest
    /// then starts `rest`.
    ends_in_secret: bool,
}

/// `url` cut after its user information, the password masked. The last `@` ends what
/// is masked: a password may contain `@` itself, and masking too much shows less,
/// never a secret.
fn cut_user_information(url: &str) -> UserInformationCut<'_> {
    let nothing = UserInformationCut {
        masked: String::new(),
        rest: url,
        ends_in_secret: false,
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return nothing;
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return nothing;
    };
    let Some((user, _)) = userinfo.split_once(':') else {
        return nothing;
    };
    let last_piece = userinfo.rsplit('&').next().unwrap_or(userinfo);
    UserInformationCut {
        masked: format!("{scheme}://{user}:***@"),
        rest: host,
        ends_in_secret: mask_secret_in(last_piece) != last_piece,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_form_parses() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@h/db").unwrap(),
            DatabaseUrl::Postgres("postgres://u:p@h/db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/r.db").unwrap(),
            DatabaseUrl::sqlite_file("data/r.db")
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/r.db").unwrap(),
            DatabaseUrl::sqlite_file("/var/r.db")
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite::memory:").unwrap(),
            DatabaseUrl::SqliteMemory
        );
    }

    #[test]
    fn other_forms_are_rejected() {
        for bad in [
            "mysql://h/db",
            "sqlite://",
            "",
            "data.db",
            "sqlite://?mode=rwc",
        ] {
            assert_eq!(
                DatabaseUrl::parse(bad),
                Err(InvalidDatabaseUrl::Form),
                "{bad}"
            );
        }
    }

    #[test]
    fn sqlite_parameters_are_honoured_never_folded_into_the_file_name() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/releasy.db?mode=rwc").unwrap(),
            DatabaseUrl::sqlite_file("data/releasy.db")
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///srv/r.db?cache=private&mode=rw").unwrap(),
            DatabaseUrl::SqliteExistingFile("/srv/r.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://r.db?mode=memory").unwrap(),
            DatabaseUrl::SqliteMemory
        );
        assert_eq!(
            DatabaseUrl::SqliteExistingFile("/srv/r.db".into()).redacted(),
            "sqlite:///srv/r.db?mode=rw"
        );
    }

    #[test]
    fn sqlite_parameters_the_server_cannot_honour_are_named() {
        for (url, parameter) in [
            ("sqlite://r.db?mode=ro", "mode=ro"),
            ("sqlite://r.db?cache=shared", "cache=shared"),
            ("sqlite://r.db?mode=rwc&journal=off", "journal=off"),
            ("sqlite://r.db?vfs", "vfs"),
        ] {
            let err = DatabaseUrl::parse(url).unwrap_err();
            assert!(
                matches!(&err, InvalidDatabaseUrl::SqliteParameter { parameter: p, .. } if p == parameter),
                "{url}: {err:?}"
            );
            assert!(err.to_string().contains(parameter), "{err}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u:secret@h/db")
                .unwrap()
                .redacted(),
            "postgres://u:***@h/db"
        );
        let tricky = DatabaseUrl::parse("postgres://u:p@ss@h/db").unwrap();
        assert_eq!(tricky.redacted(), "postgres://u:***@h/db");
        assert!(!format!("{tricky:?}").contains("ss@"));
    }

    #[test]
    fn passwords_in_the_query_are_redacted() {
        // `sslpassword` is refused when read; a URL built in code is redacted all the same.
        let url = DatabaseUrl::Postgres(
            "postgres://u@h/db?sslmode=prefer&password=secret&sslpassword=other".to_owned(),
        );
        assert_eq!(
            url.redacted(),
            "postgres://u@h/db?sslmode=prefer&password=***&sslpassword=***"
        );
        let both = DatabaseUrl::parse("postgres://u:one@h/db?Password=two").unwrap();
        assert_eq!(both.redacted(), "postgres://u:***@h/db?Password=***");
    }

    /// TLS parameters are read as libpq reads them; what cannot work is refused when
    /// the URL is read, naming the parameter.
    #[test]
    fn postgres_tls_parameters_are_checked_when_read() {
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca&sslrootcert=/ca.pem",
            "verify-full",
        ] {
            DatabaseUrl::parse(&format!(
                "postgresql://h/db?application_name=x&sslmode={mode}"
            ))
            .unwrap();
        }
        DatabaseUrl::parse(
            "postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem&sslnegotiation=direct",
        )
        .unwrap();
        let err = DatabaseUrl::parse("postgres://h/db?sslmode=on").unwrap_err();
        assert!(
            matches!(&err, InvalidDatabaseUrl::PostgresParameter { parameter, .. } if parameter == "sslmode=on"),
            "{err:?}"
        );
        assert!(err.to_string().contains("verify-full"), "{err}");
        // In a password, it is no parameter.
        DatabaseUrl::parse("postgres://u:x?sslmode=on@h/db").unwrap();
        // An `@` in the query does not hide it: the driver's user part ends at the first.
        assert!(DatabaseUrl::parse("postgres://u:p@h/db?application_name=a@b&sslmode=on").is_err());
    }

    /// An `@` in the query (after a port's `:`) looks like the end of user
    /// information: the password parameter after it is masked all the same.
    #[test]
    fn a_password_parameter_after_an_at_sign_in_the_query_is_redacted() {
        let url = DatabaseUrl::parse(
            "postgres://db:5432/releasy?application_name=web@pod1&password=S3cret",
        )
        .unwrap();
        assert!(!url.redacted().contains("S3cret"), "{}", url.redacted());
        assert!(!format!("{url:?}").contains("S3cret"));
    }

    /// A password parameter's value runs to the next `&`: a `?` or an `@` in it is
    /// masked with the rest.
    #[test]
    fn a_password_parameter_is_masked_to_its_end() {
        for (url, secret) in [
            ("postgres://u@h/db?password=ab?cd&sslmode=prefer", "cd"),
            ("postgres://h:5432/db?password=ab@cd&sslmode=prefer", "cd"),
            ("postgres://h:5432/db?password=ab@cd", "cd"),
        ] {
            let redacted = DatabaseUrl::parse(url).unwrap().redacted();
            assert!(!redacted.contains(secret), "{url}: {redacted}");
            assert!(!redacted.contains("ab"), "{url}: {redacted}");
        }
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db?password=ab?cd&sslmode=prefer")
                .unwrap()
                .redacted(),
            "postgres://u@h/db?password=***&sslmode=prefer"
        );
    }

    /// The driver reads a password up to the `@`, so a `?` in it is not a query.
    #[test]
    fn a_password_with_a_question_mark_is_redacted() {
        let url = DatabaseUrl::parse("postgres://releasy:Ab?9x@db/releasy").unwrap();
        assert_eq!(url.redacted(), "postgres://releasy:***@db/releasy");
        let with_query = DatabaseUrl::parse("postgres://u:a?b@h/db?sslmode=disable").unwrap();
        assert_eq!(
            with_query.redacted(),
            "postgres://u:***@h/db?sslmode=disable"
        );
        assert!(!format!("{with_query:?}").contains("a?b"));
        // A password that reads like a password parameter masks what follows its `@`
        // too: more than needed, never less.
        let lookalike =
            DatabaseUrl::parse("postgres://u:a?b&password=c@h/db?sslmode=disable").unwrap();
        assert_eq!(lookalike.redacted(), "postgres://u:***@***");
    }
}
