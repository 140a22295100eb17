//! Errors in the ports' vocabulary. Adapters translate their own errors into these, so
//! no diesel, S3 or Argon2 type crosses into the domain.

use std::fmt;

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// An error with the errors that caused it, for a log line: `outer: inner: innermost`.
/// A port error's own message is deliberately plain ("storage failed"); what went wrong
/// is in its sources, which a log that prints only the message loses.
///
/// ```
/// use releasy_domain::ports::{ErrorChain, RepoError};
///
/// let err = RepoError::internal("row 7 is garbled");
/// assert_eq!(ErrorChain(&err).to_string(), "storage failed: row 7 is garbled");
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a repository can report besides success.
///
/// "Not found" is not an error here: lookups return `Ok(None)` and updates report
/// whether a row matched.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A unique constraint rejected the write (duplicate key, product and version, ...).
    #[error("a record with the same unique key already exists")]
    Conflict,
    /// The write refers to a record that does not exist (any more): a concurrent delete
    /// won the race.
    #[error("a referenced record does not exist")]
    MissingReference,
    /// The database could not be reached or did not answer in time.
    #[error("storage is unavailable")]
    Unavailable(#[source] Cause),
    /// Anything else: a bug or corrupt data. Logged, never shown to callers.
    #[error("storage failed")]
    Internal(#[source] Cause),
}

impl RepoError {
    /// Wraps an unexpected adapter error.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    /// Wraps a connection or timeout error.
    pub fn unavailable(cause: impl Into<Cause>) -> Self {
        Self::Unavailable(cause.into())
    }
}

/// The key hasher could not run (it never reports a wrong key as an error).
#[derive(Debug, thiserror::Error)]
#[error("key hashing failed")]
pub struct HashError(#[source] pub Cause);
