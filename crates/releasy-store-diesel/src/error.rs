//! Translation of diesel and pool errors into the ports' [`RepoError`].

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
        other => RepoError::internal(other),
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
