//! Translation of diesel and pool errors into the ports' [`RepoError`], and the errors
//! of setting a database up.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use releasy_domain::ports::RepoError;

/// Maps a query error: unique violations become [`RepoError::Conflict`], lost
/// connections [`RepoError::Unavailable`], the rest [`RepoError::Internal`].
pub(crate) fn query_error(err: DieselError) -> RepoError {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => RepoError::Conflict,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            RepoError::MissingReference
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        )
        | DieselError::BrokenTransactionManager => RepoError::unavailable(err),
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
            if server_going_away(info.message()) || sqlite_busy(info.message()) =>
        {
            RepoError::unavailable(err)
        }
        other => RepoError::internal(other),
    }
}

/// What PostgreSQL says (SQLSTATE class 57, operator intervention) to the queries it
/// cuts off when it stops, restarts or recovers. diesel-async keeps the message of a
/// server error but not its code, so these are recognised by their (English) text.
const SERVER_GOING_AWAY: [&str; 5] = [
    "terminating connection due to administrator command",
    "terminating connection because of crash of another server process",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
];

fn server_going_away(message: &str) -> bool {
    SERVER_GOING_AWAY
        .iter()
        .any(|words| message.starts_with(words))
}

/// What SQLite says (`SQLITE_BUSY`) when its write lock stayed taken for the whole busy
/// timeout: another process writes (a `releasy-server migrate` of a new version, say).
/// The request may pass later, so it is unavailable, not an internal error.
fn sqlite_busy(message: &str) -> bool {
    message == "database is locked"
}

/// What fails inside a write transaction: a query, or a stored row the domain refuses
/// (read back to build an audit event). Either rolls the transaction back.
#[derive(Debug)]
pub(crate) enum TxError {
    Query(DieselError),
    Repo(RepoError),
}

impl From<DieselError> for TxError {
    fn from(err: DieselError) -> Self {
        TxError::Query(err)
    }
}

impl From<RepoError> for TxError {
    fn from(err: RepoError) -> Self {
        TxError::Repo(err)
    }
}

impl From<TxError> for RepoError {
    fn from(err: TxError) -> Self {
        match err {
            TxError::Query(err) => query_error(err),
            TxError::Repo(err) => err,
        }
    }
}

/// Maps a failure to get a pooled connection.
pub(crate) fn pool_error(err: impl std::error::Error + Send + Sync + 'static) -> RepoError {
    RepoError::unavailable(err)
}

/// A stored value that does not satisfy the domain's rules: a bug or a hand-edited row.
#[derive(Debug, thiserror::Error)]
#[error("corrupt {table} row: {detail}")]
pub(crate) struct CorruptRow {
    pub table: &'static str,
    pub detail: String,
}

/// Reports a corrupt row as an internal error.
pub(crate) fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> RepoError {
    RepoError::internal(CorruptRow {
        table,
        detail: detail.to_string(),
    })
}

/// The database could not be set up. Each variant keeps its cause as its `source`.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The folder of a SQLite database file could not be created.
    #[error("cannot create the database folder {path}")]
    CreateFolder {
        /// The folder.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A SQLite URL with `mode=rw` names a file that does not exist.
    #[error("the SQLite database {path} does not exist (mode=rw opens only an existing file)")]
    MissingSqliteFile {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The database URL's parameters are of no supported form.
    #[error(transparent)]
    DatabaseUrl(#[from] crate::url::InvalidDatabaseUrl),
    /// TLS to PostgreSQL cannot be set up with the certificates and key the URL names.
    #[error("cannot set up TLS to PostgreSQL")]
    PostgresTls(#[from] crate::postgres::PostgresTlsError),
    /// The connection pool could not be built.
    #[error("cannot build the database connection pool")]
    Pool(#[source] deadpool::managed::BuildError),
    /// Migrations could not be applied (or reverted): the database was out of reach or
    /// a migration failed.
    #[error("database migration failed")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SetupError {
    /// A migration failure caused by `cause`.
    pub(crate) fn migration(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Migration(cause.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct ServerSaid(&'static str);

    impl diesel::result::DatabaseErrorInformation for ServerSaid {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn unknown(message: &'static str) -> DieselError {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(ServerSaid(message)))
    }

    #[test]
    fn a_server_stopping_or_a_database_locked_is_unavailable_not_internal() {
        let stopping = query_error(unknown(
            "terminating connection due to administrator command",
        ));
        assert!(
            matches!(stopping, RepoError::Unavailable(_)),
            "{stopping:?}"
        );
        let starting = query_error(unknown("the database system is starting up"));
        assert!(
            matches!(starting, RepoError::Unavailable(_)),
            "{starting:?}"
        );
        let busy = query_error(unknown("database is locked"));
        assert!(matches!(busy, RepoError::Unavailable(_)), "{busy:?}");
        let other = query_error(unknown("division by zero"));
        assert!(matches!(other, RepoError::Internal(_)), "{other:?}");
    }
}
