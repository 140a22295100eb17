//! The database URL forms the contract accepts.

use std::path::PathBuf;

/// Where the database is. Its `Debug` shows the URL with the password replaced.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://...` or `postgresql://...`, kept as given.
    Postgres(String),
    /// `sqlite://relative/path` or `sqlite:///absolute/path`.
    SqliteFile(PathBuf),
    /// `sqlite::memory:`: one private in-memory database, lost on exit.
    SqliteMemory,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// The URL is of no supported form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported database URL (expected postgres://, postgresql://, sqlite://path, sqlite:///abs/path or sqlite::memory:)"
)]
pub struct InvalidDatabaseUrl;

impl DatabaseUrl {
    /// Reads a URL.
    ///
    /// # Errors
    /// [`InvalidDatabaseUrl`] for any other form, or a SQLite URL without a path.
    pub fn parse(raw: &str) -> Result<Self, InvalidDatabaseUrl> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        if raw == "sqlite::memory:" {
            return Ok(Self::SqliteMemory);
        }
        match raw.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => Ok(Self::SqliteFile(PathBuf::from(path))),
            _ => Err(InvalidDatabaseUrl),
        }
    }

    /// A SQLite file URL for `path`.
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        Self::SqliteFile(path.into())
    }

    /// The URL with any password replaced, safe to log.
    pub fn redacted(&self) -> String {
        match self {
            Self::Postgres(url) => redact_password(url),
            Self::SqliteFile(path) => format!("sqlite://{}", path.display()),
            Self::SqliteMemory => "sqlite::memory:".to_owned(),
        }
    }
}

/// Query parameters libpq-style URLs may carry a secret in.
const SECRET_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

fn redact_password(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = redact_user_password(base);
    let Some(query) = query else {
        return base;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _))
                if SECRET_PARAMETERS
                    .iter()
                    .any(|secret| name.eq_ignore_ascii_case(secret)) =>
            {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn redact_user_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The last `@` ends the user information: a password may contain `@` itself.
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
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
        for bad in ["mysql://h/db", "sqlite://", "", "data.db"] {
            assert_eq!(DatabaseUrl::parse(bad), Err(InvalidDatabaseUrl), "{bad}");
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
        let url = DatabaseUrl::parse(
            "postgres://u@h/db?sslmode=require&password=secret&sslpassword=other",
        )
        .unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://u@h/db?sslmode=require&password=***&sslpassword=***"
        );
        let both = DatabaseUrl::parse("postgres://u:one@h/db?Password=two").unwrap();
        assert_eq!(both.redacted(), "postgres://u:***@h/db?Password=***");
    }
}
